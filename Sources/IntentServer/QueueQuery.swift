import Foundation
import Hummingbird
import IntentStore

/// The review queue's filters as the agent pages take them (query parameters `intent`, `from`,
/// `to`, `min`, `max`, `all`). Unlike the API, a bad value is not a refusal: it is left out of
/// the filter and comes back as a message for its field, so the page shows what was wrong next
/// to it and keeps everything else the agent typed.
struct QueueQuery {
    static let keys = ["intent", "from", "to", "min", "max", "all"]

    /// The non-empty filter values as given (shown in the form, carried by links).
    var given: [String: String] = [:]
    var filter = QueueFilter()
    /// Field → message, for values that were not applied.
    var errors: [String: String] = [:]

    /// `confidentAbove`: the server's setting; `all=1` turns it off.
    init(_ parameters: [String: String], confidentAbove: Float?, knownIntents: Set<String>) {
        for key in Self.keys {
            if let v = parameters[key]?.trimmingCharacters(in: .whitespaces), !v.isEmpty { given[key] = String(v.prefix(200)) }
        }
        if let intent = given["intent"] {
            if !InputRules.validIntentName(intent) {
                errors["intent"] = "intent must be an intent name (1–100 letters, digits or _.:/-)"
            } else if !knownIntents.contains(intent) {
                errors["intent"] = "no intent is called “\(intent)”"
            } else {
                filter.intent = intent
            }
        }
        // The API's parsers (`QueryParameter`), with their refusal kept as the field's message.
        func parsed<T>(_ key: String, _ parse: (String?, String) throws -> T?) -> T? {
            do { return try parse(given[key], key) } catch let error as APIError {
                errors[key] = error.message
            } catch {
                errors[key] = "\(key) is not valid"
            }
            return nil
        }
        let day = DateFormatter()
        day.dateFormat = "yyyy-MM-dd"
        day.timeZone = TimeZone(identifier: "UTC")
        day.locale = Locale(identifier: "en_US_POSIX")
        filter.from = parsed("from") { try QueryParameter.date($0, field: $1, formatter: day) }
        filter.to = parsed("to") { try QueryParameter.date($0, field: $1, formatter: day) }.map { $0.addingTimeInterval(86400) }
        if let from = filter.from, let to = filter.to, to <= from {
            errors["to"] = "to must be on or after the “from” date"
            filter.to = nil
        }
        filter.minConfidence = parsed("min", QueryParameter.fraction)
        filter.maxConfidence = parsed("max", QueryParameter.fraction)
        if let lo = filter.minConfidence, let hi = filter.maxConfidence, hi < lo {
            errors["max"] = "max must be at least the minimum"
            filter.maxConfidence = nil
        }
        if given["all"] != nil, given["all"] != "1" { given["all"] = nil }
        filter.confidentAbove = given["all"] == "1" ? nil : confidentAbove
    }

    init(_ request: Request, confidentAbove: Float?, knownIntents: Set<String>) {
        var parameters: [String: String] = [:]
        for key in Self.keys { parameters[key] = request.uri.queryParameters[Substring(key)].map(String.init) }
        self.init(parameters, confidentAbove: confidentAbove, knownIntents: knownIntents)
    }

    /// `path` with the filters that were applied and `extra` as its query (percent-encoded).
    func url(_ path: String, _ extra: [(String, String)] = []) -> String {
        var c = URLComponents()
        c.path = path
        let items = Self.keys.compactMap { k in errors[k] == nil ? given[k].map { URLQueryItem(name: k, value: $0) } : nil } + extra.map { URLQueryItem(name: $0.0, value: $0.1) }
        c.queryItems = items.isEmpty ? nil : items
        return c.string ?? path
    }

    var isFiltered: Bool { !given.isEmpty }
}

/// An `application/x-www-form-urlencoded` body as name → values (a name may repeat: the queue's
/// row checkboxes). Hand-written because Hummingbird's form decoder wants `name[]` for lists and
/// refuses a repeated plain name, which is what a list of checkboxes sends.
struct FormFields {
    private(set) var values: [String: [String]] = [:]

    init(_ body: String) {
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = decode(parts[0]) else { continue }
            values[name, default: []].append(parts.count > 1 ? decode(parts[1]) ?? "" : "")
        }
    }

    subscript(_ name: String) -> String? { values[name]?.first }

    func all(_ name: String) -> [String] { values[name] ?? [] }
}
