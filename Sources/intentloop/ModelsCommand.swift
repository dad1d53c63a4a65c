import ArgumentParser
import Foundation
import IntentServer
import IntentStore
import LoopCore

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "Adapters stored in the database: list them, export one as a PEFT folder.",
        subcommands: [List.self, Export.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every adapter, newest first, with status, lineage and metrics.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "One JSON document.") var json = false

        func run() async throws {
            let adapters = try await database.withStore(logger: quietLogger("intentloop.models")) { store, _ in try await store.adapters() }
            if json { return printJSON(["adapters": adapters]) }
            print("version\tstatus\tintents\tparent\tjob\tfeedback\tgolden\tcreated")
            for a in adapters {
                let feedback = a.feedbackTo.map { "\(a.feedbackFrom ?? 0)–\($0)" } ?? "-"
                print("\(a.version)\t\(a.status.rawValue)\t\(a.labels.count)\t\(a.parentVersion ?? "-")\t\(a.jobID.map(String.init) ?? "-")\t\(feedback)\t\(a.metrics["golden_accuracy"] ?? "-")\t\(iso(a.createdAt))")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an adapter's files (PEFT layout + labels.json + intentloop.json), verified against their SHA-256, to a folder.")
        @Argument var version: String
        @Option(help: "Folder to write (created; must be empty or missing).") var out: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let target = URL(fileURLWithPath: out, isDirectory: true)
            let fm = FileManager.default
            if let existing = try? fm.contentsOfDirectory(atPath: target.path), !existing.isEmpty {
                throw CLIFailure(message: "--out \(out) is not empty")
            }
            let version = version, cacheDirectory = database.dataDirectory
            let (record, folder) = try await database.withStore(logger: quietLogger("intentloop.models")) { store, _ -> (AdapterRecord, URL) in
                guard let found = try await store.adapter(version: version) else { throw CLIFailure(message: "no adapter '\(version)'") }
                guard found.status != .training && found.status != .failed else {
                    throw CLIFailure(message: "adapter \(version) is \(found.status.rawValue): it has no files")
                }
                let record = try await store.adoptLegacyAdapter(found)
                return (record, try await Bootstrap.adapterCache(cacheDirectory).folder(for: record, store: store))
            }
            try fm.createDirectory(at: target, withIntermediateDirectories: true)
            for name in record.files.keys.sorted() {
                try fm.copyItem(at: folder.appendingPathComponent(name), to: target.appendingPathComponent(name))
            }
            try Self.loadingNotes(record).write(to: target.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
            if let loader = ResourceDirectory.python?.appendingPathComponent("intentloop_adapter.py"), fm.fileExists(atPath: loader.path) {
                try fm.copyItem(at: loader, to: target.appendingPathComponent("intentloop_adapter.py"))
            }
            print("exported \(record.version) (\(record.status.rawValue), sha256 \(record.sha256 ?? "-")) to \(out)")
        }

        /// How to load the folder in Python: the head reads mean-pooled states, which the standard
        /// sequence-classification class does not.
        static func loadingNotes(_ record: AdapterRecord) -> String {
            """
            # IntentLoop adapter \(record.version)

            LoRA adapter (PEFT layout, `task_type` FEATURE_EXTRACTION) + an intent head for the base model named in
            `adapter_config.json`; \(record.labels.count) intents in `labels.json`, in head order. Manifest SHA-256 \(record.sha256 ?? "-").

            The head (`base_model.model.intentloop_head`) reads the **mean** of the encoder's last hidden states over
            the attention mask, not BERT's [CLS] pooler, so `AutoModelForSequenceClassification` is the wrong class.
            `intentloop_adapter.py` (beside this file; in IntentLoop's repository at ops/python/) reproduces `intentloop predict`:

            ```python
            from intentloop_adapter import load
            predict = load("THIS_FOLDER", "path/to/all-MiniLM-L6-v2")
            predict(["where is my parcel"])   # [(intent, confidence)]
            ```

            """
        }
    }
}
