import ProxyCore
import ProxyEvent

// Raw byte-script mode: `x-fake-raw` names the exact body bytes (as repeated pieces of text), and
// the other `x-fake-raw-*` headers choose status, type, framing, how the body ends and an optional
// gzip / zlib wrapping. The body is made as the client reads it, never held whole, so a script can
// ask for gigabytes.

extension FakeUpstream {
    /// Answers with the raw script in `script`, whatever the request's path.
    func rawAnswer(_ exchange: ServerExchange, script: Script) {
        let plan: RawPlan
        do {
            plan = try RawPlan(script)
        } catch {
            done()
            exchange.respond(.json(400, .object([("error", .object([
                ("message", .string("bad raw script: \(error.message)")), ("type", .string("fake_error")), ("code", .string("bad_raw_script")),
            ]))])))
            return
        }
        RawResponder(fake: self, exchange: exchange, plan: plan).start()
    }
}

/// A raw script read from the request's headers and checked.
struct RawPlan {
    struct Failure: Error { let message: String }

    var body: RawBody
    var status = 200
    var contentType = "text/event-stream"
    var announceLength = false
    var reset = false
    var format: StoredDeflate.Format?

    init(_ script: Script) throws(Failure) {
        guard let source = script.raw else { throw Failure(message: "no x-fake-raw") }
        let parsed: JSONValue
        do { parsed = try JSONValue.parse(source) } catch { throw Failure(message: "x-fake-raw is not JSON") }
        guard let list = parsed.arrayValue else { throw Failure(message: "x-fake-raw must be an array of pieces") }
        var pieces: [RawBody.Piece] = []
        for (i, item) in list.enumerated() {
            guard let parts = item.arrayValue, parts.count == 1 || parts.count == 2, let text = parts[0].stringValue else {
                throw Failure(message: "piece \(i) must be [\"text\"] or [\"text\", repeat]")
            }
            var count = 1
            if parts.count == 2 {
                guard let n = parts[1].intValue, n >= 1 else { throw Failure(message: "piece \(i): repeat must be an integer ≥ 1") }
                count = n
            }
            let bytes = Array(text.utf8)
            if bytes.isEmpty { continue }
            pieces.append(RawBody.Piece(text: bytes, count: count))
        }
        guard let body = RawBody(pieces) else { throw Failure(message: "x-fake-raw is too long") }
        self.body = body
        if let v = script.rawStatus {
            guard let s = Int(v), (100...999).contains(s) else { throw Failure(message: "x-fake-raw-status must be a status code") }
            status = s
        }
        if let v = script.rawType { contentType = v }
        announceLength = script.rawLength
        switch script.rawEnd?.lowercased() {
        case nil, "clean": reset = false
        case "reset": reset = true
        default: throw Failure(message: "x-fake-raw-end must be clean or reset")
        }
        switch script.rawEncoding?.lowercased() {
        case nil, "", "identity": format = nil
        case "gzip": format = .gzip
        case "deflate": format = .zlib
        default: throw Failure(message: "x-fake-raw-encoding must be gzip or deflate")
        }
    }
}

/// Sends one raw answer as fast as the client takes it.
final class RawResponder {
    /// The most body bytes handed to the connection in one send.
    static let sendLimit = 64 * 1024
    /// Generating pauses while this many bytes wait in the connection's queue.
    static let queueLimit = 1 << 20

    private let fake: FakeUpstream
    private let exchange: ServerExchange
    private let plan: RawPlan
    private var body: RawBody
    private var encoder: StoredDeflate.Encoder?
    /// One send's worth of bytes: for an encoded body, the block header then the block's data.
    private var scratch = [UInt8](repeating: 0, count: RawResponder.sendLimit)
    private var counted = false

    init(fake: FakeUpstream, exchange: ServerExchange, plan: RawPlan) {
        self.fake = fake
        self.exchange = exchange
        self.plan = plan
        body = plan.body
        // A block header plus its data fills exactly one send.
        encoder = plan.format.map { StoredDeflate.Encoder($0, blockSize: RawResponder.sendLimit - StoredDeflate.blockHeaderSize) }
    }

