import Foundation
import IntentData
import IntentServer
import IntentStore
import IntentTestSupport
import Logging
import LoopCore
import Testing

/// The scheduler against a real database: one row per slot however many schedulers see it, a
/// slot with too little new feedback skipped with its reason, "new" counted from the last
/// successful training.
@Suite struct SchedulerTests {
    static let logger = Logger(label: "test")

    func scheduler(_ store: Store, minimum: Int) throws -> RetrainingScheduler {
        var settings = RetrainingScheduler.Settings(cron: try CronSchedule("0 3 * * 1"))
        settings.minimumNewFeedback = minimum
        return RetrainingScheduler(store: store, settings: settings, logger: Self.logger)
    }

    static let monday = ISO8601DateFormatter().date(from: "2026-12-07T03:00:00Z")!

    @Test func tooLittleFeedbackIsSkippedWithTheReasonThenEnoughQueues() async throws {
        try await TestDatabase.withStore { store in
            _ = try await store.importExamples([LabelledExample(text: "hi", intent: "greet"), LabelledExample(text: "bye", intent: "leave")],
                                               kind: .training, actor: nil)
            let agent = try await store.createUser(username: "agent", role: .agent, passwordHash: nil)
            _ = try await store.submit(text: "hello there", intent: "greet", agentID: agent.id)
            let s = try scheduler(store, minimum: 2)
            let before = Self.monday.addingTimeInterval(-60)
            #expect(try await s.recordDueSlot(after: before.addingTimeInterval(-3600), now: before) == .none)
            guard case .skipped(let slot, let id, let reason) = try await s.recordDueSlot(after: before, now: Self.monday.addingTimeInterval(5)) else {
                Issue.record("expected a skipped slot"); return
            }
            #expect(slot == "train@2026-12-07T03:00:00Z")
            #expect(reason == "only 1 new feedback item since the last training (the minimum is 2)")
            let skipped = try await store.job(id)
            #expect(skipped?.status == .skipped && skipped?.error == reason)
            // The same slot again (a second replica): nothing new.
            #expect(try await s.recordDueSlot(after: before, now: Self.monday.addingTimeInterval(30)) == .alreadyRecorded(slot: slot))

            // Enough feedback: the next slot queues a job.
            let f2 = try await store.submit(text: "see you", intent: "leave", agentID: agent.id)
            let nextWeek = Self.monday.addingTimeInterval(7 * 86400)
            guard case .queued(_, let job) = try await s.recordDueSlot(after: nextWeek.addingTimeInterval(-60), now: nextWeek) else {
                Issue.record("expected a queued slot"); return
            }
            // The slot after, while that job still waits: skipped, naming it (slow training never piles up jobs).
            let third = nextWeek.addingTimeInterval(7 * 86400)
            guard case .skipped(_, _, let busy) = try await s.recordDueSlot(after: third.addingTimeInterval(-60), now: third) else {
                Issue.record("expected the slot to be skipped while job \(job) is queued"); return
            }
            #expect(busy == "job \(job) is still queued")
            // Once that job succeeded with its data up to f2, nothing is new any more.
            let claimed = try #require(try await store.claimJob(worker: "w", kinds: ["train"], lease: .seconds(60)))
            #expect(claimed.id == job)
            #expect(try await store.finishJob(claimed, worker: "w", event: .succeeded, result: ["feedback_to": "\(f2.id)"]))
            #expect(try await store.feedbackSinceLastTraining() == 0)
        }
    }

    @Test func manySchedulersRecordOneRowPerSlot() async throws {
        try await TestDatabase.withStore { store in
            let schedulers = try (0..<6).map { _ in try scheduler(store, minimum: 0) }
            let outcomes = try await withThrowingTaskGroup(of: RetrainingScheduler.SlotOutcome.self) { group in
                for s in schedulers { group.addTask { try await s.recordDueSlot(after: Self.monday.addingTimeInterval(-120), now: Self.monday) } }
                return try await group.reduce(into: [RetrainingScheduler.SlotOutcome]()) { $0.append($1) }
            }
            let queued = outcomes.filter { if case .queued = $0 { true } else { false } }
            #expect(queued.count == 1)
            #expect(outcomes.filter { $0 == .alreadyRecorded(slot: "train@2026-12-07T03:00:00Z") }.count == 5)
            #expect(try await store.jobs().count == 1)
        }
    }
}
