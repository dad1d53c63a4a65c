import Foundation
import IntentStore
import Logging
import LoopCore
import ServiceLifecycle

/// Queues a training job at each slot of a cron schedule when enough new feedback arrived since
/// the last successful training, and otherwise records the slot as skipped with the reason. Any
/// number of schedulers (replicas) may run: the slot's unique key makes exactly one row per slot.
public struct RetrainingScheduler: Service {
    public struct Settings: Sendable {
        public var cron: CronSchedule
        /// New feedback items needed since the last successful training for a slot to train.
        public var minimumNewFeedback = 20
        /// How often the clock is checked.
        public var tick: Duration = .seconds(30)
        /// A slot this recent is still run at start-up (a restart just after 03:00 does not lose it).
        public var catchUp: TimeInterval = 3600
        public init(cron: CronSchedule) { self.cron = cron }
    }

    let store: Store
    let settings: Settings
    let logger: Logger
    let now: @Sendable () -> Date

    public init(store: Store, settings: Settings, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        logger.info("scheduler started", metadata: ["schedule": "\(settings.cron)", "schedule.minimum_new_feedback": "\(settings.minimumNewFeedback)"])
        try? await cancelWhenGracefulShutdown {
            var cursor = now().addingTimeInterval(-settings.catchUp)
            while !Task.isCancelled {
                let t = now()
                do {
                    try await recordDueSlot(after: cursor, now: t)
                    cursor = t
                } catch {
                    logger.warning("scheduler could not record a slot; retrying", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: settings.tick)
            }
        }
    }

    public enum SlotOutcome: Sendable, Equatable {
        case none
        case queued(slot: String, job: Int64)
        case skipped(slot: String, job: Int64, reason: String)
        /// Another scheduler recorded this slot first.
        case alreadyRecorded(slot: String)
    }

    /// Records the latest slot in (`cursor`, `now`], if any.
    @discardableResult
    public func recordDueSlot(after cursor: Date, now: Date) async throws -> SlotOutcome {
        guard let slot = SchedulePlan.dueSlot(settings.cron, after: cursor, now: now) else { return .none }
        let key = SchedulePlan.slotKey(slot)
        let newFeedback = try await store.feedbackSinceLastTraining()
        let reason = SchedulePlan.skipReason(newFeedback: newFeedback, minimum: settings.minimumNewFeedback)
        guard let (id, recorded) = try await store.recordSlot(key, kind: "train", skipReason: reason, payload: ["new_feedback": "\(newFeedback)"])
        else { return .alreadyRecorded(slot: key) }
        if let reason = recorded {
            logger.info("scheduled training skipped", metadata: ["job.id": "\(id)", "job.slot": "\(key)", "reason": "\(reason)"])
            return .skipped(slot: key, job: id, reason: reason)
        }
        logger.info("scheduled training queued", metadata: ["job.id": "\(id)", "job.slot": "\(key)", "new_feedback": "\(newFeedback)"])
        return .queued(slot: key, job: id)
    }
}
