import Foundation

/// A process the tests start (Python peers), its output kept in files.
final class ChildProcess: Sendable {
    private let process: Process
    private let stdoutPath: String
    private let stderrPath: String
    private let exit: Locked<Int32?>

    private init(process: Process, stdoutPath: String, stderrPath: String, exit: Locked<Int32?>) {
        self.process = process
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.exit = exit
    }

    /// Starts `arguments` (looked up on `PATH`), with standard output and error in `directory`.
    static func start(_ arguments: [String], directory: String, name: String) throws -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdoutPath = (directory as NSString).appendingPathComponent("\(name).out")
        let stderrPath = (directory as NSString).appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        let exit = Locked<Int32?>(nil)
        process.terminationHandler = { finished in exit.withLock { $0 = finished.terminationStatus } }
        try process.run()
        return ChildProcess(process: process, stdoutPath: stdoutPath, stderrPath: stderrPath, exit: exit)
    }

    /// Runs `arguments` to the end and returns the exit status (blocks the calling thread; for quick checks only).
    static func runBlocking(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    var isRunning: Bool { exit.value == nil }

    /// Waits for the process to exit (at most `timeout`, then it is terminated) and returns its status.
    func wait(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exit.value { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
        terminate()
        throw MeshError(description: "process did not exit within \(timeout): \(standardError())")
    }

    /// Kills the process (SIGKILL: a child inherits the test process's blocked signal mask, so SIGTERM may never
    /// arrive).
    func terminate() {
        if isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func standardOutput() -> String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    func standardError() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}
