/// The actions an `ExchangeMachine` has queued, first in first out. An input queues a handful
/// at most, so the first eight live inline (no allocation per exchange); more spill into an
/// array.
struct ActionQueue {
    private static let inline = 8
    private var slots: (ExchangeAction, ExchangeAction, ExchangeAction, ExchangeAction,
                        ExchangeAction, ExchangeAction, ExchangeAction, ExchangeAction) =
        (.finish, .finish, .finish, .finish, .finish, .finish, .finish, .finish)
    private var spilled: [ExchangeAction] = []
    private var count = 0
    private var next = 0

    mutating func append(_ action: ExchangeAction) {
        if count < Self.inline {
            withUnsafeMutableBytes(of: &slots) { $0.bindMemory(to: ExchangeAction.self)[count] = action }
        } else {
            spilled.append(action)
        }
        count += 1
    }

    /// The oldest action not taken yet; nil (and the queue empty again) when there is none.
    mutating func pop() -> ExchangeAction? {
        guard next < count else {
            if count > Self.inline { spilled.removeAll(keepingCapacity: true) }
            count = 0
            next = 0
            return nil
        }
        let i = next
        next += 1
        if i < Self.inline { return withUnsafeBytes(of: &slots) { $0.bindMemory(to: ExchangeAction.self)[i] } }
        return spilled[i - Self.inline]
    }
}
