#if canImport(Glibc)
import Glibc
#endif
import SkiffCgroups
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// Options of `exec`, as runc's flags name them.
public struct ExecOptions: Sendable {
    public var process: Process
    /// `--user` as given when it names a user or group rather than numbers: resolved inside
    /// the container, in its /etc/passwd and /etc/group (crun CVE-2026-30892 used the host's).
    public var userSpec: String?
    public var detach = false
    public var pidFile: String?
    public var consoleSocket: String?
    public var preserveFds = 0
    public var ignorePaused = false
    /// Sub-cgroups of the container's to run in (`--cgroup`), by controller; "" for every
    /// hierarchy.
    public var subCgroups: [String: String]

    public init(process: Process, userSpec: String? = nil, detach: Bool = false, pidFile: String? = nil,
                consoleSocket: String? = nil, preserveFds: Int = 0, ignorePaused: Bool = false,
                subCgroup: String? = nil, subCgroups: [String: String] = [:]) {
        self.process = process
        self.userSpec = userSpec
        self.detach = detach
        self.pidFile = pidFile
        self.consoleSocket = consoleSocket
        self.preserveFds = preserveFds
        self.ignorePaused = ignorePaused
        var subCgroups = subCgroups
        if let subCgroup { subCgroups[""] = subCgroup }
        self.subCgroups = subCgroups
    }

    /// runc's `--cgroup` forms: one `path` for every hierarchy, or `controller[,controller]:path`
    /// (repeatable) for the hierarchies of those controllers.
    public static func subCgroups(_ arguments: [String]) throws -> [String: String] {
        var paths: [String: String] = [:]
        for argument in arguments {
            let parts = argument.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            if parts.count > 2 {
                throw SkiffError(.invalidArgument, "--cgroup \"\(argument)\": expected path or controller[,controller]:path")
            }
            guard parts.count == 2 else {
                if arguments.count != 1 {
                    throw SkiffError(.invalidArgument, "--cgroup \"\(argument)\": missing controller: prefix (a bare path must be the only --cgroup)")
                }
                paths[""] = argument
                continue
            }
            for controller in parts[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                if controller.isEmpty {
                    throw SkiffError(.invalidArgument, "--cgroup \"\(argument)\": empty controller")
                }
                if paths[controller] != nil {
                    throw SkiffError(.invalidArgument, "--cgroup: controller \"\(controller)\" given more than once")
                }
                paths[controller] = parts[1]
            }
        }
        return paths
    }
}

extension Runtime {
    /// The process config.json ran, as the base of `exec`'s process (runc fills exec's
    /// defaults from it: env, cwd, user, capabilities, rlimits…).
    public func initProcess(id: String) throws -> Process {
        try ContainerID.validate(id)
        return try store.load(id).process ?? Process()
    }

    /// Runs a new process in a running container. Returns its exit code (128+signal when
    /// killed), or 0 at once with `detach`.
    public func exec(id: String, options: ExecOptions) throws -> Int32 {
        try skiffErrors { try execProcess(id: id, options: options) }
    }

