import Foundation
import Logging

/// A private PostgreSQL server started from the system's binaries (`initdb`, `pg_ctl`) in a data directory:
/// the hub's default when no `--database-url` is given, and what the tests use.
///
/// PostgreSQL refuses to run as root; when the process is root the launcher runs the server as an unprivileged
/// user (`postgres` by default, as Debian's package creates it) through `runuser` and gives it the data directory.
/// The server listens only on a Unix socket inside the data directory.
public struct EmbeddedPostgres: Sendable {
    /// Launcher settings.
    public struct Configuration: Sendable {
        /// Directory that holds the cluster (created if absent).
        public var dataDirectory: String
        /// Directory with `initdb`, `pg_ctl` and `postgres`; found on PATH, through `pg_config --bindir`
        /// or under `/usr/lib/postgresql/*/bin` when nil.
        public var binDirectory: String?
        /// Superuser created by `initdb`; default `meridian`.
        public var superuser: String
        /// Database created for the hub; default `meridian`.
        public var database: String
        /// System user that runs the server when this process is root; default `postgres`.
        public var systemUser: String
        /// Stop the server (and optionally delete the directory) when this process exits, however it exits:
        /// a detached watchdog waits for our pid. For tests; default false.
        public var stopWhenProcessExits: Bool = false
        /// With `stopWhenProcessExits`, also remove the data directory afterwards.
        public var removeDirectoryOnExit: Bool = false

        public init(dataDirectory: String, binDirectory: String? = nil, superuser: String = "meridian",
                    database: String = "meridian", systemUser: String = "postgres") {
            self.dataDirectory = dataDirectory
            self.binDirectory = binDirectory
            self.superuser = superuser
            self.database = database
            self.systemUser = systemUser
        }
    }

