import Foundation
import Testing

/// The command-line contract: bad input exits with code 2 and one line naming the problem.
/// Runs the `intentloop` binary that `swift build --build-tests` puts beside the test bundle.
@Suite struct CLITests {
    static let binary: URL? = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug"),
        ]
        return candidates.map { $0.appendingPathComponent("intentloop") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()
    static let tinyBERT = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("IntentModelTests/Goldens/tiny-bert")

    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    func run(_ arguments: [String], stdin: String = "", environment: [String: String] = [:]) throws -> Run {
        let binary = try #require(Self.binary, "intentloop binary not built (swift build --build-tests builds it)")
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe(), output = Pipe(), error = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = error
        try p.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    func temporaryModel(_ edit: (URL) throws -> Void) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-cli-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.tinyBERT, to: dir)
        try edit(dir)
        return dir
    }

    func expectOneLineError(_ r: Run, containing text: String) {
        #expect(r.status == 2, "exit status \(r.status), stderr: \(r.stderr)")
        #expect(r.stderr.hasPrefix("error: "))
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        #expect(r.stderr.contains(text), "\(r.stderr) should contain \(text)")
    }

    @Test func embedAndTokenizeWork() throws {
        let tokens = try run(["tokenize", "--model", Self.tinyBERT.path], stdin: "the cat sat\nhelp me\n")
        #expect(tokens.status == 0)
        #expect(tokens.stdout.split(separator: "\n").first == #"{"ids":[2,5,7,9,3],"tokens":["[CLS]","the","cat","sat","[SEP]"]}"#)
        let embed = try run(["embed", "--model", Self.tinyBERT.path, "--normalize"], stdin: "the cat sat\nhelp me\n")
        #expect(embed.status == 0)
        #expect(embed.stdout.split(separator: "\n").count == 2)
    }

    @Test func missingModelDirectory() throws {
        expectOneLineError(try run(["embed", "--model", "/nonexistent/model"]), containing: "/nonexistent/model: model directory not found")
    }

    @Test func corruptWeights() throws {
        let dir = try temporaryModel { dir in
            let url = dir.appendingPathComponent("model.safetensors")
            try Data(contentsOf: url).prefix(1000).write(to: url)
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        expectOneLineError(try run(["embed", "--model", dir.path]), containing: "model.safetensors: truncated")
    }

    @Test func unknownArchitecture() throws {
        let dir = try temporaryModel { dir in
            try #"{"model_type": "gpt2"}"#.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        expectOneLineError(try run(["embed", "--model", dir.path]), containing: "config.json: unknown architecture 'gpt2'")
    }

    @Test func wrongDtype() throws {
        let dir = try temporaryModel { dir in
            // Rewrite the header so the word embeddings claim to be I32 (same byte size as F32).
            let url = dir.appendingPathComponent("model.safetensors")
            var data = try Data(contentsOf: url)
            let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            var header = String(decoding: data[8..<(8 + length)], as: UTF8.self)
            let key = "\"bert.embeddings.word_embeddings.weight\":{\"dtype\":\"F32\""
            #expect(header.contains(key))
            header = header.replacingOccurrences(of: key, with: key.replacingOccurrences(of: "F32", with: "I32"))
            data.replaceSubrange(8..<(8 + length), with: Data(header.utf8))
            try data.write(to: url)
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        expectOneLineError(try run(["embed", "--model", dir.path]), containing: "has dtype I32, expected a floating type")
    }

    @Test func badOptionsAndData() throws {
        expectOneLineError(try run(["embed", "--batch-size", "0", "--model", Self.tinyBERT.path]), containing: "--batch-size")
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString).jsonl")
        try "\n".write(to: empty, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: empty) }
        expectOneLineError(try run(["train", "--model", Self.tinyBERT.path, "--data", empty.path, "--out", "/tmp/x"]), containing: "dataset is empty")
    }
}
