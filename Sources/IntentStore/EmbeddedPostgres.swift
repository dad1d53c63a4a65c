import Crypto
import Foundation
import Logging
import LoopCore
import Synchronization

/// A private PostgreSQL cluster run from the system's binaries: `initdb` into the data directory
/// on first start, then `pg_ctl start` on 127.0.0.1 only (no Unix socket) at a free port, with a
/// random password (SCRAM). Stopped by `stop()`; a cluster still running from an earlier
/// process (say, after a crash) is reused, not started twice.
///
/// initdb and postgres refuse to run as root: started by root, the launcher runs them as the
/// `postgres` system user (Debian's package creates it) and gives that user the cluster folder.
public final class EmbeddedPostgres: Sendable {
    public let clusterDirectory: URL
    public let port: Int
    public let username = "intentloop"
    public let password: String
    public let database = "intentloop"
    let binDirectory: URL
    let runAs: String?
    let logger: Logger
    /// The file in the data directory naming the process that owns (started, and will stop) the cluster.
    let ownerFile: URL?
    private let owned: Mutex<Bool>

    /// False when the cluster was already running and its owner is alive: `stop()` leaves it.
    public var startedHere: Bool { owned.withLock { $0 } }

    private init(clusterDirectory: URL, port: Int, password: String, binDirectory: URL, runAs: String?, logger: Logger, startedHere: Bool = false,
                 ownerFile: URL? = nil) {
        self.clusterDirectory = clusterDirectory
        self.port = port
        self.password = password
        self.binDirectory = binDirectory
        self.runAs = runAs
        self.logger = logger
        self.ownerFile = ownerFile
        owned = Mutex(startedHere)
        if startedHere { recordOwnership() }
    }

