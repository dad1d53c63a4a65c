import Foundation
import LoopCore
import PostgresNIO

/// Progress a running job reports with its heartbeat (shown by `jobs show` and the jobs page).
public struct JobProgress: Sendable, Codable, Equatable {
    public var phase: String
    public var epoch: Int?
    public var epochs: Int?
    public var step: Int?
    public var totalSteps: Int?
    public var loss: Double?
    public var examplesPerSecond: Double?
    public var etaSeconds: Double?

    public init(phase: String, epoch: Int? = nil, epochs: Int? = nil, step: Int? = nil, totalSteps: Int? = nil, loss: Double? = nil,
                examplesPerSecond: Double? = nil, etaSeconds: Double? = nil) {
        self.phase = phase
        self.epoch = epoch
        self.epochs = epochs
        self.step = step
        self.totalSteps = totalSteps
        self.loss = loss
        self.examplesPerSecond = examplesPerSecond
        self.etaSeconds = etaSeconds
    }

    enum CodingKeys: String, CodingKey {
        case phase, epoch, epochs, step, loss
        case totalSteps = "total_steps", examplesPerSecond = "examples_per_s", etaSeconds = "eta_s"
    }
}

public struct JobRecord: Sendable, Codable, Equatable {
    public let id: Int64
    public let kind: String
    public let status: JobStatus
    public let trigger: String
    public let slot: String?
    public let attempts: Int
    public let maxAttempts: Int
    public let worker: String?
    public let leaseUntil: Date?
    public let heartbeatAt: Date?
    public let cancelRequested: Bool
    public let progress: JobProgress?
    /// What the job produced (adapter version, metrics) or, for a skipped slot, nothing.
    public let result: [String: String]?
    /// Why it failed, was skipped, or was re-queued last.
    public let error: String?
    public let requestedBy: String?
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, kind, status, trigger, slot, attempts, worker, progress, result, error
        case maxAttempts = "max_attempts", leaseUntil = "lease_until", heartbeatAt = "heartbeat_at", cancelRequested = "cancel_requested"
        case requestedBy = "requested_by", createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
    }
}

/// A job a worker holds: run it, heartbeat it, finish it with this attempt number.
public struct ClaimedJob: Sendable, Equatable {
    public let id: Int64
    public let kind: String
    public let attempt: Int
    public let payload: [String: String]
}

public enum HeartbeatAnswer: Sendable, Equatable {
    case keepGoing
    /// Someone asked to cancel the job: stop and finish it with `.cancelAcknowledged`.
    case cancel
    /// The lease is no longer ours (it expired and the job was re-queued or failed): stop at once.
    case lost
}

extension Store {
    static let jobColumns = """
        j.id, j.kind, j.status, j.trigger, j.slot, j.attempts, j.max_attempts, j.worker, j.lease_until, j.heartbeat_at,
        j.cancel_requested_at IS NOT NULL, j.progress::text, j.result::text, j.error, u.username, j.created_at, j.started_at, j.finished_at
        """

    /// Queues a job. A manual `train` job while another is still queued returns that one instead
    /// (`created` false): a second click does not train twice.
    public func enqueueJob(kind: String, trigger: String = "manual", payload: [String: String] = [:], requestedBy: Int64? = nil,
                           maxAttempts: Int = 3) async throws -> (id: Int64, created: Bool) {
        let payloadJSON = try jsonText(payload)
        return try await transaction { c in
            _ = try await c.query("SELECT pg_advisory_xact_lock(\(Self.enqueueLockKey))", logger: self.logger)
            let queued = try await c.query("SELECT id FROM jobs WHERE kind = \(kind) AND status = 'queued' ORDER BY id LIMIT 1", logger: self.logger)
            for try await id in queued.decode(Int64.self) { return (id, false) }
            let rows = try await c.query("""
                INSERT INTO jobs (kind, status, trigger, payload, requested_by, max_attempts)
                VALUES (\(kind), 'queued', \(trigger), \(payloadJSON)::jsonb, \(requestedBy), \(maxAttempts)) RETURNING id
                """, logger: self.logger)
            for try await id in rows.decode(Int64.self) {
                try await self.audit(actor: requestedBy, action: "job.enqueue", subject: "\(id)", details: ["kind": kind, "trigger": trigger], on: c)
                return (id, true)
            }
            throw StoreError(.invalid, "job not stored")
        }
    }

    /// "ILjobenq": serialises manual enqueues so that two clicks at once queue one job.
    static let enqueueLockKey: Int64 = 0x494C_6A6F_6265_6E71

