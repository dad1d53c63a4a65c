import Foundation

/// Finds the project's resource folders (`Migrations/`, `web/`) at run time: an environment
/// variable first, then the folder beside the executable's package checkout (the binary lives in
/// `.build/<config>/`), then the working directory, then the source tree this was built from.
public enum ResourceDirectory {
    public static func locate(_ name: String, environment variable: String, marker: String) -> URL? {
        let fm = FileManager.default
        func has(_ dir: URL) -> Bool { fm.fileExists(atPath: dir.appendingPathComponent(marker).path) }
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty {
            return URL(fileURLWithPath: value, isDirectory: true)
        }
        var candidates: [URL] = []
        if let exe = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            var dir = exe.deletingLastPathComponent()
            for _ in 0..<5 {
                candidates.append(dir.appendingPathComponent(name, isDirectory: true))
                dir = dir.deletingLastPathComponent()
            }
        }
        candidates.append(URL(fileURLWithPath: fm.currentDirectoryPath, isDirectory: true).appendingPathComponent(name, isDirectory: true))
        // Sources/IntentStore/ResourceDirectory.swift → the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(name, isDirectory: true))
        return candidates.first(where: has)
    }

    /// The `Migrations/` folder (override: INTENTLOOP_MIGRATIONS).
    public static var migrations: URL? { locate("Migrations", environment: "INTENTLOOP_MIGRATIONS", marker: "0001_core.sql") }
    /// The `web/` folder of templates and static files (override: INTENTLOOP_WEB).
    public static var web: URL? { locate("web", environment: "INTENTLOOP_WEB", marker: "templates") }
    /// The demo dataset folder `ops/demo/` (override: INTENTLOOP_DEMO).
    public static var demo: URL? { locate("ops/demo", environment: "INTENTLOOP_DEMO", marker: "train.jsonl") }
    /// The Python loader for exported adapters `ops/python/` (override: INTENTLOOP_PYTHON).
    public static var python: URL? { locate("ops/python", environment: "INTENTLOOP_PYTHON", marker: "intentloop_adapter.py") }
}
