import Foundation
import Logging
import MeridianStore
import Synchronization

/// One PostgreSQL server for the whole test process, started by the embedded launcher (as the hub does);
/// every test gets its own database in it. A watchdog stops it when the test process exits.
enum TestPostgres {
    private static let shared = Mutex<EmbeddedPostgres?>(nil)

    static func server() throws -> EmbeddedPostgres {
        try shared.withLock { current in
            if let current { return current }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-test-pg-\(getpid())").path
            var configuration = EmbeddedPostgres.Configuration(dataDirectory: directory)
            configuration.stopWhenProcessExits = true
            configuration.removeDirectoryOnExit = true
            let postgres = try EmbeddedPostgres(configuration: configuration, logger: Logger(label: "test.postgres"))
            try postgres.start()
            current = postgres
            return postgres
        }
    }

    /// A fresh database; returns its URL.
    static func freshDatabase() throws -> String {
        let postgres = try server()
        let name = "t_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "_"))"
        try postgres.createDatabase(name)
        return postgres.url(database: name)
    }
}
