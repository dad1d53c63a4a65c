import IntentStore

/// Group commit for prediction requests: each request hands its rows over and waits; one
/// INSERT at a time writes everything that arrived meanwhile, then answers all of its waiters.
/// Under load the batches grow by themselves; idle, a request is written at once.
///
/// Isolation: one request's rows must never fail another's. Requests are validated before
/// they get here; if a merged INSERT still fails for a reason other than an outage, each
/// request of it is retried on its own, so only the one PostgreSQL refuses fails. A request
/// whose Idempotency-Key is already waiting or being written (a client retrying in a burst)
/// does not join the INSERT, where its duplicate key would fail everyone's rows: it waits for
/// the first and is answered `conflict`, and the caller replays the stored answer. The backlog
/// is bounded: past `maxPendingRows` rows waiting (the database is slow or away), a request is
/// refused at once with `StoreError.unavailable` instead of piling up in memory.
actor PredictionWriter {
    private final class Entry {
        let request: PredictionRequestRecord
        let done: CheckedContinuation<Void, any Error>
        var followers: [CheckedContinuation<Void, any Error>] = []
        init(_ request: PredictionRequestRecord, _ done: CheckedContinuation<Void, any Error>) {
            self.request = request
            self.done = done
        }

        func finish(_ error: (any Error)?) {
            if let error { done.resume(throwing: error) } else { done.resume() }
            let duplicate = error ?? StoreError(.conflict, "a request with this Idempotency-Key is already stored", field: "Idempotency-Key")
            for f in followers { f.resume(throwing: duplicate) }
        }
    }

    private struct KeyID: Hashable {
        let client: Int64?
        let key: String
    }

    let store: Store
    let maxPendingRows: Int
    private var pending: [Entry] = []
    /// Requests with a key, from when they arrive until their INSERT is answered.
    private var keyed: [KeyID: Entry] = [:]
    private(set) var pendingRows = 0
    private var flushing = false
    private let onFlush: @Sendable (Int) -> Void

    init(store: Store, maxPendingRows: Int = 4096, onFlush: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.store = store
        self.maxPendingRows = maxPendingRows
        self.onFlush = onFlush
    }

    /// Returns once the request's rows are committed.
    func write(_ request: PredictionRequestRecord) async throws {
        let id = request.idempotencyKey.map { KeyID(client: request.clientID, key: $0) }
        if let id, let first = keyed[id] {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in first.followers.append(c) }
            return  // not reached: followers are always answered with an error
        }
        guard pendingRows + request.predictions.count <= maxPendingRows else {
            throw StoreError(.unavailable, "too many predictions are waiting to be stored; try again shortly")
        }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let entry = Entry(request, c)
            pending.append(entry)
            if let id { keyed[id] = entry }
            pendingRows += request.predictions.count
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            do {
                try await store.insertPredictionRequests(batch.map(\.request))
                onFlush(batch.reduce(0) { $0 + $1.request.predictions.count })
                finish(batch, nil)
            } catch {
                if batch.count == 1 || (error as? StoreError)?.code == .unavailable {
                    finish(batch, error)
                } else {
                    // Someone's rows were refused: find whose by writing each request alone (and
                    // stop at an outage: the rest would each wait for their own timeout).
                    var outage: (any Error)?
                    for entry in batch {
                        if let outage {
                            finish([entry], outage)
                            continue
                        }
                        do {
                            try await store.insertPredictionRequests([entry.request])
                            onFlush(entry.request.predictions.count)
                            finish([entry], nil)
                        } catch {
                            if (error as? StoreError)?.code == .unavailable { outage = error }
                            finish([entry], error)
                        }
                    }
                }
            }
            pendingRows -= batch.reduce(0) { $0 + $1.request.predictions.count }
        }
        flushing = false
    }

    private func finish(_ entries: [Entry], _ error: (any Error)?) {
        for entry in entries {
            if let key = entry.request.idempotencyKey { keyed[KeyID(client: entry.request.clientID, key: key)] = nil }
            entry.finish(error)
        }
    }
}
