import ArgumentParser
import Foundation
import IntentStore
import PostgresNIO

@main
struct IntentLoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intentloop",
        abstract: "Continual-learning intent classification over a Swift transformer encoder.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, ImportCommand.self, UsersCommand.self,
            WorkerCommand.self, JobsCommand.self, ModelsCommand.self, SimulateCommand.self,
            TokenizeCommand.self, EmbedCommand.self, TrainCommand.self, EvalCommand.self, PredictCommand.self,
        ]
    )

    /// Usage and input errors exit with code 2 and a one-line message (the project's CLI
    /// contract); help and version requests exit 0.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch let error as CLIFailure {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            Foundation.exit(error.code)
        } catch let error as StoreError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            Foundation.exit(error.code == .unavailable ? 1 : 2)
        } catch let error as PSQLError {
            // PostgresNIO's description hides the server's message; the message itself is safe to show.
            FileHandle.standardError.write(Data("error: database: \(error.serverInfo?[.message] ?? "\(error.code)")\n".utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .failure && isCleanExit(error) { exit(withError: error) }
            var text = message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
            text = text.replacingOccurrences(of: "\n", with: "; ")
            FileHandle.standardError.write(Data("error: \(text) (see intentloop --help)\n".utf8))
            Foundation.exit(code == .success ? 0 : 2)
        }
    }

    private static func isCleanExit(_ error: any Error) -> Bool {
        if let code = error as? ExitCode { return code == .success }
        return false
    }
}

/// An error the CLI reports as one line on stderr with its exit code (2: bad input or model).
struct CLIFailure: Error {
    let message: String
    var code: Int32 = 2
}
