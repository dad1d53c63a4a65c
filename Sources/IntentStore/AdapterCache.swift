import Foundation

/// Each process's local copy of adapters stored in PostgreSQL: `DIR/<manifest sha256>/<files>`.
/// A folder is used only when every file's SHA-256 matches the manifest; otherwise (first use,
/// a truncated write, a tampered file) the files are fetched again, verified, written to a
/// temporary folder and moved into place in one rename, so two processes sharing the directory
/// never see half an adapter.
public struct AdapterCache: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    /// A verified local folder holding `record`'s files.
    public func folder(for record: AdapterRecord, store: Store) async throws -> URL {
        guard let manifest = record.sha256, !record.files.isEmpty else {
            if let path = record.path { return URL(fileURLWithPath: path, isDirectory: true) }
            throw StoreError(.invalid, "adapter \(record.version) has no stored files")
        }
        for name in record.files.keys where !Self.safeName(name) {
            throw StoreError(.invalid, "adapter \(record.version) has a file named '\(name.prefix(100))'")
        }
        guard manifest.count == 64, manifest.allSatisfy(\.isHexDigit) else { throw StoreError(.invalid, "adapter \(record.version) has a malformed SHA-256") }
        let target = directory.appendingPathComponent(manifest, isDirectory: true)
        if Self.verify(target, files: record.files) { return target }
        var contents: [String: Data] = [:]
        for (name, digest) in record.files {
            guard let data = try await store.adapterBlob(digest) else {
                throw StoreError(.invalid, "adapter \(record.version): file \(name) (\(digest)) is missing from the database")
            }
            guard AdapterContent.hash(data) == digest else {
                throw StoreError(.invalid, "adapter \(record.version): file \(name) does not match its SHA-256 in the database")
            }
            contents[name] = data
        }
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(manifest).\(UUID().uuidString)", isDirectory: true)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
        defer { try? fm.removeItem(at: temporary) }
        for (name, data) in contents { try data.write(to: temporary.appendingPathComponent(name)) }
        // Another process may have put a verified copy in place meanwhile: use it, never remove it.
        if Self.verify(target, files: record.files) { return target }
        if fm.fileExists(atPath: target.path) { try? fm.removeItem(at: target) }  // a damaged copy
        do { try fm.moveItem(at: temporary, to: target) } catch where Self.verify(target, files: record.files) {
            // Another process put the same verified folder in place first.
        }
        guard Self.verify(target, files: record.files) else { throw StoreError(.invalid, "adapter \(record.version): the cached copy does not verify") }
        return target
    }

    /// Every listed file is present with the listed SHA-256.
    static func verify(_ folder: URL, files: [String: String]) -> Bool {
        files.allSatisfy { name, digest in
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) else { return false }
            return AdapterContent.hash(data) == digest
        }
    }

    static func safeName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 100 && !name.hasPrefix(".") && name.allSatisfy { $0.isLetter || $0.isNumber || "._-".contains($0) }
    }
}
