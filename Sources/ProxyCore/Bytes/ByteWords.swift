/// Writes `value` in lower-case hex at the start of `buffer` (room for 16 digits), with at
/// least `minimumWidth` digits (zeros in front), and returns how many it wrote.
public func writeHex(_ value: UInt64, minimumWidth: Int = 1, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
    var digits = 1
    var rest: UInt64 = value >> 4
    while rest != 0 {
        digits += 1
        rest >>= 4
    }
    digits = max(digits, minimumWidth)
    var v: UInt64 = value
    var k: Int = digits - 1
    while k >= 0 {
        let nibble = UInt8(truncatingIfNeeded: v & 0xF)
        buffer[k] = nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble
        v >>= 4
        k -= 1
    }
    return digits
}

/// The value of an ASCII hex digit (either case), or nil for any other byte.
@inline(__always)
func hexDigitValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b &- 0x30
    case 0x41...0x46: return b &- 0x37
    case 0x61...0x66: return b &- 0x57
    default: return nil
    }
}

/// Eight bytes at a time: a word with the high bit set in every byte of `x` below `n`
/// (n ≤ 128), zero when there is none. The lowest flagged byte is always a true one (borrows
/// only run upwards), so its index is `trailingZeroBitCount / 8`.
@inline(__always)
func bytesBelow(_ x: UInt64, _ n: UInt8) -> UInt64 {
    (x &- 0x0101_0101_0101_0101 &* UInt64(n)) & ~x & 0x8080_8080_8080_8080
}

/// Whether `count` bytes at `a` and `b` are equal, compared eight at a time.
@inline(__always)
func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var k = 0
    while k + 8 <= count {
        if a.loadUnaligned(fromByteOffset: k, as: UInt64.self) != b.loadUnaligned(fromByteOffset: k, as: UInt64.self) { return false }
        k += 8
    }
    while k < count {
        if a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) { return false }
        k += 1
    }
    return true
}
