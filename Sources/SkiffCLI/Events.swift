#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Skiff
import SkiffLinux

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", _superCommandName: "skiff", abstract: "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
        discussion: "One JSON object per line, as runc writes them: {\"type\":\"stats\",\"id\":…,\"data\":{…}} every interval and {\"type\":\"oom\",\"id\":…} when the OOM killer takes a process. Ends when the container stops.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "set the stats collection interval") var interval: String = "5s"
    @Flag(help: "display the container's stats then exit") var stats = false
    @Argument(help: "container id") var id: String

    func validate() throws {
        guard let seconds = Duration.seconds(interval), seconds > 0 else {
            throw ValidationError("invalid value \"\(interval)\" for flag -interval: expected a duration like 5s or 100ms")
        }
    }

    func run() throws {
        do {
            let runtime = try global.runtime()
            try runtime.events(id: id, interval: Duration.seconds(interval) ?? 5, statsOnly: stats, emit: emit)
        } catch {
            throw fail(error, global: global)
        }
    }

    /// Straight to fd 1: a reader of a pipe sees each event when it happens.
    private func emit(_ line: String) {
        // A reader that went away ends nothing here: the stream stops when the container does.
        try? BorrowedFD.standardOutput.writeAll(Array((line + "\n").utf8))
    }
}

/// Go's time.ParseDuration, for the units runc's users write: "5s", "100ms", "1m30s", "1.5s".
enum Duration {
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return 0 }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            // Two-letter units are listed first, so "ms" is not read as "m" then "s".
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return total
    }
}
