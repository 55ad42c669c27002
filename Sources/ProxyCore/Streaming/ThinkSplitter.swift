/// Separates `<think>` reasoning from the answer in one choice's content, fed in pieces.
/// Only a possible partial tag is ever held back; everything else is released as
/// soon as it is known to be reasoning or answer. Works on UTF-8 bytes: tags are ASCII, so a
/// multi-byte character is never mistaken for part of one.
public struct ThinkSplitter: Sendable {
    /// Text released by one call.
    public struct Output: Sendable, Equatable {
        public var reasoning: [UInt8] = []
        public var content: [UInt8] = []
        public init() {}
        public var isEmpty: Bool { reasoning.isEmpty && content.isEmpty }
    }

    enum State: Sendable {
        /// Before anything but whitespace: an opening tag may be forming.
        case leading
        /// Inside a reasoning block.
        case reasoning
        /// Just after the closing tag: whitespace is dropped.
        case afterClose
        /// The answer: passed through untouched.
        case content
    }

    let openTags: [[UInt8]]
    let closeTags: [[UInt8]]
    let assumeOpen: Bool
    var state = State.leading
    /// Held back: leading whitespace and a partial opening tag, or a partial closing tag.
    var pending: [UInt8] = []
    /// Closing tags that end the current block.
    var closers: [[UInt8]] = []
    /// Whether whitespace at the start of the block is still being dropped.
    var droppingWhitespace = false

    public init(tags: [String], assumeOpen: Bool) {
        openTags = tags.map { Array("<\($0)>".utf8) }
        closeTags = tags.map { Array("</\($0)>".utf8) }
        self.assumeOpen = assumeOpen
    }

    /// Inside a reasoning block with nothing held back, and no leading whitespace to drop before
    /// text starting with `firstByte`: text without a `<` is then all reasoning, as it is.
    func isInsideBlockHoldingNothing(firstByte: UInt8) -> Bool {
        state == .reasoning && pending.isEmpty && (!droppingWhitespace || !ThinkSplitter.isSpace(firstByte))
    }

    /// The most leading whitespace held while waiting to see whether an opening tag follows;
    /// past it the content is taken not to start with one (a stream of endless whitespace must
    /// not grow memory).
    static let maxLeadingWhitespace = 4096

    /// Whether the block has closed (or never opened): the rest is answer, untouched.
    public var isPassingThrough: Bool { state == .content }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// Feeds the next piece of content.
    public mutating func feed(_ text: some Collection<UInt8>, into out: inout Output) {
        switch state {
        case .content:
            out.content.append(contentsOf: text)
        case .leading:
            // The usual start, an opening tag whole in this piece (after optional whitespace),
            // decided at once instead of byte by byte.
            if pending.isEmpty, let (tag, end) = leadingOpenTag(text) {
                enterBlock(openedBy: tag)
                if end != text.endIndex { feed(text[end...], into: &out) }
                return
            }
            var index = text.startIndex
            while index != text.endIndex, state == .leading {
                pending.append(text[index])
                index = text.index(after: index)
                resolveLeading(into: &out)
            }
            if index != text.endIndex { feed(text[index...], into: &out) }
        case .reasoning:
            feedReasoning(text, into: &out)
        case .afterClose:
            guard let first = text.firstIndex(where: { !ThinkSplitter.isSpace($0) }) else { return }
            state = .content
            out.content.append(contentsOf: text[first...])
        }
    }

    /// The opening tag `openTags[tag]` was read: reasoning follows, its leading whitespace dropped.
    mutating func enterBlock(openedBy tag: Int) {
        state = .reasoning
        closers = assumeOpen ? closeTags : [closeTags[tag]]
        droppingWhitespace = true
    }

