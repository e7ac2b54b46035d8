#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import Skiff
import SkiffLinux
import SkiffOCI

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", _superCommandName: "skiff", abstract: "execute new process inside the container")

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("console-socket"), help: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
    var consoleSocket: String?
    @Option(help: "current working directory in the container") var cwd: String?
    @Option(name: [.short, .long], help: "set environment variables") var env: [String] = []
    @Flag(name: [.short, .long], help: "allocate a pseudo-TTY") var tty = false
    @Option(name: [.short, .long], help: "UID (format: <uid>[:<gid>], names are looked up in the container)") var user: String?
    @Option(name: [.customShort("g"), .customLong("additional-gids")], help: "additional gids") var additionalGids: [UInt32] = []
    @Option(name: [.short, .long], help: "path to the process.json") var process: String?
    @Flag(name: [.short, .long], help: "detach from the container's process") var detach = false
    @Option(name: .customLong("pid-file"), help: "specify the file to write the process id to") var pidFile: String?
    @Option(name: .customLong("process-label"), help: "set the asm process label for the process commonly used with selinux") var processLabel: String?
    @Option(help: "set the apparmor profile for the process") var apparmor: String?
    @Flag(name: .customLong("no-new-privs"), help: "set the no new privileges value for the process") var noNewPrivs = false
    @Option(name: [.short, .long], help: "add a capability to the bounding set for the process") var cap: [String] = []
    @Option(name: .customLong("preserve-fds"), help: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)") var preserveFds: Int = 0
    @Option(help: "run the process in an (existing) sub-cgroup(s): path, or controller[,controller]:path (repeatable)") var cgroup: [String] = []
    @Flag(name: .customLong("ignore-paused"), help: "allow exec in a paused container") var ignorePaused = false
    @Argument(help: "container id") var id: String
    @Argument(parsing: .captureForPassthrough, help: "command and arguments") var command: [String] = []

    func run() throws {
        let code: Int32
        do {
            let runtime = try global.runtime()
            var (process, userSpec) = try buildProcess(runtime)
            if tty { process.terminal = true }
            code = try runtime.exec(id: id, options: ExecOptions(
                process: process, userSpec: userSpec, detach: detach, pidFile: pidFile, consoleSocket: consoleSocket,
                preserveFds: preserveFds, ignorePaused: ignorePaused, subCgroups: try ExecOptions.subCgroups(cgroup)))
        } catch {
            // 255 when skiff itself failed, as runc: a caller tells it from the process's own
            // exit status, which is passed through below.
            _ = fail(error, global: global)
            throw ExitCode(255)
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// `--process` as given, or config.json's process with the command and flags on top, as
    /// runc builds it.
    func buildProcess(_ runtime: Runtime) throws -> (Process, String?) {
        if let path = process {
            let bytes: [UInt8]
            do {
                bytes = try Files.read(path)
            } catch {
                throw SkiffError(.invalidArgument, "--process: \(error)")
            }
            var process: Process
            do {
                process = try Process.decode(Data(bytes))
            } catch {
                throw SkiffError(.invalidArgument, "process.json: \(error)")
            }
            // runc: a process.json without capabilities gets the container's.
            if process.capabilities == nil { process.capabilities = try runtime.initProcess(id: id).capabilities }
            return (process, nil)
        }
        guard !command.isEmpty else { throw SkiffError(.invalidArgument, "exec: args must not be empty") }
        var process = try runtime.initProcess(id: id)
        process.args = command
        process.commandLine = nil
        process.terminal = tty
        // -e replaces a variable the container already sets, as runc does.
        let overridden = Set(env.map { $0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? $0 })
        process.env = (process.env ?? []).filter {
            !overridden.contains($0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? $0)
        } + env
        if let cwd { process.cwd = cwd }
        var userSpec: String?
        if let user {
            let parts = user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.allSatisfy({ UInt32($0) != nil }) {
                process.user.uid = UInt32(parts[0])!
                if parts.count == 2 { process.user.gid = UInt32(parts[1])! }
            } else {
                userSpec = user
            }
        }
        if !additionalGids.isEmpty { process.user.additionalGids = additionalGids }
        if noNewPrivs { process.noNewPrivileges = true }
        if let apparmor { process.apparmorProfile = apparmor }
        if let processLabel { process.selinuxLabel = processLabel }
        if !cap.isEmpty {
            var caps = process.capabilities ?? LinuxCapabilities()
            caps.bounding = (caps.bounding ?? []) + cap
            caps.effective = (caps.effective ?? []) + cap
            caps.permitted = (caps.permitted ?? []) + cap
            caps.ambient = (caps.ambient ?? []) + cap
            process.capabilities = caps
        }
        return (process, userSpec)
    }
}
