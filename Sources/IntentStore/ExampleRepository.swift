import Foundation
import IntentData
import PostgresNIO

public enum ExampleKind: String, Sendable, Codable { case training, golden }

public struct ImportSummary: Sendable, Codable, Equatable {
    public var received: Int
    public var inserted: Int
    public var duplicates: Int
    public var newIntents: [String]

    public init(received: Int, inserted: Int, duplicates: Int, newIntents: [String]) {
        self.received = received
        self.inserted = inserted
        self.duplicates = duplicates
        self.newIntents = newIntents
    }
}

extension Store {
    /// Imports labelled examples in one transaction: every example or none. New intent names
    /// join the taxonomy as active intents; examples already present are counted, not repeated.
    public func importExamples(_ examples: [LabelledExample], kind: ExampleKind, actor: Int64?, source: String = "import") async throws -> ImportSummary {
        for (i, e) in examples.enumerated() {
            guard Self.validIntentName(e.intent) else {
                throw StoreError(.invalid, "example \(i + 1): intent '\(e.intent.prefix(40))' is not 1–100 letters, digits or _.:/-", field: "intent")
            }
            if let problem = InputRules.textProblem(e.text) {
                throw StoreError(.invalid, "example \(i + 1): text \(problem)", field: "text")
            }
        }
        let texts = examples.map(\.text), intents = examples.map(\.intent)
        let names = Array(Set(intents)).sorted()
        return try await transaction(limit: nil) { connection in
            // Large imports may take longer than the server's per-statement limit for requests.
            _ = try await connection.query("SET LOCAL statement_timeout = 0", logger: self.logger)
            var created: [String] = []
            let newRows = try await connection.query("""
                INSERT INTO intents (name) SELECT unnest(\(names)::text[]) ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger: logger)
            for try await name in newRows.decode(String.self) { created.append(name) }
            // A proposed or rejected intent named by an import is approved by the import (an admin's act).
            try await connection.query("""
                UPDATE intents SET status = 'active', decided_by = \(actor), decided_at = now()
                WHERE name = ANY(\(names)::text[]) AND status <> 'active'
                """, logger: logger)
            let rows = try await connection.query("""
                INSERT INTO examples (text, intent, kind, source)
                SELECT t, i, \(kind.rawValue), \(source) FROM unnest(\(texts)::text[], \(intents)::text[]) AS x(t, i)
                ON CONFLICT (kind, text, intent) DO NOTHING RETURNING id
                """, logger: logger)
            var inserted = 0
            for try await _ in rows { inserted += 1 }
            let summary = ImportSummary(received: examples.count, inserted: inserted, duplicates: examples.count - inserted, newIntents: created.sorted())
            try await audit(actor: actor, action: "examples.import", subject: kind.rawValue,
                            details: ["received": "\(summary.received)", "inserted": "\(inserted)", "new_intents": "\(created.count)"], on: connection)
            return summary
        }
    }

    /// Every example of a kind, oldest first.
    public func examples(kind: ExampleKind) async throws -> [LabelledExample] {
        let rows = try await self.query("SELECT text, intent FROM examples WHERE kind = \(kind.rawValue) ORDER BY id")
        var out: [LabelledExample] = []
        for try await (text, intent) in rows.decode((String, String).self) { out.append(LabelledExample(text: text, intent: intent)) }
        return out
    }

    public func exampleCount(kind: ExampleKind) async throws -> Int {
        let rows = try await self.query("SELECT count(*) FROM examples WHERE kind = \(kind.rawValue)")
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }
}
