import Foundation
import PostgresNIO

/// The confidence bins the admin home's histogram and `intentloop_prediction_confidence` share:
/// tenths up to 0.9, then finer where a well-trained model puts most of its answers.
public enum ConfidenceBins {
    /// Upper edges; the last bin is [0.99, 1].
    public static let edges: [Double] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]

    /// "0.0–0.1", …, "0.99–1" (one per bin, `edges.count + 1` of them).
    public static var labels: [String] {
        let bounds = [0.0] + edges + [1.0]
        func text(_ v: Double) -> String { v == 0 || v == 1 ? String(format: "%.0f", v) : String(format: v * 10 == (v * 10).rounded() ? "%.1f" : "%.2f", v) }
        return (0..<bounds.count - 1).map { "\(text(bounds[$0]))–\(text(bounds[$0 + 1]))" }
    }
}

/// The window the admin home looks back over, and the review backlog's (page and gauge alike).
public enum DashboardWindow {
    public static let days = 30
    /// The review backlog is counted up to this (a bounded query however large the table).
    public static let backlogCap = 100_000

    /// UTC midnight `days - 1` days before `now`'s day: the window holds `days` calendar days, today included.
    public static func start(now: Date = Date()) -> Date {
        let today = (now.timeIntervalSince1970 / 86400).rounded(.down) * 86400
        return Date(timeIntervalSince1970: today - Double(days - 1) * 86400)
    }

    /// UTC midnight starting `now`'s day.
    public static func today(now: Date = Date()) -> Date {
        Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 86400).rounded(.down) * 86400)
    }
}

/// One UTC day of served predictions.
public struct DashboardDay: Sendable, Equatable {
    /// UTC midnight starting the day.
    public let day: Date
    public let predictions: Int
    public let meanConfidence: Double
    /// Predictions per confidence bin (`ConfidenceBins`), `edges.count + 1` entries.
    public let bins: [Int]
}

/// Agents' verdicts on one predicted intent.
public struct IntentVerdicts: Sendable, Equatable {
    public let intent: String
    public let confirmed: Int
    public let corrected: Int
}

/// The admin home's numbers. Every query is bounded by a date window (and a LIMIT) and walks an
/// index: predictions by `created_at`; feedback by `(agent_id, created_at)`, one short range per
/// user (`feedback` has no index on `created_at` alone, and `users` is small); verdicts by
/// `prediction_id`; golden outcomes by their primary key. The per-day pass reads every
/// prediction of the window: at millions a day it wants a daily rollup table instead.
extension Store {
    /// Predictions per UTC day since `since`, with their confidence per bin: one pass over the
    /// window (`predictions_created`), at most 400 groups (a day × a bin).
    public func dashboardDays(since: Date) async throws -> [DashboardDay] {
        let rows = try await query("""
            SELECT floor(extract(epoch FROM created_at) / 86400)::bigint AS day,
                   width_bucket(confidence::float8, \(ConfidenceBins.edges)::float8[]) AS bin,
                   count(*), sum(confidence)::float8
            FROM predictions WHERE created_at >= \(since)
            GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 400
            """)
        var days: [Int64: (count: Int, sum: Double, bins: [Int])] = [:]
        let binCount = ConfidenceBins.edges.count + 1
        for try await (day, bin, n, sum) in rows.decode((Int64, Int32, Int64, Double).self) {
            var entry = days[day] ?? (0, 0, [Int](repeating: 0, count: binCount))
            entry.count += Int(n)
            entry.sum += sum
            entry.bins[min(max(Int(bin), 0), binCount - 1)] += Int(n)
            days[day] = entry
        }
        return days.keys.sorted().map { day in
            let e = days[day]!
            return DashboardDay(day: Date(timeIntervalSince1970: Double(day) * 86400), predictions: e.count,
                                meanConfidence: e.count == 0 ? 0 : e.sum / Double(e.count), bins: e.bins)
        }
    }

    /// Predictions served since `since` that nobody has reviewed, counted up to `cap` (the
    /// answer is `cap` when there are at least that many): the review backlog.
    public func reviewBacklog(since: Date = DashboardWindow.start(), cap: Int = DashboardWindow.backlogCap) async throws -> Int {
        let rows = try await query("""
            SELECT count(*) FROM (
                SELECT 1 FROM predictions p WHERE p.created_at >= \(since)
                AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.prediction_id = p.id)
                LIMIT \(cap)
            ) q
            """)
        for try await n in rows.decode(Int64.self) { return Int(n) }
        return 0
    }

    /// Confirmed and corrected predictions per predicted intent, verdicts given since `since`;
    /// the `limit` intents with the most verdicts (then by name).
    public func verdictsByIntent(since: Date, limit: Int = 15) async throws -> [IntentVerdicts] {
        // Counted per user inside the lateral (which keeps it from being flattened into a scan of
        // all feedback), then summed per intent.
        let rows = try await query("""
            SELECT v.intent, sum(v.confirmed)::bigint, sum(v.corrected)::bigint
            FROM users u CROSS JOIN LATERAL (
                SELECT f.predicted_intent AS intent, count(*) FILTER (WHERE f.verdict = 'confirm') AS confirmed,
                       count(*) FILTER (WHERE f.verdict = 'correct') AS corrected
                FROM feedback f
                WHERE f.agent_id = u.id AND f.created_at >= \(since) AND f.prediction_id IS NOT NULL AND f.predicted_intent IS NOT NULL
                GROUP BY 1
            ) v
            GROUP BY 1 ORDER BY sum(v.confirmed + v.corrected) DESC, 1 LIMIT \(limit)
            """)
        var out: [IntentVerdicts] = []
        for try await (intent, confirmed, corrected) in rows.decode((String, Int64, Int64).self) {
            out.append(IntentVerdicts(intent: intent, confirmed: Int(confirmed), corrected: Int(corrected)))
        }
        return out
    }

    /// An adapter's stored golden-set outcomes (true label, prediction), at most `limit`: the
    /// golden figures of an adapter whose own metrics lack them (the first start's adapter, whose
    /// golden outcomes its children's training jobs store).
    public func goldenOutcomes(version: String, limit: Int = 100_000) async throws -> [(label: String, predicted: String)] {
        let rows = try await query("""
            SELECT label, predicted FROM adapter_outcomes WHERE adapter_version = \(version) AND source = 'golden' LIMIT \(limit)
            """)
        var out: [(label: String, predicted: String)] = []
        for try await (label, predicted) in rows.decode((String, String).self) { out.append((label, predicted)) }
        return out
    }
}
