import Foundation

/// A five-field cron expression (minute hour day-of-month month day-of-week) in a time zone,
/// as Vixie cron reads it: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`
/// (`a/n` means `a-max/n`), month and weekday names (`jan`, `mon`), weekday 7 = Sunday, and the
/// macros `@hourly @daily @weekly @monthly @yearly`. When both day fields are restricted, a day
/// matches either (cron's rule); otherwise both.
///
/// Hand-written: no Swift package on the machine's lists parses cron, and the whole of it is
/// these hundred lines.
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    public let expression: String
    public let timeZone: TimeZone
    let minutes: [Int], hours: [Int]
    let days: Set<Int>, months: Set<Int>, weekdays: Set<Int>
    let dayRestricted: Bool, weekdayRestricted: Bool

    public static let defaultExpression = "0 3 * * 1"

    public init(_ expression: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws(CronError) {
        let macros = ["@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
                      "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"]
        let trimmed = expression.trimmingCharacters(in: .whitespaces)
        let text = macros[trimmed.lowercased()] ?? trimmed
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else { throw CronError("'\(expression)' has \(fields.count) fields; cron needs 5 (minute hour day month weekday)") }
        self.expression = trimmed
        self.timeZone = timeZone
        minutes = try Self.field(fields[0], "minute", 0...59).sorted()
        hours = try Self.field(fields[1], "hour", 0...23).sorted()
        days = Set(try Self.field(fields[2], "day of month", 1...31))
        months = Set(try Self.field(fields[3], "month", 1...12, names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], first: 1))
        weekdays = Set(try Self.field(fields[4], "day of week", 0...7, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], first: 0).map { $0 % 7 })
        dayRestricted = !fields[2].hasPrefix("*")
        weekdayRestricted = !fields[4].hasPrefix("*")
        guard next(after: Date(timeIntervalSince1970: 0)) != nil else { throw CronError("'\(expression)' never fires (no such date)") }
    }

    public var description: String { "\(expression) (\(timeZone.identifier))" }

    static func field(_ text: String, _ what: String, _ range: ClosedRange<Int>, names: [String] = [], first: Int = 0) throws(CronError) -> [Int] {
        func value(_ s: Substring) throws(CronError) -> Int {
            if let n = Int(s), range.contains(n) { return n }
            if let i = names.firstIndex(of: s.lowercased()) { return i + first }
            throw CronError("\(what): '\(s)' is not in \(range.lowerBound)–\(range.upperBound)")
        }
        var out = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else { throw CronError("\(what): '\(item)' is not a value, range or step") }
            var step = 1
            if parts.count == 2 {
                guard let s = Int(parts[1]), s >= 1, s <= range.upperBound + 1 else { throw CronError("\(what): step '\(parts[1])' must be 1–\(range.upperBound + 1)") }
                step = s
            }
            let lo: Int, hi: Int
            if parts[0] == "*" {
                (lo, hi) = (range.lowerBound, range.upperBound)
            } else if let dash = parts[0].firstIndex(of: "-") {
                lo = try value(parts[0][..<dash])
                hi = try value(parts[0][parts[0].index(after: dash)...])
                guard lo <= hi else { throw CronError("\(what): range '\(parts[0])' runs backwards") }
            } else {
                lo = try value(parts[0])
                hi = parts.count == 2 ? range.upperBound : lo
            }
            out.formUnion(stride(from: lo, through: hi, by: step))
        }
        return Array(out)
    }

    /// The first time strictly after `date` (to the minute) at which the schedule fires; nil when
    /// none within eight years (a date that does not exist, such as 30 February).
    public func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let earliest = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
        var day = calendar.startOfDay(for: earliest)
        for _ in 0..<(8 * 366) {
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if months.contains(c.month!), dayMatches(day: c.day!, weekday: c.weekday! - 1) {
                for h in hours {
                    for m in minutes {
                        guard let t = calendar.date(from: DateComponents(year: c.year, month: c.month, day: c.day, hour: h, minute: m)),
                              calendar.component(.hour, from: t) == h else { continue }  // skipped by a DST change
                        if t >= earliest { return t }
                    }
                }
            }
            guard let nextDay = calendar.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = nextDay
        }
        return nil
    }

    func dayMatches(day: Int, weekday: Int) -> Bool {
        switch (dayRestricted, weekdayRestricted) {
        case (true, true): days.contains(day) || weekdays.contains(weekday)
        case (true, false): days.contains(day)
        case (false, true): weekdays.contains(weekday)
        case (false, false): true
        }
    }
}

public struct CronError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
