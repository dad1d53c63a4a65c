import Foundation
import IntentData
import Testing

@Suite struct DatasetFileTests {
    func write(_ name: String, _ content: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try content.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func readsJSONLWithIntentOrLabel() throws {
        let path = try write("d.jsonl", "{\"text\":\"hi\",\"intent\":\"greet\"}\n\n{\"text\":\"bye\",\"label\":\"leave\"}\n")
        #expect(try DatasetFile.load(path) == [.init(text: "hi", intent: "greet"), .init(text: "bye", intent: "leave")])
    }

    @Test func readsCSVWithQuotedFields() throws {
        let path = try write("d.csv", "text,category\n\"Hello, there\",greet\n\"say \"\"bye\"\"\",leave\n")
        #expect(try DatasetFile.load(path) == [.init(text: "Hello, there", intent: "greet"), .init(text: "say \"bye\"", intent: "leave")])
    }

    @Test func readsSplitKeyedJSON() throws {
        let path = try write("d.json", #"{"train": [["a b", "x"]], "test": [["c", "y"], ["d", "z"]]}"#)
        #expect(try DatasetFile.load(path + "#test").count == 2)
        let error = try #require(throws: DatasetError.self) { try DatasetFile.load(path) }
        #expect(error.description.contains("choose a split"))
        #expect(throws: DatasetError.self) { try DatasetFile.load(path + "#val") }
    }

    @Test func badLinesAreNamed() throws {
        let jsonl = try write("bad.jsonl", "{\"text\":\"ok\",\"intent\":\"a\"}\n{\"text\": 3}\n")
        #expect((try? DatasetFile.load(jsonl)) == nil)
        let e1 = try #require(throws: DatasetError.self) { try DatasetFile.load(jsonl) }
        #expect(e1.line == 2)
        let csv = try write("bad.csv", "text,intent\nfine,a\ntoo,many,fields\n")
        let e2 = try #require(throws: DatasetError.self) { try DatasetFile.load(csv) }
        #expect(e2.line == 3)
        let noColumn = try write("nocol.csv", "utterance,intent\nx,a\n")
        let e3 = try #require(throws: DatasetError.self) { try DatasetFile.load(noColumn) }
        #expect(e3.problem.contains("'text'"))
    }

    @Test func emptyAndUnknownFilesAreErrors() throws {
        let empty = try write("e.jsonl", "\n")
        let e = try #require(throws: DatasetError.self) { try DatasetFile.load(empty) }
        #expect(e.problem == "dataset is empty")
        #expect(throws: DatasetError.self) { try DatasetFile.load(try write("x.txt", "hi")) }
        #expect(throws: DatasetError.self) { try DatasetFile.load("/nonexistent.jsonl") }
    }
}
