import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import PlanterHost

extension PlanterServer {
    /// `planter serve`: stderr logging (level from `LOG_LEVEL`, default info), swift-metrics
    /// bootstrapped with the Prometheus factory, then serve until shutdown. Returns the exit
    /// status: 0 after a graceful shutdown, 2 for an invalid deployment config, 1 otherwise.
    public static func serve(_ settings: ServerSettings, logLevel: String? = nil) async -> Int32 {
        let level = (logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"]).flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "planter")
        logger.logLevel = level
        do {
            let server = try await PlanterServer(settings: settings, logger: logger)
            MetricsSystem.bootstrap(server.environment.metrics.factory)
            try await server.run()
            return 0
        } catch let error as StartupError {
            logger.critical("\(error.description)")
            return 2
        } catch {
            logger.critical("Planter stopped with an error", metadata: ["error": "\(error)"])
            return 1
        }
    }
}

extension PlanterServer {
    /// Runs Swift concurrency's global executor on NIO's event loops (the singleton group Hummingbird
    /// serves on), so a request no longer hops from the event loop thread to the concurrency pool and
    /// back: on 2 cores that hop was most of the cost of a small request. Must be called before any task
    /// starts; `PLANTER_NIO_EXECUTOR=0` keeps Swift's default pool. Blocking work stays off both: plugin
    /// calls, history writes and `dot` run on their own threads.
    /// Returns whether the takeover happened (it cannot on some platforms).
    @discardableResult
    public static func runConcurrencyOnEventLoops(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard environment["PLANTER_NIO_EXECUTOR"] != "0" else { return false }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
