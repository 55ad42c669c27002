/// Replaces byte ranges of a text in one pass, keeping every other byte: how proxyd edits a JSON
/// body without re-encoding it.
enum ByteSplice {
    /// Appends `source` to `out` with each source range replaced by its range of `replacements`.
    /// Source ranges must not overlap; edits need not be in order.
    static func append(_ source: UnsafeRawBufferPointer, edits: [(Range<Int>, Range<Int>)], replacements: [UInt8],
                       into out: inout [UInt8]) {
        var cursor = 0
        func put(_ edit: (Range<Int>, Range<Int>)) {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[cursor..<edit.0.lowerBound]))
            out.append(contentsOf: replacements[edit.1])
            cursor = edit.0.upperBound
        }
        if edits.count < 2 {
            for edit in edits { put(edit) }
        } else {
            for edit in edits.sorted(by: { $0.0.lowerBound < $1.0.lowerBound }) { put(edit) }
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: source[cursor...]))
    }

    /// `source` with each range replaced by its bytes.
    static func apply(_ edits: [(Range<Int>, [UInt8])], to source: UnsafeRawBufferPointer) -> [UInt8] {
        var replacements: [UInt8] = []
        var ranges: [(Range<Int>, Range<Int>)] = []
        for (range, bytes) in edits {
            ranges.append((range, replacements.count..<(replacements.count + bytes.count)))
            replacements += bytes
        }
        var out: [UInt8] = []
        out.reserveCapacity(source.count + replacements.count)
        append(source, edits: ranges, replacements: replacements, into: &out)
        return out
    }
}