    /// Takes the cluster over when the process that started it is gone (crashed, killed): then
    /// nobody else will stop or restart it. Returns whether this process owns it now.
    @discardableResult
    public func adoptIfOrphaned() -> Bool {
        if startedHere { return true }
        guard let ownerFile else { return false }
        let text = (try? String(contentsOf: ownerFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if let pid = Int32(text), pid > 0, kill(pid, 0) == 0 || errno == EPERM { return false }
        owned.withLock { $0 = true }
        recordOwnership()
        logger.notice("adopted the embedded PostgreSQL left behind by a process that is gone")
        return true
    }

    private func recordOwnership() {
        guard let ownerFile else { return }
        _ = FileManager.default.createFile(atPath: ownerFile.path, contents: Data("\(getpid())\n".utf8))
    }

    /// The file in the data directory that names the cluster's folder (which is elsewhere when
    /// the data directory is not reachable by the `postgres` user).
    public static let clusterMarkerFile = "postgres.cluster"

    /// A connection URL without the password (for logs).
    public var displayURL: String { "postgres://\(username)@127.0.0.1:\(port)/\(database)" }

    /// Starts (or reuses) the cluster kept under `dataDirectory`.
    public static func start(dataDirectory: URL, logger: Logger) throws(StoreError) -> EmbeddedPostgres {
        let bin = try binaries()
        let root = geteuid() == 0
        let runAs: String? = root ? "postgres" : nil
        if root, getpwnam("postgres") == nil {
            throw StoreError(.postgresMissing, "running as root, and there is no 'postgres' system user to run the embedded PostgreSQL as (install the postgresql package)")
        }
        let fm = FileManager.default
        try? fm.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let secretFile = dataDirectory.appendingPathComponent("postgres.secret")
        var cluster = dataDirectory.appendingPathComponent("postgres", isDirectory: true)
        if root && !reachable(cluster.deletingLastPathComponent(), by: "postgres") {
            // e.g. a data directory under /root (mode 700): keep the cluster where postgres can reach it.
            let tag = SHA256.hash(data: Data(dataDirectory.standardizedFileURL.path.utf8)).prefix(6).hex
            cluster = URL(fileURLWithPath: "/var/lib/intentloop/clusters/\(tag)", isDirectory: true)
            logger.info("embedded PostgreSQL cluster kept outside the data directory", metadata: ["store.cluster": "\(cluster.path)"])
        }
        let password: String
        if let saved = try? String(contentsOf: secretFile, encoding: .utf8), !saved.isEmpty, fm.fileExists(atPath: cluster.appendingPathComponent("PG_VERSION").path) {
            password = saved.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            password = randomToken(bytes: 24)
            try initialise(cluster: cluster, bin: bin, runAs: runAs, password: password, logger: logger)
            guard fm.createFile(atPath: secretFile.path, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw StoreError(.postgresFailed, "cannot write \(secretFile.path)")
            }
        }
        // Say where the cluster is, so that tools (ops/test) act on exactly this one.
        _ = fm.createFile(atPath: dataDirectory.appendingPathComponent(clusterMarkerFile).path, contents: Data((cluster.path + "\n").utf8))
        let ownerFile = dataDirectory.appendingPathComponent("postgres.owner")
        let pg = EmbeddedPostgres(clusterDirectory: cluster, port: 0, password: password, binDirectory: bin, runAs: runAs, logger: logger)
        if let running = pg.runningPort() {
            logger.info("reusing the embedded PostgreSQL that is already running", metadata: ["store.port": "\(running)"])
            let reused = EmbeddedPostgres(clusterDirectory: cluster, port: running, password: password, binDirectory: bin, runAs: runAs, logger: logger,
                                          ownerFile: ownerFile)
            reused.adoptIfOrphaned()
            return reused
        }
        let port = try freePort()
        let started = EmbeddedPostgres(clusterDirectory: cluster, port: port, password: password, binDirectory: bin, runAs: runAs, logger: logger,
                                       startedHere: true, ownerFile: ownerFile)
        let log = cluster.appendingPathComponent("server.log").path
        let status = try started.run("pg_ctl", ["-D", cluster.path, "-l", log, "-w", "-t", "60", "-o", "-p \(port)", "start"])
        guard status.code == 0 else {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n") ?? ""
            throw StoreError(.postgresFailed, "the embedded PostgreSQL did not start (pg_ctl exit \(status.code)): \(status.output)\n\(tail)")
        }
        logger.info("embedded PostgreSQL started", metadata: ["store.port": "\(port)", "store.cluster": "\(cluster.path)"])
        return started
    }

    /// Whether this cluster's postmaster is alive.
    public var isRunning: Bool { runningPort() != nil }

    /// Starts the postmaster again on the same port after it exited (crashed, killed, stopped by
    /// someone else). Blocking: call it off the cooperative pool.
    public func restart() throws(StoreError) {
        let log = clusterDirectory.appendingPathComponent("server.log").path
        let status = try run("pg_ctl", ["-D", clusterDirectory.path, "-l", log, "-w", "-t", "30", "-o", "-p \(port)", "start"])
        guard status.code == 0 else { throw StoreError(.postgresFailed, "the embedded PostgreSQL did not restart (pg_ctl exit \(status.code))") }
        logger.notice("embedded PostgreSQL restarted", metadata: ["store.port": "\(port)"])
    }

    /// Fast shutdown (open transactions are rolled back; everything committed is on disk).
    public func stop() {
        guard startedHere else { return }
        _ = try? run("pg_ctl", ["-D", clusterDirectory.path, "-m", "fast", "-w", "-t", "60", "stop"])
        if let ownerFile { try? FileManager.default.removeItem(at: ownerFile) }
        logger.info("embedded PostgreSQL stopped")
    }

    // MARK: - Set-up

    /// The folder holding initdb, pg_ctl and postgres: $INTENTLOOP_PG_BINDIR, `pg_config --bindir`,
    /// or the newest /usr/lib/postgresql/*/bin.
    static func binaries() throws(StoreError) -> URL {
        let fm = FileManager.default
        func complete(_ dir: String) -> Bool { ["initdb", "pg_ctl", "postgres"].allSatisfy { fm.isExecutableFile(atPath: "\(dir)/\($0)") } }
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["INTENTLOOP_PG_BINDIR"], !env.isEmpty {
            // The operator's choice is final: no fallback to another installation.
            guard complete(env) else {
                throw StoreError(.postgresMissing, "INTENTLOOP_PG_BINDIR=\(env) does not hold initdb, pg_ctl and postgres: install PostgreSQL's server package or pass --database-url")
            }
            return URL(fileURLWithPath: env, isDirectory: true)
        }
        if let out = try? capture("/usr/bin/env", ["pg_config", "--bindir"]), out.code == 0 {
            candidates.append(out.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let versions = (try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        candidates += versions.compactMap(Int.init).sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin" }
        guard let dir = candidates.first(where: complete) else {
            throw StoreError(.postgresMissing, "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install them (apt-get install postgresql) or pass --database-url")
        }
        return URL(fileURLWithPath: dir, isDirectory: true)
    }

    static func initialise(cluster: URL, bin: URL, runAs: String?, password: String, logger: Logger) throws(StoreError) {
        let fm = FileManager.default
        try? fm.removeItem(at: cluster)
        // The parents stay traversable (0755) for the postgres user; only the cluster is private.
        try? fm.createDirectory(at: cluster.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        do { try fm.createDirectory(at: cluster, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700]) } catch {
            throw StoreError(.postgresFailed, "cannot create \(cluster.path)")
        }
        let pwfile = cluster.deletingLastPathComponent().appendingPathComponent(".pwfile-\(getpid())")
        guard fm.createFile(atPath: pwfile.path, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw StoreError(.postgresFailed, "cannot write \(pwfile.path)")
        }
        defer { try? fm.removeItem(at: pwfile) }
        if let runAs {
            _ = try? capture("/bin/chown", ["-R", runAs, cluster.path, pwfile.path])
        }
        let pg = EmbeddedPostgres(clusterDirectory: cluster, port: 0, password: password, binDirectory: bin, runAs: runAs, logger: logger)
        logger.info("initialising the embedded PostgreSQL cluster", metadata: ["store.cluster": "\(cluster.path)"])
        let result = try pg.run("initdb", ["-D", cluster.path, "-U", "intentloop", "--pwfile", pwfile.path, "-E", "UTF8", "--locale", "C",
                                           "--auth-host", "scram-sha-256", "--auth-local", "scram-sha-256"])
        guard result.code == 0 else { throw StoreError(.postgresFailed, "initdb failed (exit \(result.code)): \(result.output)") }
        let settings = """

            # IntentLoop embedded cluster: loopback TCP only, no Unix socket.
            listen_addresses = '127.0.0.1'
            unix_socket_directories = ''
            max_connections = 100
            """
        guard let handle = FileHandle(forWritingAtPath: cluster.appendingPathComponent("postgresql.conf").path) else {
            throw StoreError(.postgresFailed, "cannot open postgresql.conf in \(cluster.path)")
        }
        handle.seekToEndOfFile()
        handle.write(Data(settings.utf8))
        handle.closeFile()
    }

    // MARK: - Processes

    /// The port of a postmaster already running on this cluster, from postmaster.pid.
    func runningPort() -> Int? {
        guard let pidFile = try? String(contentsOf: clusterDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8) else { return nil }
        let lines = pidFile.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let pid = Int32(lines[0]), let port = Int(lines[3]), kill(pid, 0) == 0 || errno == EPERM else { return nil }
        // A postmaster that died but was not reaped yet (a zombie) still answers kill(pid, 0).
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let state = stat.split(separator: ")").last?.split(separator: " ").first, state == "Z" {
            return nil
        }
        return port
    }

    func run(_ tool: String, _ arguments: [String]) throws(StoreError) -> (code: Int32, output: String) {
        let path = binDirectory.appendingPathComponent(tool).path
        // Foundation's Process gives the child a socket it watches for the child's exit; a daemon
        // started below (pg_ctl start → postgres) would inherit it and the wait would never end.
        // bash closes every descriptor above 2 before exec'ing the tool.
        let closeAndExec = "for fd in $(ls /proc/$$/fd); do if [ \"$fd\" -gt 2 ]; then eval \"exec $fd>&-\"; fi; done; exec \"$@\""
        let command = (runAs.map { ["/usr/sbin/runuser", "-u", $0, "--"] } ?? []) + [path] + arguments
        do {
            return try Self.capture("/bin/bash", ["-c", closeAndExec, "intentloop-postgres"] + command)
        } catch {
            throw StoreError(.postgresFailed, "cannot run \(tool): \(error)")
        }
    }

    /// Runs a program to completion; its output goes through a temporary file, not a pipe: a
    /// daemon it starts (pg_ctl start → postgres) must not hold our end open.
    static func capture(_ executable: String, _ arguments: [String]) throws -> (code: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        let outputFile = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("intentloop-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: outputFile.path, contents: nil) else {
            throw StoreError(.postgresFailed, "cannot write \(outputFile.path)")
        }
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let handle = try FileHandle(forWritingTo: outputFile)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try? handle.close()
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func reachable(_ dir: URL, by user: String) -> Bool {
        let fm = FileManager.default
        try? fm.createDirectory(at: dir, withIntermediateDirectories: true)
        guard let result = try? capture("/usr/sbin/runuser", ["-u", user, "--", "test", "-x", dir.path]) else { return false }
        return result.code == 0
    }

    /// A free TCP port on 127.0.0.1 (bound to port 0, read back, released).
    public static func freePort() throws(StoreError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StoreError(.postgresFailed, "cannot open a socket to find a free port") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard bound == 0 else { throw StoreError(.postgresFailed, "cannot bind a socket to find a free port") }
        let named = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        guard named == 0 else { throw StoreError(.postgresFailed, "cannot read the free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// URL-safe random text from the system's CSPRNG.
public func randomToken(bytes: Int = 32) -> String {
    var generator = SystemRandomNumberGenerator()
    let raw = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return Data(raw).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
