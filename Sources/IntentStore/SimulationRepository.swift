import Foundation
import PostgresNIO

/// One stored `intentloop simulate` result: a one-line summary and the report as JSON.
public struct SimulationRunRecord: Sendable, Equatable {
    public let id: Int64
    public let summary: String
    public let report: String
    public let createdAt: Date
}

extension Store {
    /// Keeps a simulation's report (JSON text, checked by the caller) with its summary; audited.
    public func storeSimulationRun(summary: String, reportJSON: String, actor: Int64?) async throws -> Int64 {
        try await transaction { c in
            var id: Int64 = 0
            for try await v in try await c.query("""
                INSERT INTO simulation_runs (summary, report, actor) VALUES (\(summary), \(reportJSON)::jsonb, \(actor)) RETURNING id
                """, logger: self.logger).decode(Int64.self) { id = v }
            try await self.audit(actor: actor, action: "simulation.stored", subject: "\(id)", details: ["summary": summary], on: c)
            return id
        }
    }

    /// The newest simulation runs first.
    public func simulationRuns(limit: Int = 10) async throws -> [SimulationRunRecord] {
        let rows = try await query("SELECT id, summary, report::text, created_at FROM simulation_runs ORDER BY id DESC LIMIT \(limit)")
        var out: [SimulationRunRecord] = []
        for try await (id, summary, report, at) in rows.decode((Int64, String, String, Date).self) {
            out.append(SimulationRunRecord(id: id, summary: summary, report: report, createdAt: at))
        }
        return out
    }
}