    /// Which opening tag `text` starts with after its leading whitespace, and where it ends.
    func leadingOpenTag<C: Collection<UInt8>>(_ text: C) -> (Int, C.Index)? {
        guard let start = text.firstIndex(where: { !ThinkSplitter.isSpace($0) }) else { return nil }
        for (k, tag) in openTags.enumerated() {
            var i = start
            var matched = true
            for b in tag {
                guard i != text.endIndex, text[i] == b else { matched = false; break }
                i = text.index(after: i)
            }
            if matched { return (k, i) }
        }
        return nil
    }

    /// Decides what the held leading bytes are, once they can no longer be a partial tag.
    mutating func resolveLeading(into out: inout Output) {
        let start = pending.firstIndex { !ThinkSplitter.isSpace($0) } ?? pending.endIndex
        let trimmed = pending[start...]
        if trimmed.isEmpty {
            // Whitespace only so far: held while a tag may follow, but not without bound.
            guard pending.count > ThinkSplitter.maxLeadingWhitespace else { return }
            if assumeOpen {
                // Reasoning from the start, its leading whitespace dropped (as it would be).
                pending.removeAll()
                state = .reasoning
                closers = closeTags
                droppingWhitespace = true
            } else {
                // No tag can count this late: the content is answer, as written.
                state = .content
                out.content.append(contentsOf: pending)
                pending.removeAll()
            }
            return
        }
        if let i = openTags.firstIndex(where: { $0.elementsEqual(trimmed) }) {
            pending.removeAll()
            enterBlock(openedBy: i)
            return
        }
        if openTags.contains(where: { $0.starts(with: trimmed) }) { return }
        let held = pending
        pending.removeAll()
        if assumeOpen {
            // No explicit tag: the content was reasoning from the start (leading whitespace dropped).
            state = .reasoning
            closers = closeTags
            droppingWhitespace = false
            feedReasoning(held[start...], into: &out)
        } else {
            // Not a reasoning block: everything held, whitespace included, is answer as written.
            state = .content
            out.content.append(contentsOf: held)
        }
    }

    mutating func feedReasoning(_ input: some Collection<UInt8>, into out: inout Output) {
        var text = input[...]
        if droppingWhitespace {
            while let f = text.first, ThinkSplitter.isSpace(f) { text = text.dropFirst() }
            if text.isEmpty { return }
            droppingWhitespace = false
        }
        // The common case: nothing held and no '<' in the text, so no tag can end here.
        if pending.isEmpty && !text.contains(UInt8(ascii: "<")) {
            out.reasoning.append(contentsOf: text)
            return
        }
        var buffer = pending
        pending.removeAll()
        if buffer.isEmpty { buffer = Array(text) } else { buffer.append(contentsOf: text) }
        // A closing tag completed?
        var i = 0
        while i < buffer.count {
            if buffer[i] == UInt8(ascii: "<") {
                for closer in closers where buffer.count - i >= closer.count && buffer[i..<(i + closer.count)].elementsEqual(closer) {
                    out.reasoning.append(contentsOf: buffer[..<i])
                    state = .afterClose
                    let after = buffer[(i + closer.count)...]
                    if !after.isEmpty { feed(after, into: &out) }
                    return
                }
                // A partial closing tag at the end is held back.
                let tail = buffer[i...]
                if closers.contains(where: { $0.count > tail.count && $0.starts(with: tail) }) {
                    out.reasoning.append(contentsOf: buffer[..<i])
                    pending = Array(tail)
                    return
                }
            }
            i += 1
        }
        out.reasoning.append(contentsOf: buffer)
    }

    /// Ends the content: a partial opening tag (or leading whitespace) is released as answer,
    /// an unterminated block — with any partial closing tag — as reasoning.
    public mutating func finish(into out: inout Output) {
        switch state {
        case .leading:
            if assumeOpen {
                let start = pending.firstIndex { !ThinkSplitter.isSpace($0) } ?? pending.endIndex
                out.reasoning.append(contentsOf: pending[start...])
            } else {
                out.content.append(contentsOf: pending)
            }
        case .reasoning:
            out.reasoning.append(contentsOf: pending)
        case .afterClose, .content:
            break
        }
        pending.removeAll()
        state = .content
    }
}