    /// Records a scheduled slot once, however many schedulers see it: a queued job, or a skipped
    /// row with the reason. Returns the new job's id, or nil when the slot was already recorded.
    /// A slot that falls while a job of its kind is still queued or running is skipped too (with
    /// that job named), so that slow training never piles up jobs.
    public func recordSlot(_ slot: String, kind: String, skipReason: String?, payload: [String: String] = [:]) async throws
        -> (id: Int64, skipReason: String?)? {
        let payloadJSON = try jsonText(payload)
        return try await transaction { c in
            _ = try await c.query("SELECT pg_advisory_xact_lock(\(Self.enqueueLockKey))", logger: self.logger)
            var reason = skipReason
            if reason == nil {
                let active = try await c.query("""
                    SELECT id, status FROM jobs WHERE kind = \(kind) AND status IN ('queued', 'running') ORDER BY id LIMIT 1
                    """, logger: self.logger)
                for try await (id, status) in active.decode((Int64, String).self) { reason = "job \(id) is still \(status)" }
            }
            let status = reason == nil ? "queued" : "skipped"
            let rows = try await c.query("""
                INSERT INTO jobs (kind, status, trigger, slot, payload, error, finished_at)
                VALUES (\(kind), \(status), 'schedule', \(slot), \(payloadJSON)::jsonb, \(reason),
                        CASE WHEN \(status) = 'skipped' THEN now() END)
                ON CONFLICT (slot) DO NOTHING RETURNING id
                """, logger: self.logger)
            for try await id in rows.decode(Int64.self) { return (id, reason) }
            return nil
        }
    }

    /// Claims the oldest runnable queued job (`FOR UPDATE SKIP LOCKED`: concurrent workers each
    /// get a different one, or none) and leases it to `worker` for `lease`.
    public func claimJob(worker: String, kinds: [String], lease: Duration) async throws -> ClaimedJob? {
        let leaseSeconds = Double(lease.components.seconds)
        return try await transaction { c in
            let rows = try await c.query("""
                SELECT id, kind, attempts, max_attempts, cancel_requested_at IS NOT NULL, payload::text FROM jobs
                WHERE status = 'queued' AND run_after <= now() AND kind = ANY(\(kinds)) AND cancel_requested_at IS NULL
                ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED
                """, logger: self.logger)
            for try await (id, kind, attempts, maxAttempts, cancel, payload) in rows.decode((Int64, String, Int, Int, Bool, String).self) {
                let state = JobState(status: .queued, attempts: attempts, maxAttempts: maxAttempts, cancelRequested: cancel)
                guard case .move(let next, _, _) = state.apply(.claimed) else { return nil }
                _ = try await c.query("""
                    UPDATE jobs SET status = 'running', attempts = \(next.attempts), worker = \(worker),
                        lease_until = now() + make_interval(secs => \(leaseSeconds)), heartbeat_at = now(),
                        started_at = coalesce(started_at, now()), progress = '{"phase": "starting"}'
                    WHERE id = \(id)
                    """, logger: self.logger)
                let decoded = (try? JSONDecoder().decode([String: String].self, from: Data(payload.utf8))) ?? [:]
                return ClaimedJob(id: id, kind: kind, attempt: next.attempts, payload: decoded)
            }
            return nil
        }
    }

    /// Renews the lease of a job this worker holds and stores its progress.
    public func heartbeat(_ job: ClaimedJob, worker: String, lease: Duration, progress: JobProgress?) async throws -> HeartbeatAnswer {
        let leaseSeconds = Double(lease.components.seconds)
        let progressJSON = try progress.map { try jsonText($0) }
        let rows = try await query("""
            UPDATE jobs SET lease_until = now() + make_interval(secs => \(leaseSeconds)), heartbeat_at = now(),
                progress = coalesce(\(progressJSON)::jsonb, progress)
            WHERE id = \(job.id) AND worker = \(worker) AND attempts = \(job.attempt) AND status = 'running'
            RETURNING cancel_requested_at IS NOT NULL
            """)
        for try await cancel in rows.decode(Bool.self) { return cancel ? .cancel : .keepGoing }
        return .lost
    }

