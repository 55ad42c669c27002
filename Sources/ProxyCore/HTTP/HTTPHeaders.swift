/// An ordered list of HTTP header fields. Names compare case-insensitively; order and
/// repeated fields are kept as they came.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init() { fields = [] }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public var count: Int { fields.count }

    /// The first value of the field `name`, or nil.
    public subscript(name: String) -> String? {
        for f in fields where HTTPHeaders.namesEqual(f.name, name) { return f.value }
        return nil
    }

    /// Every value of the field `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { HTTPHeaders.namesEqual($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Makes room for `count` fields in all.
    public mutating func reserveCapacity(_ count: Int) { fields.reserveCapacity(count) }

    /// Appends a field, keeping any earlier field of the same name.
    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    /// Replaces every field named `name` with one field holding `value`.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append((name: name, value: value))
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { HTTPHeaders.namesEqual($0.name, name) }
    }

    /// Whether `name` starts with the lower-case ASCII `prefix`, ignoring case.
    public static func hasPrefixIgnoringCase(_ name: String, _ prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        var k = 0
        for b in name.utf8 {
            if k == n { return true }
            let p = prefix.utf8Start[k]
            guard b == p || (b | 0x20 == p && p >= 0x61 && p <= 0x7A) else { return false }
            k += 1
        }
        return k == n
    }

    /// Case-insensitive ASCII comparison of two header names.
    public static func namesEqual(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        guard a.utf8.count == b.utf8.count else { return false }
        return a.withUTF8 { x in
            b.withUTF8 { y in
                for i in 0..<x.count where x[i] != y[i] {
                    let p = x[i] | 0x20
                    if p != y[i] | 0x20 || p < 0x61 || p > 0x7A { return false }
                }
                return true
            }
        }
    }
}

extension String {
    /// The string with ASCII letters lower-cased; other bytes unchanged.
    public var lowercasedASCII: String {
        if !utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return self }
        return String(decoding: utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
