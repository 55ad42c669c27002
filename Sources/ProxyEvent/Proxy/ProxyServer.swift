import Glibc
import ProxyCore
import Synchronization

/// The whole proxy: N worker loops on N threads sharing one port, serving one configuration
/// snapshot that can be swapped atomically.
public final class ProxyServer: @unchecked Sendable {
    let logger: Logger
    let initialServerSettings: ServerSettings
    private let snapshot: Mutex<Gateway>
    private let ready: Atomic<Bool>
    private var workers: [ProxyWorker] = []
    /// How many event loops serve (known once `start` has run).
    public private(set) var workerCount = 0
    private var threads: [WorkerThread] = []
    private let workersReady = Mutex<Int>(0)
    /// The port bound (after binding port 0, the one chosen).
    public private(set) var port = 0
    private var listener: ListeningSocket?
    /// Loops that still accept from the listening socket; the last to stop closes it.
    private let accepting = Mutex(0)

    public init(configuration: Configuration, logger: Logger) {
        self.logger = logger
        initialServerSettings = configuration.server
        snapshot = Mutex(Gateway(configuration: configuration, now: time(nil)))
        ready = Atomic(configuration.modelList == nil)
    }

    /// The current configuration snapshot.
    var gateway: Gateway { snapshot.withLock { $0 } }

    /// Replaces the configuration (keeping the loaded model list) and reloads the model list;
    /// requests already planned finish on the old snapshot.
    public func replace(configuration: Configuration) {
        snapshot.withLock { $0 = Gateway(configuration: configuration, modelList: $0.modelList, now: time(nil), replacing: $0) }
        guard let first = workers.first else { return }
        let box = UncheckedBox((self, first))
        first.loop.execute {
            let (server, worker) = box.value
            if let settings = configuration.modelList {
                if let loader = server.loader { loader.reload(settings: settings) } else {
                    server.loader = ModelListLoader(worker: worker, server: server, settings: settings)
                    server.loader?.start()
                }
            } else {
                server.loader?.stop()
                server.loader = nil
                server.setReady(true)
            }
        }
    }

    /// Installs a newly loaded model list with the current configuration, atomically.
    func install(modelList: ModelList) {
        snapshot.withLock { $0 = Gateway(configuration: $0.configuration, modelList: modelList, now: time(nil), replacing: $0) }
        setReady(true)
    }

    /// Loads the model list on the first worker's loop (touched only there).
    var loader: ModelListLoader?

    public var isReady: Bool { ready.load(ordering: .relaxed) }

    public func setReady(_ value: Bool) { ready.store(value, ordering: .relaxed) }

    /// Binds the port and starts the worker threads. Returns once every loop serves.
    public func start() throws(ListeningSocket.Failure) {
        let s = initialServerSettings
        let count = s.workerCount(cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        workerCount = count
        // One socket, shared by every loop: no other process can bind the port while it is open.
        let socket = try ListeningSocket.bind(host: s.listenHost, port: s.listenPort)
        listener = socket
        port = socket.port
        let started = Mutex<[ProxyWorker?]>(Array(repeating: nil, count: count))
        let box = UncheckedBox(self)
        for i in 0..<count {
            threads.append(WorkerThread.start {
                let loop = EventLoop()
                let worker = ProxyWorker(loop: loop, socket: socket, shared: box.value, index: i)
                let w = UncheckedBox(worker)
                started.withLock { $0[i] = w.value }
                loop.run()
                _ = w
            })
        }
        accepting.withLock { $0 = count }
        // Wait until every loop has its server (bounded: a thread that fails to start traps).
        while started.withLock({ $0.contains { $0 == nil } }) { usleep(1000) }
        workers = started.withLock { $0.map { $0! } }
        if let settings = gateway.configuration.modelList, let first = workers.first {
            let box = UncheckedBox((self, first))
            first.loop.execute {
                let (server, worker) = box.value
                server.loader = ModelListLoader(worker: worker, server: server, settings: settings)
                server.loader?.start()
            }
        }
    }

    /// Stops accepting, lets requests in flight finish within `grace` seconds, cuts the rest,
    /// then stops the loops and waits for their threads. Returns the number of exchanges cut.
    @discardableResult
    public func shutdown(grace: Double) -> Int {
        let cut = Mutex(0)
        for worker in workers {
            let w = UncheckedBox(worker)
            let server = UncheckedBox(self)
            worker.loop.execute {
                let worker = w.value
                if worker === server.value.workers.first { server.value.loader?.stop() }
                worker.server.stopAccepting()
                server.value.stoppedAccepting()
                let finish = {
                    worker.loop.stop()
                }
                if worker.server.inFlight == 0 { finish(); return }
                worker.server.onIdle = finish
                let timer = LoopTimer(loop: worker.loop) {
                    let n = worker.server.inFlight
                    if n > 0 {
                        cut.withLock { $0 += n }
                        worker.logger.warn("shutdown grace period over, cutting requests", [("requests", .int(n))])
                        worker.server.cutAll()
                    }
                    finish()
                }
                timer.schedule(after: grace)
                worker.graceTimer = timer
            }
        }
        for t in threads { t.join() }
        threads.removeAll()
        return cut.withLock { $0 }
    }

    /// One loop no longer accepts; once none does, the listening socket is closed, so new
    /// connections are refused by the kernel instead of waiting in its queue.
    private func stoppedAccepting() {
        let last = accepting.withLock { n in
            n -= 1
            return n == 0
        }
        if last, let listener {
            close(listener.fd)
            self.listener = nil
        }
    }

    /// Gathers every loop's metrics into one exposition, answering on `origin`'s loop.
    func collectMetrics(from origin: ProxyWorker, _ reply: @escaping (String) -> Void) {
        let originBox = UncheckedBox(origin)
        let replyBox = UncheckedBox(reply)
        let pending = UncheckedBox(PendingMetrics(count: workers.count))
        for worker in workers {
            let w = UncheckedBox(worker)
            worker.loop.execute {
                let copy = w.value.metrics
                originBox.value.loop.execute {
                    let p = pending.value
                    p.total.merge(copy)
                    p.count -= 1
                    if p.count == 0 { replyBox.value(p.total.render()) }
                }
            }
        }
    }
}

final class PendingMetrics {
    var count: Int
    var total = Metrics()
    init(count: Int) { self.count = count }
}

/// Carries a loop-bound value to its own loop through a Sendable closure. Only ever opened on
/// the loop that owns the value.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