    func start() {
        var headers = HTTPHeaders()
        if !plan.contentType.isEmpty { headers.add("Content-Type", plan.contentType) }
        if let format = plan.format { headers.add("Content-Encoding", format.contentCoding) }
        if plan.announceLength {
            let length = encoder.map { StoredDeflate.encodedLength(bodyBytes: body.total, format: $0.format, blockSize: $0.blockSize) }
                ?? body.total
            headers.add("Content-Length", String(length))
        }
        // The exchange forgets its observer when it ends, which lets go of this responder.
        let callbacks = exchange.callbacks
        let previousGone = callbacks.gone
        callbacks.gone = { [self] in
            previousGone?()
            count()
        }
        callbacks.drained = { [self] in pump() }
        exchange.startStream(status: plan.status, headers: headers)
        let bodyless = exchange.head.forbidsResponseBody || plan.status < 200 || plan.status == 204 || plan.status == 304
        if bodyless {
            end()
            return
        }
        if let encoder { exchange.send(encoder.header) }
        pump()
    }

    /// Sends more of the body while the connection's queue is short; ends the answer after the last byte.
    private func pump() {
        while !exchange.isEnded && exchange.pendingOutputBytes < RawResponder.queueLimit {
            if body.remaining == 0 {
                if let encoder { exchange.send(encoder.trailer()) }
                end()
                return
            }
            scratch.withUnsafeMutableBytes { buffer in
                if encoder != nil {
                    let room = UnsafeMutableRawBufferPointer(rebasing: buffer[StoredDeflate.blockHeaderSize...])
                    let n = body.fill(UnsafeMutableRawBufferPointer(rebasing: room[..<encoder!.blockSize]))
                    let data = UnsafeRawBufferPointer(rebasing: room[..<n])
                    encoder!.absorb(data)
                    StoredDeflate.writeBlockHeader(length: n, final: false, into: buffer)
                    exchange.send(UnsafeRawBufferPointer(rebasing: buffer[..<(StoredDeflate.blockHeaderSize + n)]))
                } else {
                    let n = body.fill(buffer)
                    exchange.send(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                }
            }
        }
        if exchange.isEnded { count() }
    }

    private func end() {
        count()
        if plan.reset { exchange.abortStream() } else { exchange.finishStream() }
    }

    /// Counts the answer once, whether it ended or the client left.
    private func count() {
        guard !counted else { return }
        counted = true
        fake.done()
    }
}

/// The plain bytes of a raw script, produced on demand in order.
struct RawBody {
    /// `text` repeated `count` times.
    struct Piece {
        var text: [UInt8]
        var count: Int
    }

    let pieces: [Piece]
    /// The body's length.
    let total: Int
    /// Bytes not produced yet.
    private(set) var remaining: Int
    /// The piece being produced, and how many of its bytes are out.
    private var index = 0
    private var offset = 0
    /// The current piece's text repeated enough that any one fill, from any position within the
    /// text, is a single copy out of it (or the whole piece, when that is shorter).
    private var tile: [UInt8] = []

    /// The most bytes one `fill` is asked for; longer fills just take more copies.
    static let tileReach = 64 * 1024

    /// Nil when the total length does not fit in an `Int`.
    init?(_ pieces: [Piece]) {
        var total = 0
        for p in pieces {
            let (bytes, o1) = p.text.count.multipliedReportingOverflow(by: p.count)
            let (sum, o2) = total.addingReportingOverflow(bytes)
            if o1 || o2 { return nil }
            total = sum
        }
        self.pieces = pieces
        self.total = total
        remaining = total
        if !pieces.isEmpty { makeTile() }
    }

    private mutating func makeTile() {
        let p = pieces[index]
        let length = p.text.count
        let copies = min(p.count, (RawBody.tileReach + length - 1) / length + 1)
        let target = copies * length
        tile.removeAll(keepingCapacity: true)
        tile.reserveCapacity(target)
        tile.append(contentsOf: p.text)
        // Doubling: every step appends a whole number of copies of the text.
        while tile.count < target { tile.append(contentsOf: tile[0..<min(tile.count, target - tile.count)]) }
    }

