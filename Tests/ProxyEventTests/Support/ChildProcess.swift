import Glibc

/// A child process started by a test, with its stderr captured to a file. Ended only by the
/// test that started it, by its PID.
final class ChildProcess {
    let pid: pid_t
    let stderrPath: String
    private var exited: Int32?

    /// The package's build directory, found from this file's path.
    static let buildDirectory: String = {
        var path = #filePath
        for _ in 0..<4 { path = String(path[..<path.lastIndex(of: "/")!]) }  // …/Tests/ProxyEventTests/Support/x.swift → root
        return path + "/.build/debug"
    }()

    init(executable: String, arguments: [String], environment: [String: String] = [:], stdoutFD: Int32? = nil) throws {
        let (fd, path) = makeTemporaryFile("proxyd-child", in: testLogDirectory)
        stderrPath = path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fd, 2)
        if let stdoutFD { posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        var env = environment.map { strdup("\($0.key)=\($0.value)") }
        env.append(nil)
        // The test runner may block or ignore signals; the child starts with a clean slate.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attr, argv, env)
        posix_spawnattr_destroy(&attr)
        posix_spawn_file_actions_destroy(&actions)
        close(fd)
        for p in argv { free(p) }
        for p in env { free(p) }
        guard rc == 0 else { throw TestConnection.Failure(description: "posix_spawn \(executable) failed: \(rc)") }
        pid = child
    }

    deinit {
        if exited == nil { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0) }
        if !keepTestLogs { unlink(stderrPath) }
    }

    var stderr: String { readAll(stderrPath) }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// The exit status if the process exits within `seconds`.
    func waitForExit(_ seconds: Double) -> Int32? {
        if let exited { return exited }
        let deadline = monotonic() + seconds
        while monotonic() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                exited = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return exited
            }
            usleep(5000)
        }
        return nil
    }

    /// Starts proxyd with `config` written to a temporary file, and waits for its port.
    /// With `fileLimit`, proxyd runs under that limit on open descriptors (`ulimit -n`).
    static func proxyd(config: String, environment: [String: String] = [:], extraArguments: [String] = [],
                       fileLimit: Int? = nil) throws -> (ChildProcess, Int, String) {
        let (fd, path) = makeTemporaryFile("proxyd-config")
        let bytes = Array(config.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let arguments = ["serve", "--config", path, "--listen", "127.0.0.1:0"] + extraArguments
        let child: ChildProcess
        if let fileLimit {
            // The shell first closes what it inherited from the test runner (sockets of tests
            // running beside this one), so the limit counts proxyd's own descriptors only.
            let closeInherited = #"for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && [ -e "$f" ] && eval "exec $n>&-"; done; "#
            child = try ChildProcess(executable: "/bin/bash",
                                     arguments: ["-c", closeInherited + "ulimit -n \(fileLimit) && exec \(buildDirectory)/proxyd "
                                                 + arguments.joined(separator: " ")],
                                     environment: environment)
        } else {
            child = try ChildProcess(executable: buildDirectory + "/proxyd", arguments: arguments, environment: environment)
        }
        var port = 0
        _ = waitUntil(20) {
            let log = child.stderr
            guard let r = log.firstRange(of: "\"address\":\"127.0.0.1:") else { return false }
            port = Int(log[r.upperBound...].prefix { $0.isNumber }) ?? 0
            return port > 0
        }
        guard port > 0 else { throw TestConnection.Failure(description: "proxyd did not start: \(child.stderr)") }
        return (child, port, path)
    }
}
