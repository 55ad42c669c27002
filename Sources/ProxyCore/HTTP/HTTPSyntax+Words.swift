/// Byte-class checks that look at eight bytes at a time, for the parser's and the writer's
/// hot loops. Each gives exactly the answer of the byte-by-byte check it stands for (the tests
/// compare them on random bytes).
extension HTTPSyntax {
    /// `isToken` through a bitmap of the token bytes among 0–127 (two words, bit b − 64 of the
    /// second for b ≥ 64).
    @inline(__always)
    static func isTokenByte(_ b: UInt8) -> Bool {
        let word = b < 64 ? 0x03FF_6CFA_0000_0000 as UInt64 : (b < 128 ? 0x57FF_FFFF_C7FF_FFFE as UInt64 : 0)
        return (word >> UInt64(b & 63)) & 1 == 1
    }

    /// The index of the first byte at or after `from` that is CR, LF or another byte ≤ 0x0D,
    /// or `p.count` when there is none.
    @inline(__always)
    static func firstByteAtMostCR(_ p: UnsafeRawBufferPointer, from: Int) -> Int {
        var i = from
        let n = p.count
        while i + 8 <= n {
            let t = bytesBelow(p.loadUnaligned(fromByteOffset: i, as: UInt64.self), 0x0E)
            if t != 0 { return i + t.trailingZeroBitCount >> 3 }
            i += 8
        }
        while i < n && p[i] > cr { i += 1 }
        return i
    }

    /// Checks the bytes `lo..<hi` of `p` as a field value. Returns nil when one is not allowed
    /// (`isFieldValue`), else whether any is above 0x7F (then they must form UTF-8).
    @inline(__always)
    static func checkFieldValue(_ p: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> Bool? {
        var i = lo
        var high = false
        while i + 8 <= hi {
            let x = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let odd = bytesBelow(x, 0x20) | bytesBelow(x ^ 0x7F7F_7F7F_7F7F_7F7F, 1) | (x & 0x8080_8080_8080_8080)
            if odd != 0 {
                for k in i..<(i + 8) {
                    let b = p[k]
                    guard isFieldValue(b) else { return nil }
                    if b >= 0x80 { high = true }
                }
            }
            i += 8
        }
        while i < hi {
            let b = p[i]
            guard isFieldValue(b) else { return nil }
            if b >= 0x80 { high = true }
            i += 1
        }
        return high
    }
}