    /// Writes the next bytes of the body into `out`; returns how many (0 only at the end).
    mutating func fill(_ out: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        while written < out.count && remaining > 0 {
            let p = pieces[index]
            let pieceBytes = p.text.count * p.count
            let start = offset % p.text.count
            let n = min(out.count - written, pieceBytes - offset, tile.count - start)
            tile.withUnsafeBytes { src in
                (out.baseAddress! + written).copyMemory(from: src.baseAddress! + start, byteCount: n)
            }
            written += n
            offset += n
            remaining -= n
            if offset == pieceBytes && index + 1 < pieces.count {
                index += 1
                offset = 0
                makeTile()
            }
        }
        return written
    }
}

/// Deflate "stored" blocks (RFC 1951 §3.2.4) wrapped as gzip (RFC 1952) or zlib (RFC 1950): a
/// valid compressed-format stream that compresses nothing, made without a compression library.
///
/// A stored block is a 3-bit block header — BFINAL (1 on the stream's last block) and BTYPE=00 —
/// padded to a byte boundary, so with byte-aligned blocks it is one byte (0x00, or 0x01 when
/// final); then LEN, the data's length (at most 65535), and NLEN, its ones' complement, both
/// 16-bit little-endian; then LEN bytes copied as they are. This stream ends with an empty final
/// block (01 00 00 FF FF). gzip puts a 10-byte header before the blocks and the CRC-32 and length
/// (mod 2^32) of the data after them, little-endian; zlib puts 0x78 0x01 before and the data's
/// Adler-32 after, big-endian.
public enum StoredDeflate {
    /// The wrapping around the deflate blocks.
    public enum Format: Sendable {
        /// RFC 1952, `Content-Encoding: gzip`.
        case gzip
        /// RFC 1950 (what HTTP calls `Content-Encoding: deflate`).
        case zlib

        /// The `Content-Encoding` value.
        public var contentCoding: String { self == .gzip ? "gzip" : "deflate" }

        /// The bytes before the first block.
        public var header: [UInt8] {
            switch self {
            // Magic, CM=8 (deflate), no flags, MTIME 0, XFL 0, OS 255 (unknown).
            case .gzip: return [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF]
            // CMF: deflate with a 32K window; FLG: no dictionary, level 0, check bits making
            // 0x7801 a multiple of 31.
            case .zlib: return [0x78, 0x01]
            }
        }

        /// The length of the bytes after the last block.
        public var trailerSize: Int { self == .gzip ? 8 : 4 }
    }

    /// The most data a stored block holds (LEN is 16 bits).
    public static let maxBlockSize = 65535
    /// A stored block's header: the BFINAL/BTYPE byte, LEN and NLEN.
    public static let blockHeaderSize = 5

    /// Writes the header of a stored block of `length` bytes into the first 5 bytes of `out`.
    public static func writeBlockHeader(length: Int, final: Bool, into out: UnsafeMutableRawBufferPointer) {
        precondition(length >= 0 && length <= maxBlockSize && out.count >= blockHeaderSize)
        let len = UInt16(length), nlen = ~len
        out[0] = final ? 0x01 : 0x00
        out[1] = UInt8(len & 0xFF)
        out[2] = UInt8(len >> 8)
        out[3] = UInt8(nlen & 0xFF)
        out[4] = UInt8(nlen >> 8)
    }