    /// Ends this worker's attempt at a job: succeeded, failed (re-queued when retryable with
    /// attempts left) or cancelled. `alsoDo` runs in the same transaction (storing the job's
    /// adapter), so a job never succeeds without its result. False when the job is not ours any more.
    @discardableResult
    public func finishJob(_ job: ClaimedJob, worker: String, event: JobEvent, result: [String: String]? = nil,
                          alsoDo: (@Sendable (PostgresConnection) async throws -> Void)? = nil) async throws -> Bool {
        let resultJSON = try result.map { try jsonText($0) }
        return try await transaction(limit: nil) { c in
            // Storing an adapter's files may take longer than a server's per-request statement timeout.
            _ = try await c.query("SET LOCAL statement_timeout = 0", logger: self.logger)
            let rows = try await c.query("""
                SELECT status, attempts, max_attempts, cancel_requested_at IS NOT NULL FROM jobs
                WHERE id = \(job.id) AND worker = \(worker) AND attempts = \(job.attempt) FOR UPDATE
                """, logger: self.logger)
            var state: JobState?
            for try await (status, attempts, maxAttempts, cancel) in rows.decode((String, Int, Int, Bool).self) {
                state = JobState(status: JobStatus(rawValue: status) ?? .failed, attempts: attempts, maxAttempts: maxAttempts, cancelRequested: cancel)
            }
            guard let state, case .move(let next, let reason, let delay) = state.apply(event) else { return false }
            if let alsoDo { try await alsoDo(c) }
            let error: String? = next.status == .succeeded ? nil : reason
            _ = try await c.query("""
                UPDATE jobs SET status = \(next.status.rawValue), attempts = \(next.attempts), error = \(error),
                    result = coalesce(\(resultJSON)::jsonb, result),
                    progress = CASE WHEN \(next.status.rawValue) = 'queued' THEN '{}'::jsonb
                                    ELSE progress || jsonb_build_object('phase', \(next.status.rawValue)::text) END,
                    worker = CASE WHEN \(next.status.rawValue) = 'queued' THEN NULL ELSE worker END, lease_until = NULL,
                    run_after = now() + make_interval(secs => \(Double(delay))),
                    finished_at = CASE WHEN \(next.status.rawValue) = 'queued' THEN NULL ELSE now() END
                WHERE id = \(job.id)
                """, logger: self.logger)
            if next.status != .succeeded {
                try await Self.failTrainingAdapters(job: job.id, reason: reason, on: c, logger: self.logger)
            }
            return true
        }
    }

    /// Re-queues (or fails, on the last attempt) running jobs whose lease has passed: their
    /// worker died or lost the database. Any worker may do this; each row is handled once.
    @discardableResult
    public func reapExpiredLeases() async throws -> [(id: Int64, status: JobStatus, reason: String)] {
        try await transaction { c in
            let rows = try await c.query("""
                SELECT id, attempts, max_attempts, cancel_requested_at IS NOT NULL FROM jobs
                WHERE status = 'running' AND lease_until < now() FOR UPDATE SKIP LOCKED
                """, logger: self.logger)
            var expired: [(Int64, JobState)] = []
            for try await (id, attempts, maxAttempts, cancel) in rows.decode((Int64, Int, Int, Bool).self) {
                expired.append((id, JobState(status: .running, attempts: attempts, maxAttempts: maxAttempts, cancelRequested: cancel)))
            }
            var out: [(id: Int64, status: JobStatus, reason: String)] = []
            for (id, state) in expired {
                guard case .move(let next, let reason, _) = state.apply(.leaseExpired) else { continue }
                _ = try await c.query("""
                    UPDATE jobs SET status = \(next.status.rawValue), error = \(reason), worker = NULL, lease_until = NULL, run_after = now(),
                        progress = CASE WHEN \(next.status.rawValue) = 'queued' THEN '{}'::jsonb
                                        ELSE progress || jsonb_build_object('phase', \(next.status.rawValue)::text) END,
                        finished_at = CASE WHEN \(next.status.rawValue) = 'queued' THEN NULL ELSE now() END
                    WHERE id = \(id)
                    """, logger: self.logger)
                try await Self.failTrainingAdapters(job: id, reason: reason, on: c, logger: self.logger)
                out.append((id, next.status, reason))
            }
            return out
        }
    }

    /// Adapters a job left in `training` become `failed` when that attempt ends without success.
    static func failTrainingAdapters(job: Int64, reason: String, on c: PostgresConnection, logger: Logger) async throws {
        _ = try await c.query("""
            UPDATE adapters SET status = 'failed', status_reason = \(reason), updated_at = now()
            WHERE job_id = \(job) AND status = 'training'
            """, logger: logger)
    }

