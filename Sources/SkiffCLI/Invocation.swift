#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import Skiff
import SkiffLinux
import SkiffOCI

/// The commands containerd's shim, conmon and dockerd call on every container, as values:
/// what either parser produces (ArgumentParser's command types, or `DirectCommandLine` for
/// the plain forms these callers use) and the one place each of them is carried out.
enum Action: Equatable {
    case create(id: String, bundle: String, options: CreateFlagValues)
    case run(id: String, bundle: String, options: CreateFlagValues, detach: Bool, keep: Bool, noSubreaper: Bool)
    case start(id: String)
    case state(id: String)
    case kill(id: String, signal: String, all: Bool)
    case delete(id: String, force: Bool)
    case exec(ExecArguments)
}

/// `CreateFlags` as values.
struct CreateFlagValues: Equatable {
    var pidFile: String?
    var consoleSocket: String?
    var noPivot = false
    var noNewKeyring = false
    var preserveFds = 0

    var options: CreateOptions {
        CreateOptions(pidFile: pidFile, consoleSocket: consoleSocket, noPivot: noPivot,
                      noNewKeyring: noNewKeyring, preserveFds: preserveFds)
    }
}

/// A command whose parsed options are an `Invocation`; running it performs that.
protocol InvocationCommand: ParsableCommand {
    var invocation: Invocation { get }
}

extension InvocationCommand {
    func run() throws { try invocation.perform() }
}

struct Invocation: Equatable {
    var globals: Globals
    var action: Action

    /// Runs the command. Failures print one line (`fail`) and throw the exit code runc uses:
    /// 1, or 255 when `exec` itself failed; `run` and `exec` pass the process's status through.
    func perform() throws {
        let code: Int32
        do {
            let runtime = try globals.runtime()
            switch action {
            case let .create(id, bundle, flags):
                try runtime.create(id: id, bundle: bundle, options: flags.options)
                code = 0
            case let .run(id, bundle, flags, detach, keep, noSubreaper):
                code = try runtime.run(id: id, bundle: bundle, options: flags.options,
                                       detach: detach, keep: keep, subreaper: !noSubreaper)
            case let .start(id):
                try runtime.start(id: id)
                code = 0
            case let .state(id):
                let state = try runtime.state(id: id)
                // runc's `state` layout: two-space indent, the spec's field order.
                print(String(decoding: try state.jsonData(indent: "  "), as: UTF8.self))
                code = 0
            case let .kill(id, signal, all):
                // Signal 0 only checks that init is there (kill(2)): `kill ID 0`, as runc takes it.
                guard let number = signal == "0" ? 0 : Signals.parse(signal) else {
                    throw SkiffError(.invalidArgument, "invalid signal \"\(signal)\"")
                }
                try runtime.kill(id: id, signal: number, all: all)
                code = 0
            case let .delete(id, force):
                do {
                    try runtime.delete(id: id, force: force)
                } catch let error as SkiffError where error.kind == .notFound && force {
                    // runc: delete --force of a missing container succeeds.
                }
                code = 0
            case let .exec(arguments):
                code = try arguments.exec(runtime)
            }
        } catch {
            let exitCode = fail(error, globals: globals)
            // 255 when skiff itself failed in exec, as runc: a caller tells it from the
            // process's own exit status, which is passed through below.
            if case .exec = action { throw ExitCode(255) }
            throw exitCode
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// `exec`'s options and arguments as values.
struct ExecArguments: Equatable {
    var id: String
    var command: [String] = []
    var consoleSocket: String?
    var cwd: String?
    var env: [String] = []
    var tty = false
    var user: String?
    var additionalGids: [UInt32] = []
    var process: String?
    var detach = false
    var pidFile: String?
    var processLabel: String?
    var apparmor: String?
    var noNewPrivs = false
    var cap: [String] = []
    var preserveFds = 0
    var cgroup: [String] = []
    var ignorePaused = false

    func exec(_ runtime: Runtime) throws -> Int32 {
        var (process, userSpec) = try buildProcess(runtime)
        if tty { process.terminal = true }
        return try runtime.exec(id: id, options: ExecOptions(
            process: process, userSpec: userSpec, detach: detach, pidFile: pidFile, consoleSocket: consoleSocket,
            preserveFds: preserveFds, ignorePaused: ignorePaused, subCgroups: try ExecOptions.subCgroups(cgroup)))
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
                process = try Process.decode(bytes: bytes)
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
