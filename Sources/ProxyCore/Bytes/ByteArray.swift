extension Array where Element == UInt8 {
    /// Appends raw bytes with one copy (a raw buffer or a slice of one would be appended a byte
    /// at a time).
    @inlinable @inline(__always)
    public mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }
}
