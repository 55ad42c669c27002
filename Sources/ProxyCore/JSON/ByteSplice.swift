/// Replaces byte ranges of a text in one pass, keeping every other byte: how proxyd edits a JSON
/// body without re-encoding it.
enum ByteSplice {
    /// Appends `source` to `out` with each range replaced by its bytes. Ranges must not overlap.
    static func append<Replacement: Collection<UInt8>>(_ source: UnsafeRawBufferPointer, edits: [(Range<Int>, Replacement)],
                                                       into out: inout [UInt8]) {
        let sorted = edits.count < 2 ? edits : edits.sorted { $0.0.lowerBound < $1.0.lowerBound }
        var cursor = 0
        for (range, replacement) in sorted {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[cursor..<range.lowerBound]))
            out.append(contentsOf: replacement)
            cursor = range.upperBound
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[cursor...]))
    }

    /// `source` with each range replaced by its bytes.
    static func apply(_ edits: [(Range<Int>, [UInt8])], to source: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(source.count + edits.reduce(0) { $0 + $1.1.count })
        append(source, edits: edits, into: &out)
        return out
    }
}
