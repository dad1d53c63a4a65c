import Foundation
import IntentModel
import IntentStore
import Logging
import LoopCore
import Prometheus
import PostgresNIO
import ServiceLifecycle

/// Keeps this replica serving the production adapter and shadowing the shadow adapter that the
/// database names. It wakes on PostgreSQL's `intentloop_adapters` notifications (sent when a
/// promotion, rollback or shadow change commits) and polls every `pollInterval` as a fallback
/// (a notification is lost while the listening connection is down). A new adapter is fetched,
/// loaded and merged off the request path, then swapped into the predictor between batches, so
/// no request fails or waits for it. A load that fails keeps the current model and is retried
/// at the next wake-up.
struct AdapterWatcher: Service {
    let store: Store
    let base: BaseModel
    let cache: AdapterCache
    let predictor: Predictor
    let shadow: ShadowRunner
    let metrics: ServerMetrics
    let logger: Logger
    var pollInterval: Duration = .seconds(5)

    func run() async throws {
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await listen(wake) }
                group.addTask {
                    while !Task.isCancelled {
                        wake.yield()
                        try? await Task.sleep(for: pollInterval)
                    }
                }
                group.addTask {
                    for await _ in wakeups {
                        if Task.isCancelled { return }
                        await sync()
                    }
                }
                await group.next()
                group.cancelAll()
                wake.finish()
            }
        }
    }

    private func listen(_ wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { connection in
                    let notifications = try await connection.listen(adapterChangesChannel)
                    wake.yield()  // anything missed while not listening
                    for try await _ in notifications { wake.yield() }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("adapter listener reconnecting", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Brings the served and shadowed adapters in line with the database.
    func sync() async {
        do {
            let versions = try await store.servingVersions()
            if let production = versions.production, production != predictor.current.version, let record = try await store.adapter(version: production) {
                let started = ContinuousClock.now
                let model = try await Bootstrap.load(record, store: store, base: base, cache: cache)
                predictor.swap(to: model)
                metrics.adapterSwaps.increment()
                logger.info("switched to the production adapter", metadata: [
                    "intent.adapter.version": "\(production)", "load_ms": "\(Int(milliseconds(ContinuousClock.now - started)))",
                ])
            }
            let current = shadow.current
            if let version = versions.shadow {
                let rate = try await store.gatePolicy().shadowSampleRate
                if current.model?.version != version, let record = try await store.adapter(version: version) {
                    shadow.set(model: try await Bootstrap.load(record, store: store, base: base, cache: cache), rate: rate)
                    metrics.adapterSwaps.increment()
                    logger.info("shadowing a candidate", metadata: ["intent.adapter.version": "\(version)", "shadow.rate": "\(rate)"])
                } else if current.rate != rate {
                    shadow.set(model: current.model, rate: rate)
                }
            } else if current.model != nil {
                shadow.set(model: nil, rate: 0)
                logger.info("shadow ended")
            }
        } catch {
            logger.warning("could not follow the adapters in the database; retrying", metadata: ["error": "\(String(reflecting: error))"])
        }
    }
}

func milliseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
