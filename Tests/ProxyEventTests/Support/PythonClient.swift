import Glibc

/// Runs the project's Python client scripts (Tests/clients) with the virtual environment that
/// scripts/python-env.sh creates.
enum PythonClient {
    static let root: String = {
        var path = #filePath
        for _ in 0..<4 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    static var python: String { root + "/.venv/bin/python" }

    /// Whether the clients can run: the venv exists. scripts/test.sh sets PROXYD_REQUIRE_CLIENTS=1,
    /// and then a missing venv fails the tests instead of skipping them.
    static var available: Bool {
        access(python, X_OK) == 0 || getenv("PROXYD_REQUIRE_CLIENTS") != nil
    }

    /// Runs `script` with `arguments`; returns its exit status, stdout and stderr.
    static func run(_ script: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let (fd, path) = makeTemporaryFile("proxyd-py")
        defer { close(fd); unlink(path) }
        var env = environment
        env["PATH"] = "/usr/bin:/bin"
        env["NO_PROXY"] = "*"
        let child = try ChildProcess(executable: python, arguments: [root + "/Tests/clients/" + script] + arguments,
                                     environment: env, stdoutFD: fd)
        let status = child.waitForExit(120) ?? -1
        return (status, readAll(path), child.stderr)
    }
}