    /// Cancels a queued job at once, or asks a running one to stop (its worker does at the next
    /// heartbeat). Refused for a finished job.
    public func cancelJob(_ id: Int64, actor: Int64?) async throws -> JobRecord {
        try await transaction { c in
            let rows = try await c.query("""
                SELECT status, attempts, max_attempts, cancel_requested_at IS NOT NULL FROM jobs WHERE id = \(id) FOR UPDATE
                """, logger: self.logger)
            var state: JobState?
            for try await (status, attempts, maxAttempts, cancel) in rows.decode((String, Int, Int, Bool).self) {
                state = JobState(status: JobStatus(rawValue: status) ?? .failed, attempts: attempts, maxAttempts: maxAttempts, cancelRequested: cancel)
            }
            guard let state else { throw StoreError(.notFound, "no job \(id)", field: "id") }
            switch state.apply(.cancelRequested) {
            case .refuse(let why):
                throw StoreError(.conflict, "job \(id) cannot be cancelled: \(why)", field: "id")
            case .move(let next, let reason, _):
                _ = try await c.query("""
                    UPDATE jobs SET status = \(next.status.rawValue), cancel_requested_at = coalesce(cancel_requested_at, now()),
                        progress = CASE WHEN \(next.status.rawValue) = 'cancelled' THEN progress || '{"phase": "cancelled"}'::jsonb ELSE progress END,
                        error = CASE WHEN \(next.status.rawValue) = 'cancelled' THEN \(reason) ELSE error END,
                        finished_at = CASE WHEN \(next.status.rawValue) = 'cancelled' THEN now() ELSE finished_at END
                    WHERE id = \(id)
                    """, logger: self.logger)
                try await self.audit(actor: actor, action: "job.cancel", subject: "\(id)", details: ["reason": reason], on: c)
            }
            let found = try await Self.decodeJobs(try await c.query("SELECT \(unescaped: Self.jobColumns) FROM jobs j LEFT JOIN users u ON u.id = j.requested_by WHERE j.id = \(id)", logger: self.logger))
            return found[0]
        }
    }

    public func job(_ id: Int64) async throws -> JobRecord? {
        try await Self.decodeJobs(try await query("SELECT \(unescaped: Self.jobColumns) FROM jobs j LEFT JOIN users u ON u.id = j.requested_by WHERE j.id = \(id)")).first
    }

    /// The newest jobs first.
    public func jobs(limit: Int = 50) async throws -> [JobRecord] {
        try await Self.decodeJobs(try await query("""
            SELECT \(unescaped: Self.jobColumns) FROM jobs j LEFT JOIN users u ON u.id = j.requested_by ORDER BY j.id DESC LIMIT \(limit)
            """))
    }

    /// Feedback stored after the last successful training job's data was assembled.
    public func feedbackSinceLastTraining() async throws -> Int {
        let rows = try await query("""
            SELECT count(*) FROM feedback WHERE id > coalesce((
                SELECT max((result->>'feedback_to')::bigint) FROM jobs WHERE kind = 'train' AND status = 'succeeded'), 0)
            """)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    static func decodeJobs(_ rows: PostgresRowSequence) async throws -> [JobRecord] {
        var out: [JobRecord] = []
        let decoder = JSONDecoder()
        for try await row in rows {
            let r = row.makeRandomAccess()
            let progress = try r[11].decode(String.self)
            let result = try r[12].decode(String?.self)
            out.append(JobRecord(
                id: try r[0].decode(Int64.self), kind: try r[1].decode(String.self),
                status: JobStatus(rawValue: try r[2].decode(String.self)) ?? .failed, trigger: try r[3].decode(String.self),
                slot: try r[4].decode(String?.self), attempts: try r[5].decode(Int.self), maxAttempts: try r[6].decode(Int.self),
                worker: try r[7].decode(String?.self), leaseUntil: try r[8].decode(Date?.self), heartbeatAt: try r[9].decode(Date?.self),
                cancelRequested: try r[10].decode(Bool.self),
                progress: progress == "{}" ? nil : try? decoder.decode(JobProgress.self, from: Data(progress.utf8)),
                result: result.flatMap { try? decoder.decode([String: String].self, from: Data($0.utf8)) },
                error: try r[13].decode(String?.self), requestedBy: try r[14].decode(String?.self), createdAt: try r[15].decode(Date.self),
                startedAt: try r[16].decode(Date?.self), finishedAt: try r[17].decode(Date?.self)))
        }
        return out
    }
}

func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
