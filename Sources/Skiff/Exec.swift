#if canImport(Glibc)
import Glibc
#endif
import CShims
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
    /// A sub-cgroup of the container's to run in (`--cgroup`).
    public var subCgroup: String?

    public init(process: Process, userSpec: String? = nil, detach: Bool = false, pidFile: String? = nil,
                consoleSocket: String? = nil, preserveFds: Int = 0, ignorePaused: Bool = false,
                subCgroup: String? = nil) {
        self.process = process
        self.userSpec = userSpec
        self.detach = detach
        self.pidFile = pidFile
        self.consoleSocket = consoleSocket
        self.preserveFds = preserveFds
        self.ignorePaused = ignorePaused
        self.subCgroup = subCgroup
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
            throw SkiffError(.invalidArgument, "process: \(error)")
        }
        // What init would refuse (an unknown scheduler policy, a malformed CPU list) fails here.
        _ = try ProcessTuning(process: options.process, linux: nil)
        _ = try ProcessTuning.initialCPUs(options.process)
        let record: ContainerRecord
        do {
            let lock = try store.lock(id)
            record = try store.load(id)
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
        let security = try SpawnSecurity.forExec(process: options.process, state: state(of: record),
                                                 stateDirectory: store.directory(id), logger: logger)
        let console = try Terminal.consoleSocket(terminal: options.process.terminal == true, path: options.consoleSocket,
                                                 foreground: !options.detach)
        var cgroups = record.cgroupPaths
        if let sub = options.subCgroup {
            let normalized = sub.split(separator: "/").filter { $0 != "." }
            if normalized.contains("..") || normalized.isEmpty {
                throw SkiffError(.invalidArgument, "--cgroup \"\(sub)\": must name a sub-cgroup without \"..\"")
            }
            cgroups = cgroups.map { $0 + "/" + normalized.joined(separator: "/") }
            for directory in cgroups where !Files.exists(directory) {
                throw SkiffError(.invalidArgument, "--cgroup: \(LinuxError("stat", path: directory, errno: ENOENT))")
            }
        }
        let listenFds = Runtime.socketActivationFds()
        let spawned: InitSpawner.Spawned
        do {
            spawned = try InitSpawner(
                workingDirectory: "/", bootstrap: .forExec(pid: record.pid, namespaces: record.namespaces),
                firstMessage: .exec(ExecInitOptions(containerID: id, process: options.process,
                                                    preserveFds: listenFds + options.preserveFds, listenFds: listenFds,
                                                    userSpec: options.userSpec)),
                preserveFds: listenFds + options.preserveFds, cgroupDirectories: cgroups, fifo: nil, config: nil,
                consoleSocket: console?.childEnd, debug: debug, logger: logger, security: security,
                initialCPUs: try ProcessTuning.initialCPUs(options.process)
            ).spawn()
            try console?.receiveMaster()
        } catch {
            throw SkiffError.wrap(error, "exec failed")
        }
        if let pidFile = options.pidFile {
            do {
                try writePidFile(pidFile, pid: spawned.pid)
            } catch {
                // A caller that cannot learn the pid cannot manage the process: do not leave it.
                Glibc.kill(spawned.pid, SIGKILL)
                _ = try? Processes.wait(spawned.pid)
                throw SkiffError.wrap(error, "--pid-file")
            }
        }
        do {
            try spawned.commit()
        } catch {
            throw SkiffError.wrap(error, "exec failed")
        }
        if options.detach { return 0 }
        let proxy = try console?.master.map { try TerminalProxy(master: $0) }
        return try ForegroundWaiter(pid: spawned.pid, terminal: proxy).wait().shellCode
    }
}
