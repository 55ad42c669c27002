/// An ordered list of HTTP header fields. Names compare case-insensitively; order and
/// repeated fields are kept as they came.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    /// One header field. A struct rather than a tuple: arrays of tuples are copied and destroyed
    /// through the runtime's generic tuple code, which costs several times more per field.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public private(set) var fields: [Field]

    public init() { fields = [] }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { Field(name: $0.0, value: $0.1) }
    }

    /// Iterates the fields as `(name, value)` pairs, in order.
    public struct Iterator: IteratorProtocol {
        var base: IndexingIterator<[Field]>
        public mutating func next() -> (name: String, value: String)? {
            guard let f = base.next() else { return nil }
            return (f.name, f.value)
        }
    }

    public func makeIterator() -> Iterator { Iterator(base: fields.makeIterator()) }

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
    public mutating func add(_ name: String, _ value: String) { fields.append(Field(name: name, value: value)) }

    /// Replaces every field named `name` with one field holding `value`.
    public mutating func set(_ name: String, _ value: String) {
        guard let i = fields.firstIndex(where: { HTTPHeaders.namesEqual($0.name, name) }) else {
            fields.append(Field(name: name, value: value))
            return
        }
        // Already so (one such field, with this value): leave the list, and its storage, alone.
        if fields[i].value == value, !fields[(i + 1)...].contains(where: { HTTPHeaders.namesEqual($0.name, name) }) {
            return
        }
        remove(name)
        fields.append(Field(name: name, value: value))
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        guard fields.contains(where: { HTTPHeaders.namesEqual($0.name, name) }) else { return }
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
