import Glibc
import ProxyCore

/// Loads the model list on one worker's loop: at start, every `refreshSeconds`, and
/// when asked (SIGHUP). A failed load keeps the last good list and is logged; the first good
/// load makes the server ready.
final class ModelListLoader {
    private unowned let worker: ProxyWorker
    private unowned let server: ProxyServer
    private var settings: ModelListSettings
    private var timer: LoopTimer?
    private var transfer: UpstreamTransfer?
    private var body: [UInt8] = []
    private var status = 0

    init(worker: ProxyWorker, server: ProxyServer, settings: ModelListSettings) {
        self.worker = worker
        self.server = server
        self.settings = settings
    }

    /// Loads now and keeps refreshing.
    func start() {
        timer = LoopTimer(loop: worker.loop, repeating: true) { [unowned self] in load() }
        timer?.schedule(after: settings.refreshSeconds)
        load()
    }

    /// Follows a reloaded configuration's settings and loads at once.
    func reload(settings: ModelListSettings) {
        self.settings = settings
        timer?.schedule(after: settings.refreshSeconds)
        load()
    }

    func stop() {
        timer?.cancel()
        timer = nil
        transfer?.cancel()
        transfer = nil
    }

    private func load() {
        switch settings.source {
        case .file(let path):
            switch readWholeFile(path) {
            case .success(let bytes): loaded(bytes, from: path)
            case .failure(let why): failed(why.reason, from: path)
            }
        case .url(let url):
            guard transfer == nil else { return }  // a load is already under way
            body = []
            status = 0
            var headers = HTTPHeaders()
            headers.add("Accept", "application/json")
            let request = UpstreamRequest(url: url, method: "GET", headers: headers, body: [], connectTimeoutSeconds: 30)
            let where_ = url.description
            transfer = worker.upstream.start(request, handler: UpstreamTransfer.Handler(
                head: { [unowned self] status, _ in self.status = status; return true },
                body: { [unowned self] bytes in
                    guard body.count + bytes.count <= 64 << 20 else { return .cancel }
                    body.append(contentsOf: bytes)
                    return .accept
                },
                done: { [unowned self] error in
                    transfer = nil
                    if let error { failed(error, from: where_) }
                    else if status != 200 { failed("HTTP \(status)", from: where_) }
                    else { loaded(body, from: where_) }
                }))
        }
    }

    private func loaded(_ bytes: [UInt8], from source: String) {
        let providers = Set(server.gateway.configuration.providers.map(\.id))
        do {
            let list = try ModelList.parse(bytes, providers: providers)
            for w in list.warnings { worker.logger.warn("model list entry skipped", [("source", .string(source)), ("reason", .string(w))]) }
            server.install(modelList: list)
            worker.metrics.modelListRefreshes["success", default: 0] += 1
            worker.logger.info("model list loaded", [("source", .string(source)), ("entries", .int(list.entries.count)),
                                                     ("skipped", .int(list.warnings.count))])
        } catch {
            failed(error.reason, from: source)
        }
    }

    private func failed(_ why: String, from source: String) {
        worker.metrics.modelListRefreshes["failure", default: 0] += 1
        worker.logger.error("model list load failed; keeping the last good list", [("source", .string(source)), ("error", .string(why))])
    }
}

/// Reads a whole file.
public func readWholeFile(_ path: String) -> Result<[UInt8], FileReadError> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return .failure(FileReadError(String(cString: strerror(errno)))) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
        if n < 0 { if errno == EINTR { continue }; return .failure(FileReadError(String(cString: strerror(errno)))) }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    return .success(out)
}

/// Why a file could not be read (the errno text).
public struct FileReadError: Error {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// One load of the model list, outside a running server (`proxyd route`): the file read, or the
/// URL fetched on a loop of its own, for at most `timeoutSeconds`.
public enum ModelListOnce {
    public static func load(_ settings: ModelListSettings, providers: Set<String>,
                            timeoutSeconds: Double = 10) -> Result<ModelList, ModelList.Failure> {
        let bytes: [UInt8]
        switch settings.source {
        case .file(let path):
            switch readWholeFile(path) {
            case .success(let b): bytes = b
            case .failure(let why): return .failure(ModelList.Failure(reason: "\(path): \(why.reason)"))
            }
        case .url(let url):
            switch fetch(url, timeoutSeconds: timeoutSeconds) {
            case .success(let b): bytes = b
            case .failure(let why): return .failure(why)
            }
        }
        do { return .success(try ModelList.parse(bytes, providers: providers)) } catch { return .failure(error) }
    }

    static func fetch(_ url: UpstreamURL, timeoutSeconds: Double) -> Result<[UInt8], ModelList.Failure> {
        let loop = EventLoop()
        let client = UpstreamClient(loop: loop)
        var body: [UInt8] = []
        var status = 0
        var outcome: String? = "timed out after \(Int(timeoutSeconds)) s"
        var headers = HTTPHeaders()
        headers.add("Accept", "application/json")
        let request = UpstreamRequest(url: url, method: "GET", headers: headers, body: [], connectTimeoutSeconds: timeoutSeconds)
        var transfer: UpstreamTransfer? = client.start(request, handler: UpstreamTransfer.Handler(
            head: { s, _ in status = s; return true },
            body: { bytes in
                guard body.count + bytes.count <= 64 << 20 else { return .cancel }
                body.append(contentsOf: bytes)
                return .accept
            },
            done: { error in
                outcome = error ?? (status == 200 ? nil : "HTTP \(status)")
                loop.stop()
            }))
        let deadline = LoopTimer(loop: loop) { loop.stop() }
        deadline.schedule(after: timeoutSeconds)
        loop.run()
        deadline.cancel()
        transfer?.cancel()
        transfer = nil
        if let outcome { return .failure(ModelList.Failure(reason: "\(url.description): \(outcome)")) }
        return .success(body)
    }
}
