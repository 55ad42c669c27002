import ProxyCore
import Testing

@Suite("HTTPHeaders: an ordered field list with case-insensitive names")
struct HTTPHeadersTests {
    static func pairs(_ h: HTTPHeaders) -> [String] { h.map { "\($0.name): \($0.value)" } }

    @Test("set replaces every field of the name with one field at the end")
    func setReplaces() {
        var h = HTTPHeaders([("Content-Type", "text/plain"), ("X-A", "1"), ("content-type", "text/html")])
        h.set("Content-Type", "application/json")
        #expect(Self.pairs(h) == ["X-A: 1", "Content-Type: application/json"])
    }

    @Test("set to the value a single field already holds leaves the list as it is")
    func setSameValue() {
        var h = HTTPHeaders([("content-type", "application/json"), ("X-A", "1")])
        h.set("Content-Type", "application/json")
        #expect(Self.pairs(h) == ["content-type: application/json", "X-A: 1"])
    }

    @Test("set collapses repeated fields even when the first already holds the value")
    func setCollapsesRepeats() {
        var h = HTTPHeaders([("X-B", "v"), ("X-A", "1"), ("x-b", "w")])
        h.set("X-B", "v")
        #expect(Self.pairs(h) == ["X-A: 1", "X-B: v"])
        var g = HTTPHeaders([("X-B", "v"), ("x-b", "v")])
        g.set("X-B", "v")
        #expect(Self.pairs(g) == ["X-B: v"])
    }

    @Test("set adds a field the list lacks; a value differing only in case is a different value")
    func setAddsAndComparesValuesExactly() {
        var h = HTTPHeaders([("X-A", "1")])
        h.set("X-New", "2")
        h.set("x-a", "1")
        #expect(Self.pairs(h) == ["X-A: 1", "X-New: 2"])
        h.set("X-New", "TWO")
        h.set("X-New", "two")
        #expect(Self.pairs(h) == ["X-A: 1", "X-New: two"])
    }

    @Test("lookup, values, remove and iteration order")
    func lookupAndRemove() {
        var h = HTTPHeaders([("Accept", "a"), ("X-A", "1"), ("ACCEPT", "b")])
        #expect(h["accept"] == "a")
        #expect(h.values("Accept") == ["a", "b"])
        #expect(h.contains("x-a") && !h.contains("x-b"))
        h.remove("accept")
        #expect(Self.pairs(h) == ["X-A: 1"])
        h.remove("missing")
        #expect(h.count == 1)
        #expect(h == HTTPHeaders([("X-A", "1")]))
        #expect(h != HTTPHeaders([("x-a", "1")]))
    }
}