    /// Why the launcher could not start a server.
    public struct LaunchError: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    public let configuration: Configuration
    public let binDirectory: String
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        guard let bin = configuration.binDirectory ?? Self.findBinDirectory() else {
            throw LaunchError(message: "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH, through pg_config --bindir, or in /usr/lib/postgresql/*/bin; install PostgreSQL (Debian: apt-get install postgresql) or pass --database-url")
        }
        self.binDirectory = bin
    }

    /// The directory of the Unix socket (the data directory itself).
    public var socketDirectory: String { configuration.dataDirectory }
    /// Path of the server's Unix socket.
    public var socketPath: String { configuration.dataDirectory + "/.s.PGSQL.5432" }

    /// Creates the cluster if needed and starts the server; returns once it accepts connections.
    /// A server already running in the directory (left by a killed hub) is reused.
    public func start() throws {
        let fm = FileManager.default
        let dir = configuration.dataDirectory
        let asRoot = geteuid() == 0
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: nil)
        if asRoot {
            try makeTraversable(dir)
            try run("/bin/chown", ["-R", configuration.systemUser, dir], asServerUser: false)
        }
        try? fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: dir)
        if !fm.fileExists(atPath: dir + "/PG_VERSION") {
            logger.info("initialising embedded PostgreSQL", metadata: ["meridian.postgres.dir": "\(dir)"])
            try run(binDirectory + "/initdb", ["-D", dir, "-U", configuration.superuser, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"], asServerUser: asRoot)
        }
        if isRunning() {
            logger.info("reusing the embedded PostgreSQL already running", metadata: ["meridian.postgres.dir": "\(dir)"])
        } else {
            let options = "-c listen_addresses='' -c unix_socket_directories='\(dir)' -c fsync=on -c max_connections=500"
            try run(binDirectory + "/pg_ctl", ["-D", dir, "-l", dir + "/server.log", "-o", options, "-w", "-t", "60", "start"], asServerUser: asRoot)
        }
        try ensureDatabase()
        if configuration.stopWhenProcessExits { try startWatchdog() }
    }

    private func startWatchdog() throws {
        let pgctl = binDirectory + "/pg_ctl"
        let stop = geteuid() == 0
            ? "/usr/sbin/runuser -u \(configuration.systemUser) -- \(pgctl) -D '\(configuration.dataDirectory)' -m immediate stop"
            : "\(pgctl) -D '\(configuration.dataDirectory)' -m immediate stop"
        let remove = configuration.removeDirectoryOnExit ? "; rm -rf '\(configuration.dataDirectory)'" : ""
        try ChildProcess.spawnDetached("while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; \(stop)\(remove)")
    }

    /// Stops the server (fast shutdown: active transactions roll back, committed data stays).
    public func stop() throws {
        guard isRunning() else { return }
        try run(binDirectory + "/pg_ctl", ["-D", configuration.dataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], asServerUser: geteuid() == 0)
    }

    /// Whether a server runs in the data directory.
    public func isRunning() -> Bool {
        (try? run(binDirectory + "/pg_ctl", ["-D", configuration.dataDirectory, "status"], asServerUser: geteuid() == 0, quiet: true)) != nil
    }

    private func ensureDatabase() throws {
        try createDatabase(configuration.database)
    }

    /// Creates a database in the running server unless it exists (tests give each case its own).
    public func createDatabase(_ name: String) throws {
        do {
            try runCapturing(binDirectory + "/createdb", ["-h", socketDirectory, "-U", configuration.superuser, name], quiet: true)
        } catch let error as LaunchError where error.message.contains("already exists") {
            return
        }
    }

    /// A `postgres://` URL of a database in this server (over its Unix socket).
    public func url(database: String) -> String {
        "postgres://\(configuration.superuser)@localhost/\(database)?host=\(socketDirectory)"
    }

    /// Every directory above `path` must be searchable by the server user.
    private func makeTraversable(_ path: String) throws {
        var url = URL(fileURLWithPath: path).deletingLastPathComponent()
        while url.path != "/" && !url.path.isEmpty {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
               let mode = attributes[.posixPermissions] as? Int, mode & 0o001 == 0 {
                try FileManager.default.setAttributes([.posixPermissions: mode | 0o011], ofItemAtPath: url.path)
            }
            url = url.deletingLastPathComponent()
        }
    }

    @discardableResult
    private func run(_ executable: String, _ arguments: [String], asServerUser: Bool, quiet: Bool = false) throws -> String {
        if asServerUser {
            return try runCapturing("/usr/sbin/runuser", ["-u", configuration.systemUser, "--", executable] + arguments, quiet: quiet)
        }
        return try runCapturing(executable, arguments, quiet: quiet)
    }

    @discardableResult
    private func runCapturing(_ executable: String, _ arguments: [String], quiet: Bool = false) throws -> String {
        let result = try ChildProcess.run(executable, arguments)
        guard result.status == 0 else {
            if !quiet {
                logger.error("command failed", metadata: ["meridian.command": "\(executable) \(arguments.joined(separator: " "))", "meridian.output": "\(result.output)"])
            }
            throw LaunchError(message: "\(URL(fileURLWithPath: executable).lastPathComponent) failed (exit \(result.status)): \(result.output.suffix(800))")
        }
        return result.output
    }

    /// Finds the server binaries: PATH, then `pg_config --bindir`, then Debian's layout.
    public static func findBinDirectory() -> String? {
        let fm = FileManager.default
        func hasServer(_ dir: String) -> Bool {
            fm.isExecutableFile(atPath: dir + "/initdb") && fm.isExecutableFile(atPath: dir + "/pg_ctl")
        }
        if let bindir = try? Self.capture("pg_config", ["--bindir"])?.trimmingCharacters(in: .whitespacesAndNewlines), hasServer(bindir) {
            return bindir
        }
        let versions = (try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) where hasServer("/usr/lib/postgresql/\(version)/bin") {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) where hasServer(dir) {
            return dir
        }
        return nil
    }

    private static func capture(_ command: String, _ arguments: [String]) throws -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }
}
