import Foundation
import IntentKernels
import IntentStore
import Logging
import LoopCore
import ServiceLifecycle

/// Applies the promotion gate (`Gate.decide`, pure) to the adapters waiting for it: a fresh
/// candidate gets the offline gate (evaluation pool and golden set, paired with the production
/// adapter it was trained against); a shadow adapter gets the final gate once live traffic and
/// agents' labels add to the evidence. Every decision's report is stored with the adapter; a
/// promotion is one transaction with its deployment record. Runs in every `serve` replica: the
/// repository's row locks and lifecycle checks make two replicas deciding at once harmless (the
/// second finds the move already made and leaves it).
public struct GateKeeper: Service {
    let store: Store
    let logger: Logger
    var interval: Duration = .seconds(5)
    let memory = DecisionMemory()

    public init(store: Store, logger: Logger, interval: Duration = .seconds(5)) {
        self.store = store
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await tick()
                try? await Task.sleep(for: interval)
            }
        }
    }

    func tick() async {
        // One replica decides per tick (the others find the lock taken and skip).
        do { _ = try await store.whileHoldingGateLock { try await decideAll(now: Date()) } } catch let error as StoreError where error.code == .conflict {
            logger.debug("gate: another replica moved first", metadata: ["error": "\(error.message)"])
        } catch {
            logger.warning("gate: could not decide; retrying", metadata: ["error": "\(String(reflecting: error))"])
        }
    }

    /// One pass over the candidates (newest first; older ones are superseded) and the shadow.
    public func decideAll(now: Date = Date()) async throws {
        let waiting = try await store.adapters(statuses: [.candidate, .shadow])
        guard !waiting.isEmpty else { return }
        let policy = try await store.gatePolicy()
        let production = try await store.productionAdapter()
        let candidates = waiting.filter { $0.status == .candidate }
        for (i, old) in candidates.enumerated() where i > 0 {
            try await store.transitionAdapter(old.version, .rejected("superseded by \(candidates[0].version)"), actor: .gate)
        }
        var shadow = waiting.first { $0.status == .shadow }
        if let candidate = candidates.first {
            guard let production, candidate.parentVersion == production.version else {
                try await store.transitionAdapter(candidate.version, .rejected(
                    "trained against \(candidate.parentVersion ?? "no adapter"), but production is now \(production?.version ?? "none"): the next training run will use it"),
                    actor: .gate)
                return
            }
            if let report = try await decide(.offline, try await evidence(candidate, production: production, shadow: false, now: now), policy,
                                             for: candidate.version) {
                try await act(on: candidate, report.0, replacing: &shadow)
                memory.remember(report.1)  // only once carried out: a failed move is decided again next tick
            }
        }
        if let current = shadow, current.status == .shadow {
            guard let production, current.parentVersion == production.version else {
                try await store.transitionAdapter(current.version, .rejected(
                    "trained against \(current.parentVersion ?? "no adapter"), but production is now \(production?.version ?? "none")"), actor: .gate)
                return
            }
            if let report = try await decide(.shadow, try await evidence(current, production: production, shadow: true, now: now), policy,
                                             for: current.version) {
                try await act(on: current, report.0, replacing: &shadow)
                memory.remember(report.1)
            }
        }
    }

    /// `Gate.decide` bootstraps over every paired item: CPU work, on a thread of its own in the
    /// background (SCHED_IDLE, like training), so serving never waits for it. The same evidence
    /// under the same policy is not decided twice: a waiting shadow costs one query per tick,
    /// not a bootstrap, until labels or predictions arrive (or another hour passes).
    func decide(_ stage: GateStage, _ evidence: GateEvidence, _ policy: GatePolicy, for version: String) async throws -> (GateReport, String)? {
        let key = "\(version)|\(stage)|\(evidence.evaluationPool.count)|\(evidence.golden.count)|\(evidence.shadowLabelled.count)|\(evidence.shadowPredictions)|\(Int(evidence.shadowHours))|\(String(describing: policy))"
        if memory.seen(key) { return nil }
        let report = try await onDedicatedThread(name: "intentloop.gate") { () -> GateReport in
            lowerThreadPriority(by: 10)
            return Gate.decide(stage: stage, evidence: evidence, policy: policy)
        }
        return (report, key)
    }

    func evidence(_ candidate: AdapterRecord, production: AdapterRecord, shadow: Bool, now: Date) async throws -> GateEvidence {
        var e = GateEvidence()
        let paired = try await store.pairedOutcomes(candidate: candidate.version, baseline: production.version)
        e.evaluationPool = paired[.evaluationPool] ?? []
        e.golden = paired[.golden] ?? []
        if let first = try await store.firstProductionWithGolden(), first != production.version {
            e.goldenFirst = try await store.pairedOutcomes(candidate: candidate.version, baseline: first)[.golden] ?? []
        }
        e.candidateLearnedMore = candidate.dataSummary["feedback_trained", default: 0] > production.dataSummary["feedback_trained", default: 0]
        e.goldenExpected = Int(candidate.metrics["golden_size"] ?? "") ?? 0
        if shadow {
            let live = try await store.shadowEvidence(candidate: candidate.version, baseline: production.version)
            e.shadowPredictions = live.predictions
            e.shadowAgreements = live.agreements
            e.shadowLabelled = live.labelled
            e.shadowHours = max(0, now.timeIntervalSince(candidate.shadowSince ?? now) / 3600)
        }
        return e
    }

    /// Carries out a verdict; `shadow` is the adapter in shadow (updated when this one replaces it).
    func act(on adapter: AdapterRecord, _ report: GateReport, replacing shadow: inout AdapterRecord?) async throws {
        let reason = report.reasons.first ?? report.rule
        switch report.verdict {
        case .promote:
            if let other = shadow, other.version != adapter.version {
                try await store.transitionAdapter(other.version, .rejected("superseded by \(adapter.version)"), actor: .gate)
                shadow = nil
            }
            try await store.promote(adapter.version, by: .gate, actor: .gate, reason: "\(report.rule): \(reason)", report: report,
                                    replacing: adapter.parentVersion)
            if shadow?.version == adapter.version { shadow = nil }
            logger.notice("gate promoted an adapter", metadata: ["intent.adapter.version": "\(adapter.version)", "gate.rule": "\(report.rule)"])
        case .shadow:
            if let other = shadow, other.version != adapter.version {
                try await store.transitionAdapter(other.version, .rejected("superseded by \(adapter.version)"), actor: .gate)
            }
            try await store.transitionAdapter(adapter.version, .passedOfflineGate(reason), report: report, actor: .gate)
            shadow = nil  // decided on its next pass, with live evidence
            logger.info("gate: candidate runs in shadow", metadata: ["intent.adapter.version": "\(adapter.version)"])
        case .reject:
            try await store.transitionAdapter(adapter.version, .rejected("\(report.rule): \(reason)"), report: report, actor: .gate)
            if shadow?.version == adapter.version { shadow = nil }
            logger.info("gate rejected an adapter", metadata: ["intent.adapter.version": "\(adapter.version)", "gate.rule": "\(report.rule)"])
        case .wait, .approve:
            try await store.recordGateReport(adapter.version, report)
        }
    }
}

/// The last evidence the gate decided on (one entry: the gate looks at one adapter per stage).
final class DecisionMemory: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [String] = []
    func seen(_ key: String) -> Bool { lock.withLock { keys.contains(key) } }
    func remember(_ key: String) { lock.withLock { keys = Array((keys + [key]).suffix(4)) } }
}
