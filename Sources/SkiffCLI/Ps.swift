#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Skiff
import SkiffLinux

struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps", _superCommandName: "skiff", abstract: "ps displays the processes running inside a container",
        discussion: "With --format table, runs the host's ps with the given options (default -ef) and prints the lines of the container's processes; with --format json, prints their pids as a JSON array.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "select one of: table or json") var format: String = "table"
    @Argument(help: "container id") var id: String
    @Argument(parsing: .captureForPassthrough, help: "ps options") var psOptions: [String] = []

    func validate() throws {
        guard format == "table" || format == "json" else { throw ValidationError("invalid format option \"\(format)\"") }
    }

    func run() throws {
        do {
            let pids = try global.runtime().processes(id: id)
            if format == "json" {
                // runc encodes a nil slice: "null" when there is nobody.
                print(pids.isEmpty ? "null" : "[" + pids.map(String.init).joined(separator: ",") + "]")
                return
            }
            let output = try hostPs(psOptions.first == "--" ? Array(psOptions.dropFirst()) : psOptions)
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard let header = lines.first, let pidColumn = header.split(separator: " ").firstIndex(of: "PID") else {
                throw SkiffError(.system, "couldn't find PID field in ps output")
            }
            print(header)
            let wanted = Set(pids)
            for line in lines.dropFirst() where !line.isEmpty {
                let fields = line.split(separator: " ")
                guard pidColumn < fields.count, let pid = Int32(fields[pidColumn]) else {
                    throw SkiffError(.system, "unable to parse pid from ps line \"\(line)\"")
                }
                if wanted.contains(pid) { print(line) }
            }
        } catch {
            throw fail(error, global: global)
        }
    }

    /// Runs `ps` from PATH with `options` (-ef when none) and returns what it printed.
    private func hostPs(_ options: [String]) throws -> String {
        let search: String = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        let path = search.split(separator: ":").map { String($0) + "/ps" }.first { Files.isAccessible($0, X_OK) }
        guard let path else { throw SkiffError(.notFound, "ps: executable file not found in $PATH") }
        let pipe = try Sockets.pipe()
        let devNull = try Files.open("/dev/null", flags: O_RDONLY)
        let names: [String] = ["PATH", "LANG", "LC_ALL", "COLUMNS", "TERM"]
        let environment = names.compactMap { name -> String? in
            guard let value = getenv(name) else { return nil }
            return name + "=" + String(cString: value)
        }
        let pid = try Processes.spawn(
            path: path, arguments: ["ps"] + (options.isEmpty ? ["-ef"] : options), environment: environment,
            fds: [.init(source: devNull.raw, target: 0), .init(source: pipe.write.raw, target: 1),
                  .init(source: pipe.write.raw, target: 2)],
            closeFrom: 3).pid
        pipe.write.close()
        let output = (try? pipe.read.readAll(limit: 64 << 20)) ?? []
        let exit = try Processes.wait(pid)
        let text = String(decoding: output, as: UTF8.self)
        if exit != Processes.Exit.exited(0) {
            throw SkiffError(.system, "ps: exit status \(exit.shellCode): \(text.split(separator: "\n").first ?? "")")
        }
        return text
    }
}
