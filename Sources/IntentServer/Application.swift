import Prometheus
import Foundation
import Hummingbird
import IntentModel
import IntentStore
import Logging
import ServiceLifecycle

/// What `intentloop serve` configures (DESIGN.md §5).
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Micro-batching: most texts per forward pass, and how long the first request of a batch waits for company.
    public var maxBatch = 32
    /// Inference threads (each runs single-threaded BLAS; see Predictor).
    public var workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    public var maxWait: Duration = .zero
    public var topK = 5
    /// Mark cookies Secure (set when TLS terminates in front of the server).
    public var secureCookies = false
    public var webDirectory: URL? = ResourceDirectory.web
    /// Most prediction rows waiting to be written before requests are refused with 503.
    public var maxPendingRows = 4096
    /// Most texts waiting for the model before predict answers 503.
    public var maxQueuedTexts = 2048
    /// Login throttling (failures per username and per address) and concurrent password checks.
    public var loginThrottle = LoginThrottle()
    /// Password checks running or waiting at once (two per login thread); a login beyond gets 503.
    public var maxConcurrentLogins = 2 * Passwords.loginThreads
    /// The review pages leave out predictions at least this confident unless the agent asks for
    /// them ("include confident ones"); nil shows every prediction.
    public var reviewConfidentAbove: Float? = 0.99
    /// How long an agent can take back a verdict from the review page.
    public var undoWindow: Duration = .seconds(120)
    /// Follow the database's production and shadow adapters (promotion, rollback, shadow) and
    /// run the gate; nil serves the given model only.
    public var adapters: AdapterFollowing?
    public init() {}
}

/// What a replica needs to load adapters the database names, and whether it runs the gate.
public struct AdapterFollowing: Sendable {
    public let base: BaseModel
    public let cache: AdapterCache
    /// Fallback poll when a notification is missed.
    public var pollInterval: Duration = .seconds(5)
    /// Run the promotion gate in this process (every replica may: decisions are idempotent).
    public var runGate = true
    public var gateInterval: Duration = .seconds(5)
    /// Most sampled predictions waiting for the shadow adapter before the excess is dropped.
    public var shadowQueue = 1024
    /// The arithmetic production and shadow adapters are served (and evaluated) in.
    public var precision: Precision
    public init(base: BaseModel, cache: AdapterCache, precision: Precision = .fp32) {
        self.base = base
        self.cache = cache
        self.precision = precision
    }
}

/// Builds the HTTP application: API, agent pages, health, metrics. `store`'s client must be
/// running (the caller runs it, or passes it in `services`). The application's own services —
/// the store's `DatabaseMonitor` when it has one, the listener that empties the token cache when
/// credentials change, and the predictor's threads (stopped after the HTTP server drains) — run
/// with it.
public func buildApplication(
    configuration: ServerConfiguration, store: Store, model: ServingModel, metrics: ServerMetrics = ServerMetrics(),
    services: [any Service] = [], logger: Logger
) async throws -> some ApplicationProtocol {
    let predictor = Predictor(model: model, workers: configuration.workers, maxBatch: configuration.maxBatch, maxWait: configuration.maxWait, topK: configuration.topK,
                              onBatch: { size, depth in
                                  metrics.batchSize.record(Double(size))
                                  metrics.queueDepth.set(Double(depth))
                              }, onInference: { metrics.inferenceCPU.increment(by: $0) })
    guard let web = configuration.webDirectory else {
        throw StoreError(.invalid, "the web folder (templates, static files) was not found: set INTENTLOOP_WEB")
    }
    let pages = try await WebPages.load(from: web)
    let router = Router(context: AppContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: MetricsMiddleware(metrics: metrics))
    router.add(middleware: BrowserErrorPages(pages: pages))
    router.add(middleware: ErrorMappingMiddleware())
    router.add(middleware: FileMiddleware(web.appendingPathComponent("static").path, urlBasePath: "/static", searchForIndexHtml: false, logger: logger))
    let tokens = APITokenCache()
    router.add(middleware: AuthMiddleware(store: store, tokens: tokens))
    let shadow = ShadowRunner(store: store, metrics: metrics, logger: logger, capacity: configuration.adapters?.shadowQueue ?? 1024,
                              serverIdle: { predictor.isIdle })
    let predictions = PredictionService(predictor: predictor, store: store, metrics: metrics, maxPendingRows: configuration.maxPendingRows,
                                        maxQueuedTexts: configuration.maxQueuedTexts, shadow: shadow)
    APIRoutes(store: store, predictions: predictions, metrics: metrics).add(to: router)
    OperationsRoutes(store: store, predictor: predictor, metrics: metrics, openAPI: web.appendingPathComponent("openapi.yaml")).add(to: router)
    let webRoutes = WebRoutes(store: store, pages: pages, secureCookies: configuration.secureCookies, decoyHash: try await Passwords.decoy(),
                              logins: LoginGuard(throttle: configuration.loginThrottle, maxConcurrentChecks: configuration.maxConcurrentLogins),
                              confidentAbove: configuration.reviewConfidentAbove)
    webRoutes.add(to: router)
    ReviewRoutes(store: store, pages: pages, confidentAbove: configuration.reviewConfidentAbove, undoWindow: configuration.undoWindow).add(to: router)
    IntentAdminRoutes(store: store, pages: pages).add(to: router, forms: webRoutes)
    AdminHomeRoutes(store: store, pages: pages).add(to: router)
    JobRoutes(store: store, pages: pages).add(to: router, forms: webRoutes)
    ModelRoutes(store: store, pages: pages).add(to: router, forms: webRoutes)
    LoopControlRoutes(store: store, evaluator: configuration.adapters.map { AdapterEvaluator(store: store, base: $0.base, cache: $0.cache, precision: $0.precision) },
                      logger: logger).add(to: router)
    var own: [any Service] = (store.monitor.map { [$0] } ?? []) + [AuthChangesListener(store: store, cache: tokens, logger: logger)]
    if let following = configuration.adapters {
        var watcher = AdapterWatcher(store: store, base: following.base, cache: following.cache, precision: following.precision,
                                     predictor: predictor, shadow: shadow, metrics: metrics, logger: logger)
        watcher.pollInterval = following.pollInterval
        own.append(watcher)
        if following.runGate { own.append(GateKeeper(store: store, logger: logger, interval: following.gateInterval)) }
    }
    return Application(
        router: router,
        // An idle connection (or one whose headers never finish) is closed after a minute, so that
        // nobody can hold sockets for ever.
        server: .http1(configuration: .init(idleTimeout: .seconds(60))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "IntentLoop"),
        services: services + own + [PredictorService(predictor: predictor, shadow: shadow)],
        logger: logger
    )
}

/// Stops the predictor thread on graceful shutdown (after the HTTP server has drained).
struct PredictorService: Service {
    let predictor: Predictor
    let shadow: ShadowRunner
    func run() async throws {
        try? await gracefulShutdown()
        predictor.shutdown()
        shadow.shutdown()
    }
}

/// One log line per request with its id, method, route, status and duration.
struct RequestLogMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now()
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status.code, start)
            return response
        } catch let error as any HTTPResponseError {
            log(request, context, status: error.status.code, start)
            throw error
        }
    }

    func log(_ request: Request, _ context: AppContext, status: Int, _ start: DispatchTime) {
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        context.logger.debug("request", metadata: [
            "http.method": "\(request.method.rawValue)", "http.route": "\(context.endpointPath ?? request.uri.path)",
            "http.status": "\(status)", "http.duration_ms": "\(String(format: "%.2f", ms))",
        ])
    }
}
