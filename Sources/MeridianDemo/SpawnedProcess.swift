#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A child process started with `posix_spawn`, its output appended to a log file. Known by its pid, so it is
/// `Sendable`; stopped with a signal.
public struct SpawnedProcess: Sendable, Hashable {
    public let name: String
    public let pid: pid_t
    public let logPath: String

    /// Starts `executable` with `arguments`; stdout and stderr go to `logPath`.
    public static func start(name: String, executable: String, arguments: [String], logPath: String,
                             environment: [String: String] = [:], followParent: Bool = true) throws -> SpawnedProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so that Ctrl-C in the terminal reaches only the demo, which stops children in order.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw DemoError("cannot start \(name) (\(executable)): \(String(cString: strerror(result)))") }
        let process = SpawnedProcess(name: name, pid: pid, logPath: logPath)
        if followParent { try process.watchParent() }
        return process
    }

    /// A detached watchdog sends SIGTERM to the child when this process exits, however it exits, so that no
    /// hub, gateway or model server outlives the demo or a test run.
    func watchParent() throws {
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; kill -TERM \(pid) 2>/dev/null; sleep 10; kill -KILL \(pid) 2>/dev/null"
        _ = try SpawnedProcess.start(name: "\(name)-watchdog", executable: "/bin/sh", arguments: ["-c", script], logPath: "/dev/null", followParent: false)
    }

    /// Sends a signal.
    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Whether it still runs (reaps it when it has exited).
    public func isRunning() -> Bool {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        return result == 0
    }

    /// SIGTERM, then SIGKILL after `grace`.
    public func stop(grace: Duration = .seconds(5)) async {
        guard isRunning() else { return }
        signal(SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if !isRunning() { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
        signal(SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    /// The log so far.
    public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// A demo or launcher failure, with what to do.
public struct DemoError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
