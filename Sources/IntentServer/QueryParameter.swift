import Foundation

/// Parsing of numeric and date query parameters with bounds: a value out of range or not a
/// number is a 400 naming the parameter, never a trap (`page * limit` overflowed on
/// `page=999999999999999999` and stopped the process).
enum QueryParameter {
    /// Beyond this page the queue is empty for any realistic database; the bound keeps
    /// `page * limit` far from overflow.
    static let maxPage = 100_000

    static func integer(_ raw: String?, field: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let raw else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw APIError.invalid(field, "\(field) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A confidence between 0 and 1 (the queue's filters).
    static func fraction(_ raw: String?, field: String) throws -> Float? {
        guard let raw else { return nil }
        guard let value = Double(raw), value.isFinite, (0...1).contains(value) else {
            throw APIError.invalid(field, "\(field) must be a confidence between 0 and 1")
        }
        return Float(value)
    }

    static func date(_ raw: String?, field: String, formatter: DateFormatter) throws -> Date? {
        guard let raw else { return nil }
        guard raw.utf8.count == 10, let date = formatter.date(from: raw) else { throw APIError.invalid(field, "\(field) must be a date YYYY-MM-DD") }
        return date
    }
}