    /// The header of a stored block of `length` bytes.
    public static func blockHeader(length: Int, final: Bool) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: blockHeaderSize)
        out.withUnsafeMutableBytes { writeBlockHeader(length: length, final: final, into: $0) }
        return out
    }

    /// The encoded length of a body of `bodyBytes` bytes cut into blocks of `blockSize` bytes.
    public static func encodedLength(bodyBytes: Int, format: Format, blockSize: Int = maxBlockSize) -> Int {
        let blocks = (bodyBytes + blockSize - 1) / blockSize
        return format.header.count + bodyBytes + blocks * blockHeaderSize + blockHeaderSize + format.trailerSize
    }

    /// `bytes` encoded whole (for tests; the fake streams with `Encoder`).
    public static func encode(_ bytes: [UInt8], format: Format, blockSize: Int = maxBlockSize) -> [UInt8] {
        var encoder = Encoder(format, blockSize: blockSize)
        var out = encoder.header
        out.reserveCapacity(encodedLength(bodyBytes: bytes.count, format: format, blockSize: blockSize))
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + blockSize)
            out += encoder.block(bytes[start..<end])
            start = end
        }
        out += encoder.trailer()
        return out
    }

    /// Encodes a body as it comes: `header`, then each block's header and data (`absorb` the
    /// data so the checksum follows it), then `trailer()`.
    public struct Encoder: Sendable {
        public let format: Format
        /// The data per block (the last one may hold less).
        public let blockSize: Int
        public private(set) var crc = CRC32()
        public private(set) var adler = Adler32()
        /// Data bytes absorbed so far.
        public private(set) var count = 0

        public init(_ format: Format, blockSize: Int = StoredDeflate.maxBlockSize) {
            precondition(blockSize >= 1 && blockSize <= StoredDeflate.maxBlockSize)
            self.format = format
            self.blockSize = blockSize
        }

        public var header: [UInt8] { format.header }

        /// Takes `data` into the checksum (the block's data, sent by the caller after its header).
        public mutating func absorb(_ data: UnsafeRawBufferPointer) {
            count += data.count
            switch format {
            case .gzip: crc.update(data)
            case .zlib: adler.update(data)
            }
        }

        /// A whole non-final block holding `data` (at most `blockSize` bytes).
        public mutating func block<C: Collection>(_ data: C) -> [UInt8] where C.Element == UInt8 {
            let bytes = Array(data)
            precondition(bytes.count <= blockSize)
            bytes.withUnsafeBytes { absorb($0) }
            return StoredDeflate.blockHeader(length: bytes.count, final: false) + bytes
        }

        /// The empty final block and the format's trailer.
        public func trailer() -> [UInt8] {
            var out = StoredDeflate.blockHeader(length: 0, final: true)
            switch format {
            case .gzip:
                let c = crc.value, size = UInt32(truncatingIfNeeded: count)
                for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: c >> UInt32(shift))) }
                for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: size >> UInt32(shift))) }
            case .zlib:
                let a = adler.value
                for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: a >> UInt32(shift))) }
            }
            return out
        }
    }

    /// CRC-32 as gzip (and zip, PNG, Ethernet) use it: the reflected polynomial 0xEDB88320,
    /// starting from all ones and inverted at the end. Kept incrementally; `value` is the CRC of
    /// everything so far.
    public struct CRC32: Sendable {
        private var state: UInt32 = 0xFFFF_FFFF

        public init() {}

        public var value: UInt32 { ~state }

        /// Eight tables of 256 entries: table 0 is the usual byte-at-a-time table; table k gives
        /// the effect of a byte followed by k zero bytes, so eight bytes fold in per step.
        static let tables: [UInt32] = {
            var t = [UInt32](repeating: 0, count: 8 * 256)
            for i in 0..<256 {
                var c = UInt32(i)
                for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
                t[i] = c
            }
            for k in 1..<8 {
                for i in 0..<256 {
                    let prev = t[(k - 1) * 256 + i]
                    t[k * 256 + i] = (prev >> 8) ^ t[Int(prev & 0xFF)]
                }
            }
            return t
        }()

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            guard var p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            var n = bytes.count
            var c = state
            CRC32.tables.withUnsafeBufferPointer { tb in
                let t = tb.baseAddress!
                while n >= 8 {
                    let lo = c ^ (UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24)
                    c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                        ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                        ^ t[3 * 256 + Int(p[4])] ^ t[2 * 256 + Int(p[5])]
                        ^ t[1 * 256 + Int(p[6])] ^ t[Int(p[7])]
                    p += 8
                    n -= 8
                }
                while n > 0 {
                    c = (c >> 8) ^ t[Int((c ^ UInt32(p[0])) & 0xFF)]
                    p += 1
                    n -= 1
                }
            }
            state = c
        }

        public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

        /// The CRC-32 of `bytes`.
        public static func of(_ bytes: [UInt8]) -> UInt32 {
            var c = CRC32()
            c.update(bytes)
            return c.value
        }
    }

    /// Adler-32 as zlib uses it: two sums mod 65521, `a` of the bytes plus one, `b` of the
    /// successive values of `a`; the value is b << 16 | a. Kept incrementally.
    public struct Adler32: Sendable {
        private var a: UInt32 = 1
        private var b: UInt32 = 0

        public init() {}

        public var value: UInt32 { b << 16 | a }

        public mutating func update(_ bytes: UnsafeRawBufferPointer) {
            guard var p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            var n = bytes.count
            // 5552 is the most bytes that can be summed before b could pass 2^32 (zlib's NMAX),
            // so the modulo is taken once per run instead of per byte.
            while n > 0 {
                let run = min(n, 5552)
                var i = 0
                // Eight bytes per turn: fewer loop steps (it matters in debug builds).
                while i + 8 <= run {
                    a &+= UInt32(p[i]); b &+= a
                    a &+= UInt32(p[i + 1]); b &+= a
                    a &+= UInt32(p[i + 2]); b &+= a
                    a &+= UInt32(p[i + 3]); b &+= a
                    a &+= UInt32(p[i + 4]); b &+= a
                    a &+= UInt32(p[i + 5]); b &+= a
                    a &+= UInt32(p[i + 6]); b &+= a
                    a &+= UInt32(p[i + 7]); b &+= a
                    i += 8
                }
                while i < run {
                    a &+= UInt32(p[i]); b &+= a
                    i += 1
                }
                a %= 65521
                b %= 65521
                p += run
                n -= run
            }
        }

        public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

        /// The Adler-32 of `bytes`.
        public static func of(_ bytes: [UInt8]) -> UInt32 {
            var c = Adler32()
            c.update(bytes)
            return c.value
        }
    }
}
