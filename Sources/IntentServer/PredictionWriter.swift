import IntentStore

/// Group commit for prediction rows: requests hand their rows over and wait; one INSERT at a
/// time writes everything that arrived meanwhile, then answers all of its waiters. Under load
/// the batches grow by themselves; idle, a row is written at once.
actor PredictionWriter {
    let store: Store
    private var pending: [(rows: [PredictionRecord], done: CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    private let onFlush: @Sendable (Int) -> Void

    init(store: Store, onFlush: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.store = store
        self.onFlush = onFlush
    }

    /// Returns once the rows are committed.
    func write(_ rows: [PredictionRecord]) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            pending.append((rows, c))
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
            let rows = batch.flatMap(\.rows)
            do {
                try await store.insertPredictions(rows)
                onFlush(rows.count)
                for item in batch { item.done.resume() }
            } catch {
                for item in batch { item.done.resume(throwing: error) }
            }
        }
        flushing = false
    }
}
