import ArgumentParser
import Skiff
import SkiffOCI

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", _superCommandName: "skiff", abstract: "lists containers started by skiff with the given root")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "select one of: table or json")
    var format: String = "table"
    @Flag(name: [.short, .long], help: "display only container IDs")
    var quiet = false

    func validate() throws {
        guard format == "table" || format == "json" else { throw ValidationError("invalid format option \"\(format)\"") }
    }

    func run() throws {
        do {
            // As runc: a container whose state cannot be read is named on stderr, not dropped
            // without a word.
            let stderr = SkiffLogger(fd: 2, format: .text)
            let containers = try global.runtime().list { id, error in
                stderr.writeRaw("load container \(id): \(error)\n")
            }
            if quiet {
                containers.forEach { print($0.id) }
            } else if format == "json" {
                print(String(decoding: try SkiffJSON.encode(containers), as: UTF8.self))
            } else {
                var rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
                rows += containers.map { [$0.id, String($0.pid), $0.status.rawValue, $0.bundle, $0.created, $0.owner] }
                let widths = (0..<6).map { column in rows.map { $0[column].count }.max() ?? 0 }
                for row in rows {
                    print(row.enumerated().map { column, cell in
                        column == 5 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 3)
                    }.joined())
                }
            }
        } catch {
            throw fail(error, global: global)
        }
    }
}