    private func execProcess(id: String, options: ExecOptions) throws -> Int32 {
        // A signal for a foreground exec must reach the process, even one that arrives
        // while it is being spawned: hold them from now on; the waiter forwards what is pending.
        let signals = options.detach ? nil : SignalHold()
        defer { signals?.release() }
        try ContainerID.validate(id)
        if options.preserveFds < 0 || options.preserveFds > 4096 {
            throw SkiffError(.invalidArgument, "--preserve-fds: \(options.preserveFds) is out of range (0…4096)")
        }
        do {
            try options.process.validate()
        } catch {
            throw SkiffError(.invalidArgument, "process", error)
        }
        // What init would refuse (an unknown scheduler policy, a malformed CPU list) fails here.
        _ = try ProcessTuning(process: options.process, linux: nil)
        _ = try ProcessTuning.initialCPUs(options.process)
        let record: ContainerRecord
        do {
            let lock = try store.lock(id)
            record = try store.load(id, includingProcess: false)
            withExtendedLifetime(lock) {}
        }
        let status = status(of: record)
        switch status {
        case .stopped, .creating:
            throw SkiffError(.invalidState, "cannot exec in a \(status.rawValue) container")
        case .paused where !options.ignorePaused:
            throw SkiffError(.invalidState, "cannot exec in a paused container (use --ignore-paused to override)")
        default:
            break
        }
        let security = try SpawnSecurity.forExec(process: options.process, state: state(of: record, status: status),
                                                 stateDirectory: store.directory(id), logger: logger)
        let console = try Terminal.consoleSocket(terminal: options.process.terminal == true, path: options.consoleSocket,
                                                 foreground: !options.detach)
        let cgroups = try execCgroups(record, options.subCgroups)
        // A process joining a frozen cgroup stops there before it can report back: exec would
        // wait until someone resumes the container (runc 1.1.5 hangs so with --ignore-paused).
        if let frozen = cgroups.first(where: { CgroupManager.isFrozen(directory: $0) }) {
            throw SkiffError(.invalidState, "cannot exec into the frozen cgroup \"\(frozen)\": the process would stop there until the container is resumed (resume it, or --cgroup a sub-cgroup that is not frozen)")
        }
        let listenFds = Runtime.socketActivationFds()
        let spawned: InitSpawner.Spawned
        var pidFileFailure: (any Error)?
        var pidFileWritten = false
        do {
            spawned = try InitSpawner(
                workingDirectory: "/", bootstrap: .forExec(pid: record.pid, namespaces: record.namespaces),
                firstMessage: .exec(ExecInitOptions(containerID: id, process: options.process,
                                                    preserveFds: listenFds + options.preserveFds, listenFds: listenFds,
                                                    userSpec: options.userSpec)),
                preserveFds: listenFds + options.preserveFds, cgroupDirectories: cgroups, fifo: nil, config: nil,
                consoleSocket: console?.childEnd, debug: debug, logger: logger, security: security,
                initialCPUs: try ProcessTuning.initialCPUs(options.process),
                pidReported: { pid, _ in
                    guard let pidFile = options.pidFile else { return }
                    do {
                        try self.writePidFile(pidFile, pid: pid)
                        pidFileWritten = true
                    } catch {
                        // A caller that cannot learn the pid cannot manage the process: the
                        // spawn kills it.
                        pidFileFailure = error
                        throw error
                    }
                },
                // The pid file is exec's only record: init is told "committed" with it, and
                // goes from "ready" straight to its execve, unless a console or a seccomp
                // listener must reach the runtime first (as create, InitSpawner).
                commitOnRecord: console == nil && !security.forwardsListener
            ).spawn()
            try console?.receiveMaster()
            try spawned.commit()
        } catch {
            if let pidFileFailure { throw SkiffError.wrap(pidFileFailure, "--pid-file") }
            // Written with the records, before init was ready: an exec that failed leaves no
            // pid file naming a process that is gone (runc writes it only after success).
            if pidFileWritten, let pidFile = options.pidFile { try? Files.unlink(pidFile) }
            throw SkiffError.wrap(error, "exec failed")
        }
        if options.detach { return 0 }
        let proxy = try console?.master.map { try TerminalProxy(master: $0) }
        return try ForegroundWaiter(pid: spawned.pid, terminal: proxy).wait().shellCode
    }

    /// The cgroup directories exec's process joins: the container's, or the sub-cgroups
    /// `--cgroup` names, per hierarchy (a v1 hierarchy by its controllers, cgroup2 by the bare
    /// path or any controller it drives).
    private func execCgroups(_ record: ContainerRecord, _ subs: [String: String]) throws -> [String] {
        guard !subs.isEmpty else { return record.cgroupPaths }
        guard let manager = cgroup(of: record) else {
            throw SkiffError(.invalidArgument, "--cgroup: the container has no cgroup")
        }
        for controller in subs.keys where !controller.isEmpty && manager.hierarchy(for: controller) == nil {
            throw SkiffError(.invalidArgument, "--cgroup: no cgroup hierarchy has the \"\(controller)\" controller")
        }
        var result: [String] = []
        for hierarchy in manager.hierarchies {
            let directory = manager.directory(in: hierarchy)
            let named = Set(subs.compactMap { controller, path in
                !controller.isEmpty && manager.hierarchy(for: controller) == hierarchy ? path : nil
            })
            if named.count > 1 {
                throw SkiffError(.invalidArgument, "--cgroup: controllers of the hierarchy \"\(hierarchy.mountPoint)\" name different sub-cgroups")
            }
            guard let sub = subs[""] ?? named.first else {
                result.append(directory)
                continue
            }
            let normalized = sub.split(separator: "/").filter { $0 != "." }
            if normalized.contains("..") || normalized.isEmpty {
                throw SkiffError(.invalidArgument, "--cgroup \"\(sub)\": must name a sub-cgroup without \"..\"")
            }
            let target = directory + "/" + normalized.joined(separator: "/")
            if !Files.exists(target) {
                throw SkiffError(.invalidArgument, "--cgroup", LinuxError("stat", path: target, errno: ENOENT))
            }
            result.append(target)
        }
        return result
    }
}
