import Glibc

/// Starts `body` on a new POSIX thread with a large enough stack.
final class WorkerThread: @unchecked Sendable {
    private let body: () -> Void
    private var thread = pthread_t()

    private init(body: @escaping () -> Void) { self.body = body }

    /// Starts a thread running `body`; `join()` waits for it.
    static func start(_ body: @escaping @Sendable () -> Void) -> WorkerThread {
        let t = WorkerThread(body: body)
        let context = Unmanaged.passRetained(t).toOpaque()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setstacksize(&attr, 8 << 20)
        let rc = pthread_create(&t.thread, &attr, { arg in
            let worker = Unmanaged<WorkerThread>.fromOpaque(arg!).takeRetainedValue()
            worker.body()
            return nil
        }, context)
        pthread_attr_destroy(&attr)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return t
    }

    func join() {
        pthread_join(thread, nil)
    }
}
