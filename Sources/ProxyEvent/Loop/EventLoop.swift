import CLibevent
import Glibc
import Synchronization

/// One libevent event loop (`event_base`). Everything registered on a loop runs on the thread
/// that runs it; `execute` is the one entry point that is safe from other threads.
public final class EventLoop: @unchecked Sendable {
    /// The `event_base`.
    let base: OpaquePointer
    /// Work handed over by other threads, run on the loop's thread.
    private let queued = Mutex<[@Sendable () -> Void]>([])
    private var wakeEvent: OpaquePointer?

    /// Makes libevent thread-aware. Called once before any loop exists (needed for cross-thread
    /// wake-ups and for stopping loops from another thread).
    public static let threadingReady: Bool = {
        evthread_use_pthreads()
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    public init() {
        _ = EventLoop.threadingReady
        guard let cfg = event_config_new() else { fatalError("event_config_new failed") }
        defer { event_config_free(cfg) }
        // Coalesce epoll_ctl calls: an fd whose interest changes several times between two waits
        // (libcurl does this on every transfer) costs one syscall, not several.
        event_config_set_flag(cfg, Int32(EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST.rawValue))
        guard let b = event_base_new_with_config(cfg) else { fatalError("event_base_new failed") }
        base = b
        wakeEvent = event_new(base, -1, Int16(EV_PERSIST), { _, _, arg in
            Unmanaged<EventLoop>.fromOpaque(arg!).takeUnretainedValue().drainQueue()
        }, Unmanaged.passUnretained(self).toOpaque())
        // A persistent event with no fd and no timeout only fires when activated.
        event_add(wakeEvent, nil)
    }

    deinit {
        if let wakeEvent { event_del(wakeEvent); event_free(wakeEvent) }
        event_base_free(base)
    }

    /// Sends libevent's own messages (warnings it would print on stderr) to `handler` instead,
    /// with libevent's severity (0 debug, 1 message, 2 warning, 3 error). Process-wide.
    public static func routeLibraryMessages(_ handler: @escaping @Sendable (Int32, String) -> Void) {
        libraryMessageHandler.withLock { $0 = handler }
        event_set_log_callback { severity, message in
            guard let message else { return }
            let text = String(cString: message)
            EventLoop.libraryMessageHandler.withLock { $0 }?(severity, text)
        }
    }

    private static let libraryMessageHandler = Mutex<(@Sendable (Int32, String) -> Void)?>(nil)

    /// Runs the loop on the calling thread until `stop()` or until nothing is registered.
    public func run() {
        event_base_dispatch(base)
    }

    /// Runs `work` on the loop's thread (thread-safe).
    public func execute(_ work: @escaping @Sendable () -> Void) {
        let first = queued.withLock { q in
            q.append(work)
            return q.count == 1
        }
        if first { event_active(wakeEvent, Int32(EV_TIMEOUT), 0) }
    }

    private func drainQueue() {
        let work = queued.withLock { q in
            defer { q.removeAll() }
            return q
        }
        for w in work { w() }
    }

    /// Stops the loop (thread-safe).
    public func stop() {
        event_base_loopbreak(base)
    }

    /// Wall-clock seconds as of the loop's last wake-up (libevent keeps them from its monotonic
    /// clock, corrected to the wall clock every few seconds): cheap to call per event. Durations
    /// that must not jump with the wall clock use `monotonicNow()`.
    public var now: Double {
        var tv = timeval()
        event_base_gettimeofday_cached(base, &tv)
        return Double(tv.tv_sec) + Double(tv.tv_usec) / 1_000_000
    }
}

/// A one-shot or repeating timer on a loop. Not Sendable: it belongs to its loop.
public final class LoopTimer {
    private var event: OpaquePointer?
    private let action: () -> Void
    /// Kept so that the loop's `event_base` outlives this timer's event: an owner that holds
    /// the loop and a timer may release the loop first, and freeing an event on a freed base
    /// locks freed memory (a hang seen at teardown).
    private let loop: EventLoop

    /// Creates a stopped timer that calls `action` on `loop`'s thread.
    public init(loop: EventLoop, repeating: Bool = false, _ action: @escaping () -> Void) {
        self.action = action
        self.loop = loop
        event = event_new(loop.base, -1, Int16(repeating ? EV_PERSIST : 0), { _, _, arg in
            Unmanaged<LoopTimer>.fromOpaque(arg!).takeUnretainedValue().fire()
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        if let event { event_del(event); event_free(event) }
    }

    private func fire() { action() }

    /// (Re)arms the timer to fire after `seconds`.
    public func schedule(after seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        event_add(event, &tv)
    }

    /// Disarms the timer.
    public func cancel() {
        event_del(event)
    }
}

/// Runs `action` when the process receives `signal`, on `loop`'s thread.
public final class SignalWatcher {
    private var event: OpaquePointer?
    private let action: () -> Void
    /// Kept so that the loop's `event_base` outlives this watcher's event (see `LoopTimer`).
    private let loop: EventLoop

    public init(loop: EventLoop, signal: Int32, _ action: @escaping () -> Void) {
        self.action = action
        self.loop = loop
        event = event_new(loop.base, signal, Int16(EV_SIGNAL | EV_PERSIST), { _, _, arg in
            Unmanaged<SignalWatcher>.fromOpaque(arg!).takeUnretainedValue().action()
        }, Unmanaged.passUnretained(self).toOpaque())
        event_add(event, nil)
    }

    deinit {
        if let event { event_del(event); event_free(event) }
    }
}
