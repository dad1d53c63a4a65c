import IntentStore

/// Group commit for prediction requests: each request hands its rows over and waits; one
/// INSERT at a time writes everything that arrived meanwhile, then answers all of its waiters.
/// Under load the batches grow by themselves; idle, a request is written at once.
///
/// Isolation: one request's rows must never fail another's. Requests are validated before
/// they get here; if a merged INSERT still fails for a reason other than an outage, each
/// request of it is retried on its own, so only the one PostgreSQL refuses fails. The backlog
/// is bounded: past `maxPendingRows` rows waiting (the database is slow or away), a request is
/// refused at once with `StoreError.unavailable` instead of piling up in memory.
actor PredictionWriter {
    let store: Store
    let maxPendingRows: Int
    private var pending: [(request: PredictionRequestRecord, done: CheckedContinuation<Void, any Error>)] = []
    private var pendingRows = 0
    private var flushing = false
    private let onFlush: @Sendable (Int) -> Void

    init(store: Store, maxPendingRows: Int = 4096, onFlush: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.store = store
        self.maxPendingRows = maxPendingRows
        self.onFlush = onFlush
    }

    /// Returns once the request's rows are committed.
    func write(_ request: PredictionRequestRecord) async throws {
        guard pendingRows + request.predictions.count <= maxPendingRows else {
            throw StoreError(.unavailable, "too many predictions are waiting to be stored; try again shortly")
        }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            pending.append((request, c))
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
                for item in batch { item.done.resume() }
            } catch {
                if batch.count == 1 || (error as? StoreError)?.code == .unavailable {
                    for item in batch { item.done.resume(throwing: error) }
                } else {
                    // Someone's rows were refused: find whose by writing each request alone.
                    for item in batch {
                        do {
                            try await store.insertPredictionRequests([item.request])
                            onFlush(item.request.predictions.count)
                            item.done.resume()
                        } catch {
                            item.done.resume(throwing: error)
                        }
                    }
                }
            }
            pendingRows -= batch.reduce(0) { $0 + $1.request.predictions.count }
        }
        flushing = false
    }
}
