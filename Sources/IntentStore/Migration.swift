import Crypto
import Foundation
import LoopCore

/// One schema migration file, `NNNN_name.sql`: applied once, in version order, in a transaction.
/// Its SHA-256 is recorded when applied; a changed applied file stops the server from starting.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        checksum = SHA256.hash(data: Data(sql.utf8)).hex
    }

    /// Every `NNNN_name.sql` in `directory`, by version; versions must be unique.
    public static func load(from directory: URL) throws(StoreError) -> [Migration] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw StoreError(.migrationFiles, "cannot read the migrations folder \(directory.path)")
        }
        var out: [Migration] = []
        for file in names.sorted() where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw StoreError(.migrationFiles, "migration file \(file) is not named NNNN_name.sql")
            }
            guard let sql = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else {
                throw StoreError(.migrationFiles, "migration file \(file) is unreadable or not UTF-8")
            }
            if let previous = out.last, previous.version == version {
                throw StoreError(.migrationFiles, "two migrations have version \(version): \(previous.name) and \(stem)")
            }
            out.append(Migration(version: version, name: String(stem), sql: sql))
        }
        guard !out.isEmpty else { throw StoreError(.migrationFiles, "no NNNN_name.sql files in \(directory.path)") }
        return out
    }
}
