// What both libFuzzer targets share, compiled into each of them by scripts/fuzz.sh: how the
// first byte of an input says where to cut the rest, and how bytes are shown in a report.

/// How an input's first byte cuts the bytes under test into pieces:
///   bits 0-3  how many cut bytes follow (0...15)
///   bit 4     also feed the bytes one per call
///   bits 5-7  s; each cut byte counts in steps of 2^s bytes (1...128)
struct CutLayout {
    let cuts: Int
    let byteByByte: Bool
    let step: Int

    init(_ control: UInt8) {
        cuts = Int(control & 0x0F)
        byteByByte = control & 0x10 != 0
        step = 1 << Int(control >> 5)
    }

    /// The pieces of `count` bytes cut at `gaps` (each times `step`; a gap of 0 makes an empty
    /// piece), the rest in the last piece.
    func pieces(count: Int, gaps: UnsafeRawBufferPointer) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var at = 0
        for gap in gaps {
            let next = min(count, at + Int(gap) * step)
            pieces.append(at..<next)
            at = next
        }
        pieces.append(at..<count)
        return pieces
    }
}

/// `bytes` as readable text: printable ASCII as is, `\r` `\n` `\t` `\\`, any other byte `\xNN`.
func escaped(_ bytes: some Sequence<UInt8>) -> String {
    var text = ""
    for b in bytes {
        switch b {
        case 0x0A: text += "\\n"
        case 0x0D: text += "\\r"
        case 0x09: text += "\\t"
        case 0x5C: text += "\\\\"
        case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex = String(b, radix: 16)
            text += hex.count == 1 ? "\\x0" + hex : "\\x" + hex
        }
    }
    return text
}
