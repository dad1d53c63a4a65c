import Crypto
import Foundation
import LoopCore
import PostgresNIO

/// An adapter as the database knows it: lifecycle status, content identity, lineage, metrics.
public struct AdapterRecord: Sendable, Codable, Equatable {
    public let version: String
    public let status: AdapterStatus
    public let statusReason: String
    /// SHA-256 (hex) of the manifest: the adapter's identity; nil for an adapter not stored here yet.
    public let sha256: String?
    /// File name → SHA-256 (hex) of its content in `adapter_blobs`.
    public let files: [String: String]
    public let labels: [String]
    public let metrics: [String: String]
    public let dataSummary: [String: Int]
    /// The production adapter when this one was trained (the gate's baseline; the DPO reference when λ > 0).
    public let parentVersion: String?
    public let jobID: Int64?
    public let feedbackFrom: Int64?
    public let feedbackTo: Int64?
    public let datasetSHA256: String?
    /// Where an adapter from before adapters lived in PostgreSQL was written (legacy).
    public let path: String?
    public let createdAt: Date
    public let promotedAt: Date?
    /// When it entered shadow (the gate's shadow duration counts from here).
    public let shadowSince: Date?
    /// The gate's latest decision about it.
    public let gateReport: GateReport?

    enum CodingKeys: String, CodingKey {
        case version, status, sha256, files, labels, metrics, path
        case statusReason = "status_reason", dataSummary = "data_summary", parentVersion = "parent_version", jobID = "job_id"
        case feedbackFrom = "feedback_from", feedbackTo = "feedback_to", datasetSHA256 = "dataset_sha256"
        case createdAt = "created_at", promotedAt = "promoted_at", shadowSince = "shadow_since", gateReport = "gate_report"
    }
}

/// A new adapter to store: its files (PEFT layout), what it learned from, and where it stands.
public struct NewAdapter: Sendable {
    public var version: String
    public var status: AdapterStatus
    public var labels: [String]
    public var files: [String: Data]
    public var metrics: [String: String] = [:]
    public var dataSummary: [String: Int] = [:]
    public var parentVersion: String?
    public var jobID: Int64?
    public var feedbackRange: ClosedRange<Int64>?
    public var datasetSHA256: String?
    public var reason = ""

    public init(version: String, status: AdapterStatus, labels: [String], files: [String: Data]) {
        self.version = version
        self.status = status
        self.labels = labels
        self.files = files
    }
}

/// Content addressing: each file by the SHA-256 of its bytes; the adapter by the SHA-256 of its
/// manifest ("name sha256\n" per file, names sorted).
public enum AdapterContent {
    public static func hash(_ data: Data) -> String { SHA256.hash(data: data).hex }

    public static func manifestHash(_ files: [String: String]) -> String {
        hash(Data(files.keys.sorted().map { "\($0) \(files[$0]!)\n" }.joined().utf8))
    }

    /// The files of an adapter folder (plain files only, no sub-folders), by name.
    public static func read(directory: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            out[name] = try Data(contentsOf: url)
        }
        return out
    }
}

extension Store {
    static let adapterColumns = """
        version, status, status_reason, sha256, files::text, labels::text, metrics::text, data_summary::text, parent_version, job_id,
        feedback_from, feedback_to, dataset_sha256, path, created_at, promoted_at, shadow_since, gate_report::text
        """

