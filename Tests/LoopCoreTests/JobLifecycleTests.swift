import LoopCore
import Testing

@Suite struct JobLifecycleTests {
    static func s(_ status: JobStatus, _ attempts: Int, max: Int = 3, cancel: Bool = false) -> JobState {
        JobState(status: status, attempts: attempts, maxAttempts: max, cancelRequested: cancel)
    }

    // (from, event, resulting status or nil when refused, attempts after, delay seconds)
    static let table: [(JobState, JobEvent, JobStatus?, Int, Int)] = [
        (s(.queued, 0), .claimed, .running, 1, 0),
        (s(.queued, 0, cancel: true), .claimed, nil, 0, 0),
        (s(.running, 1), .claimed, nil, 1, 0),
        (s(.running, 1), .succeeded, .succeeded, 1, 0),
        (s(.queued, 0), .succeeded, nil, 0, 0),
        (s(.running, 1), .failed("db away", retryable: true), .queued, 1, 30),
        (s(.running, 2), .failed("db away", retryable: true), .queued, 2, 60),
        (s(.running, 3), .failed("db away", retryable: true), .failed, 3, 0),
        (s(.running, 1), .failed("no data", retryable: false), .failed, 1, 0),
        (s(.running, 1), .leaseExpired, .queued, 1, 0),
        (s(.running, 3), .leaseExpired, .failed, 3, 0),
        (s(.running, 1, cancel: true), .leaseExpired, .cancelled, 1, 0),
        (s(.queued, 0), .leaseExpired, nil, 0, 0),
        (s(.queued, 0), .cancelRequested, .cancelled, 0, 0),
        (s(.running, 1), .cancelRequested, .running, 1, 0),
        (s(.running, 1, cancel: true), .cancelRequested, nil, 1, 0),
        (s(.running, 1, cancel: true), .cancelAcknowledged, .cancelled, 1, 0),
        (s(.succeeded, 1), .cancelRequested, nil, 1, 0),
        (s(.skipped, 0), .cancelRequested, nil, 0, 0),
        (s(.failed, 3), .claimed, nil, 3, 0),
        (s(.running, 1, cancel: true), .failed("db away", retryable: true), .cancelled, 1, 0),  // never back to the queue
        (s(.running, 3), .released, .queued, 2, 0),  // a shutdown does not use up an attempt
        (s(.running, 1, cancel: true), .released, .cancelled, 1, 0),
        (s(.queued, 0), .released, nil, 0, 0),
        (s(.cancelled, 0), .claimed, nil, 0, 0),
    ]

    @Test(arguments: table)
    func transition(from: JobState, event: JobEvent, to: JobStatus?, attempts: Int, delay: Int) {
        switch from.apply(event) {
        case .move(let next, let reason, let retryAfter):
            #expect(next.status == to)
            #expect(next.attempts == attempts)
            #expect(retryAfter == delay)
            #expect(!reason.isEmpty)
        case .refuse(let why):
            #expect(to == nil, "refused: \(why)")
            #expect(!why.isEmpty)
        }
    }

    @Test func backoffDoublesAndIsCapped() {
        #expect((1...8).map(JobState.backoffSeconds(afterAttempt:)) == [30, 60, 120, 240, 480, 600, 600, 600])
    }

    @Test func finishedStatesAreFinal() {
        for status in JobStatus.allCases where status.isFinished {
            for event in [JobEvent.claimed, .succeeded, .leaseExpired, .cancelAcknowledged, .failed("x", retryable: true), .released] {
                if case .move = Self.s(status, 1).apply(event) { Issue.record("\(status) moved on \(event)") }
            }
        }
    }

    /// Every (status, event) pair: the allowed moves lead where the diagram says, all others are refused.
    @Test func adapterLifecycle() {
        let events: [AdapterEvent] = [
            .trained("t"), .trainingFailed("f"), .passedOfflineGate("o"), .rejected("r"), .promoted(.gate, "g"), .promoted(.admin, "a"),
            .replaced(by: "v9"), .rolledBack("b"), .restored("s"),
        ]
        let allowed: [AdapterStatus: [String: AdapterStatus]] = [
            .training: ["t": .candidate, "f": .failed],
            .candidate: ["o": .shadow, "r": .rejected, "g": .production, "a": .production],
            .shadow: ["r": .rejected, "g": .production, "a": .production],
            .production: ["replaced by v9": .retired, "b": .retired],
            .retired: ["a": .production, "s": .production],
            .rejected: ["a": .production],
            .failed: [:],
        ]
        for from in AdapterStatus.allCases {
            for event in events {
                switch from.apply(event) {
                case .success(let t):
                    #expect(allowed[from]?[event.reason] == t.status, "\(from) on \(event)")
                    #expect(t.reason == event.reason)
                case .failure(let refusal):
                    #expect(allowed[from]?[event.reason] == nil, "\(from) refused \(event)")
                    #expect(refusal.description.hasPrefix("an adapter in \(from.rawValue) cannot"))
                }
            }
        }
        guard case .failure(let refusal) = AdapterStatus.rejected.apply(.promoted(.gate, "g")) else { Issue.record("the gate promoted a rejected adapter"); return }
        #expect(refusal.from == .rejected && refusal.description == "an adapter in rejected cannot promote")
    }
}