    /// Stores an adapter's files (each once, by hash) and its row, inside the caller's
    /// transaction; a row still in `training` (same version) is completed. A production adapter
    /// (the first start) retires the previous one and is recorded as a deployment.
    public func storeAdapter(_ adapter: NewAdapter, actor: Int64?, on connection: PostgresConnection) async throws {
        let hashes = try await storeBlobs(adapter.files, on: connection)
        // A row in `training` has no files yet; its identity is set when it becomes a candidate.
        let manifest: String? = hashes.isEmpty ? nil : AdapterContent.manifestHash(hashes)
        if adapter.status == .production { try await Self.lockAdapterChanges(on: connection, logger: logger) }
        let previous = adapter.status == .production
            ? try await Self.retireProduction(replacedBy: adapter.version, .replaced(by: adapter.version), on: connection, logger: logger) : nil
        _ = try await connection.query("""
            INSERT INTO adapters (version, status, status_reason, labels, metrics, sha256, files, parent_version, job_id, feedback_from,
                                  feedback_to, dataset_sha256, data_summary, promoted_at)
            VALUES (\(adapter.version), \(adapter.status.rawValue), \(adapter.reason), \(try jsonText(adapter.labels))::jsonb,
                    \(try jsonText(adapter.metrics))::jsonb, \(manifest.map { Data(hexString: $0) }), \(try jsonText(hashes))::jsonb,
                    \(adapter.parentVersion), \(adapter.jobID), \(adapter.feedbackRange?.lowerBound), \(adapter.feedbackRange?.upperBound),
                    \(adapter.datasetSHA256), \(try jsonText(adapter.dataSummary))::jsonb,
                    CASE WHEN \(adapter.status.rawValue) = 'production' THEN now() END)
            ON CONFLICT (version) DO UPDATE SET status = EXCLUDED.status, status_reason = EXCLUDED.status_reason, metrics = EXCLUDED.metrics,
                sha256 = EXCLUDED.sha256, files = EXCLUDED.files, updated_at = now()
            WHERE adapters.status = 'training'
            """, logger: logger)
        try await audit(actor: actor, action: "adapter.store", subject: adapter.version,
                        details: ["status": adapter.status.rawValue, "sha256": manifest ?? ""], on: connection)
        if adapter.status == .production {
            _ = try await recordDeployment(action: "first", version: adapter.version, previous: previous, actor: AdapterActor(id: actor, name: "first start"),
                                           reason: adapter.reason, reportJSON: nil, on: connection)
        }
    }

    /// Stores each file's bytes once, keyed by their SHA-256; returns file name → SHA-256 (hex).
    func storeBlobs(_ files: [String: Data], on connection: PostgresConnection) async throws -> [String: String] {
        var hashes: [String: String] = [:]
        for (name, data) in files {
            let digest = AdapterContent.hash(data)
            hashes[name] = digest
            _ = try await connection.query("""
                INSERT INTO adapter_blobs (sha256, content) VALUES (\(Data(hexString: digest)), \(data)) ON CONFLICT (sha256) DO NOTHING
                """, logger: logger)
        }
        return hashes
    }

    /// Stores a first adapter straight into production (the first start), audited.
    public func storeProductionAdapter(_ adapter: NewAdapter, actor: Int64?) async throws {
        try await transaction(limit: nil) { c in try await self.storeAdapter(adapter, actor: actor, on: c) }
    }

    public func productionAdapter() async throws -> AdapterRecord? {
        try await Self.decodeAdapters(try await query("SELECT \(unescaped: Self.adapterColumns) FROM adapters WHERE status = 'production'")).first
    }

    public func adapter(version: String) async throws -> AdapterRecord? {
        try await Self.decodeAdapters(try await query("SELECT \(unescaped: Self.adapterColumns) FROM adapters WHERE version = \(version)")).first
    }

    /// Adapters in these statuses, newest first.
    public func adapters(statuses: [AdapterStatus]) async throws -> [AdapterRecord] {
        try await Self.decodeAdapters(try await query("""
            SELECT \(unescaped: Self.adapterColumns) FROM adapters WHERE status = ANY(\(statuses.map(\.rawValue))::text[])
            ORDER BY created_at DESC, id DESC
            """))
    }

    /// Every adapter, newest first.
    public func adapters() async throws -> [AdapterRecord] {
        try await Self.decodeAdapters(try await query("SELECT \(unescaped: Self.adapterColumns) FROM adapters ORDER BY created_at DESC, id DESC"))
    }

    /// The stored bytes of one file, by its SHA-256 (hex).
    public func adapterBlob(_ sha256: String) async throws -> Data? {
        let rows = try await query("SELECT content FROM adapter_blobs WHERE sha256 = \(Data(hexString: sha256))")
        for try await bytes in rows.decode(Data.self) { return bytes }
        return nil
    }

    /// An adapter from before this store (a row with only a local path): its files are read from
    /// that folder and stored here, once, so that other machines can load it.
    public func adoptLegacyAdapter(_ record: AdapterRecord) async throws -> AdapterRecord {
        guard record.sha256 == nil, let path = record.path else { return record }
        let files = try AdapterContent.read(directory: URL(fileURLWithPath: path))
        guard files["adapter_model.safetensors"] != nil else {
            throw StoreError(.invalid, "adapter \(record.version) is not in the database and its folder \(path) has no adapter_model.safetensors")
        }
        try await transaction(limit: nil) { c in
            let hashes = try await self.storeBlobs(files, on: c)
            _ = try await c.query("""
                UPDATE adapters SET files = \(try jsonText(hashes))::jsonb, sha256 = \(Data(hexString: AdapterContent.manifestHash(hashes))),
                    updated_at = now()
                WHERE version = \(record.version) AND sha256 IS NULL
                """, logger: self.logger)
        }
        return try await adapter(version: record.version) ?? record
    }

    /// pg_advisory_lock key for training the first adapter: "ILadaptr" in ASCII.
    static let firstAdapterLockKey: Int64 = 0x494C_6164_6170_7472

    /// Runs `body` holding a database-wide lock, so that replicas starting together train the
    /// first adapter once: the others wait and then find it in production.
    public func withFirstAdapterLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        // Waiting never answers nil.
        try await withAdvisoryLock(Self.firstAdapterLockKey, wait: true, body)!
    }

    /// Runs `body` holding the session-level advisory lock `key` on a connection of its own:
    /// waiting for it (no statement timeout meanwhile) or, with `wait` false, only if it is free
    /// (nil when another session holds it). Released however `body` ends.
    func withAdvisoryLock<T: Sendable>(_ key: Int64, wait: Bool, _ body: @Sendable () async throws -> T) async throws -> T? {
        try await client.withConnection { connection in
            if wait {
                _ = try await connection.query("SET statement_timeout = 0", logger: logger)
                _ = try await connection.query("SELECT pg_advisory_lock(\(key))", logger: logger)
            } else {
                var taken = false
                for try await ok in try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger).decode(Bool.self) { taken = ok }
                guard taken else { return nil }
            }
            func release() async {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                if wait { _ = try? await connection.query("RESET statement_timeout", logger: logger) }
            }
            do {
                let result = try await body()
                await release()
                return result
            } catch {
                await release()
                throw error
            }
        }
    }

    static func decodeAdapters(_ rows: PostgresRowSequence) async throws -> [AdapterRecord] {
        var out: [AdapterRecord] = []
        let decoder = JSONDecoder()
        func json<T: Decodable>(_ text: String, _ type: T.Type) -> T? { try? decoder.decode(type, from: Data(text.utf8)) }
        for try await row in rows {
            let r = row.makeRandomAccess()
            out.append(AdapterRecord(
                version: try r[0].decode(String.self), status: AdapterStatus(rawValue: try r[1].decode(String.self)) ?? .failed,
                statusReason: try r[2].decode(String.self), sha256: try r[3].decode(Data?.self).map(\.hex),
                files: json(try r[4].decode(String.self), [String: String].self) ?? [:],
                labels: json(try r[5].decode(String.self), [String].self) ?? [],
                metrics: json(try r[6].decode(String.self), [String: String].self) ?? [:],
                dataSummary: json(try r[7].decode(String.self), [String: Int].self) ?? [:],
                parentVersion: try r[8].decode(String?.self), jobID: try r[9].decode(Int64?.self), feedbackFrom: try r[10].decode(Int64?.self),
                feedbackTo: try r[11].decode(Int64?.self), datasetSHA256: try r[12].decode(String?.self), path: try r[13].decode(String?.self),
                createdAt: try r[14].decode(Date.self), promotedAt: try r[15].decode(Date?.self), shadowSince: try r[16].decode(Date?.self),
                gateReport: try r[17].decode(String?.self).flatMap { json($0, GateReport.self) }))
        }
        return out
    }
}

extension Data {
    /// Bytes from lower- or upper-case hexadecimal (a digest); empty for anything else.
    init(hexString: String) {
        var bytes: [UInt8] = []
        var iterator = hexString.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = UInt8(String(UnicodeScalar(high)), radix: 16), let l = UInt8(String(UnicodeScalar(low)), radix: 16) else { self.init(); return }
            bytes.append(h << 4 | l)
        }
        self.init(bytes)
    }
}
