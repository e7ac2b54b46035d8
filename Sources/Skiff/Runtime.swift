#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffCgroups
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// Options of `create` (and the create half of `run`), as runc's flags name them.
public struct CreateOptions: Sendable {
    public var pidFile: String?
    public var consoleSocket: String?
    public var noPivot = false
    public var noNewKeyring = false
    public var preserveFds = 0
    /// Set by `run` in the foreground: skiff proxies the terminal itself.
    var foregroundTerminal = false

    public init(pidFile: String? = nil, consoleSocket: String? = nil, noPivot: Bool = false,
                noNewKeyring: Bool = false, preserveFds: Int = 0) {
        self.pidFile = pidFile
        self.consoleSocket = consoleSocket
        self.noPivot = noPivot
        self.noNewKeyring = noNewKeyring
        self.preserveFds = preserveFds
    }
}

/// One container as `list` shows it; the JSON has runc's fields, in runc's order.
public struct ContainerSummary: Sendable, Codable, Equatable {
    public let ociVersion: String
    public let id: String
    public let pid: Int32
    public let status: ContainerStatus
    public let bundle: String
    public let rootfs: String
    public let created: String
    public let annotations: [String: String]?
    /// The creating user's name, or `#<uid>` when the host has none for it (as runc).
    public let owner: String
}

/// The embeddable runtime: every command of the CLI, on a state root. The CLI is a thin layer
/// over this type.
public struct Runtime: Sendable {
    public let store: StateStore
    public let logger: SkiffLogger
    public let debug: Bool

    /// Running without privilege on the host: user-namespace maps through our own ids or
    /// newuidmap/newgidmap, cgroups only where delegated or writable.
    public let rootless: Bool

    /// `--systemd-cgroup`: new containers get a transient systemd scope (Runtime+Systemd).
    /// Later commands follow each container's record, whatever this says.
    public let systemdCgroup: Bool

    public init(root: String = "/run/skiff", logger: SkiffLogger = SkiffLogger(), debug: Bool = false, rootless: Bool? = nil,
                systemdCgroup: Bool = false) {
        self.store = StateStore(root: root)
        self.logger = logger
        self.debug = debug
        self.rootless = rootless ?? Self.detectRootless()
        self.systemdCgroup = systemdCgroup
    }

    /// runc's `--rootless true|false|auto`: auto (or nothing) means "not root, or root only in
    /// a user namespace" (runc's `shouldUseRootlessCgroupManager`).
    public static func rootlessMode(_ flag: String?) throws -> Bool {
        switch flag {
        case nil, "auto": return detectRootless()
        case "true": return true
        case "false": return false
        case let other?: throw SkiffError(.invalidArgument, "--rootless: invalid value \"\(other)\" (true, false or auto)")
        }
    }

    /// Rootless podman runs the runtime as uid 0 of its own user namespace: root there, but
    /// host root's cgroups, device numbers and files stay out of reach.
    static func detectRootless() -> Bool {
        geteuid() != 0 || !Procfs.isInitialUserNamespace()
    }

    /// Must be referenced so the linker keeps the C stage's constructor (`isContainerInit`
    /// does that too).
    public static var nsexecLinked: Bool { CStage.isLinked }

    /// True when this process is a container's init, returned from the C stage: an embedder's
    /// `main` then calls `ContainerInit.main()` first thing (docs/embedding.md). Decided by
    /// the C stage, not by the arguments: Swift reads those from /proc/self/cmdline, which
    /// in an `exec`'s init is the container's file to provide.
    public static var isContainerInit: Bool { CStage.isContainerInit }

    // MARK: create

    /// Creates a container from a bundle: its init is prepared and waits for `start`.
    @discardableResult
    public func create(id: String, bundle: String, options: CreateOptions = CreateOptions()) throws -> State {
        try skiffErrors { try create(id: id, bundle: bundle, options: options, foregroundTerminal: false).state }
    }

    /// create, returning the pty master when skiff itself holds the terminal (`run -t`
    /// without a console socket).
    func create(id: String, bundle: String, options: CreateOptions, foregroundTerminal: Bool) throws -> (state: State, master: OwnedFD?) {
        let created = try create(id: id, bundle: bundle, options: options, foregroundTerminal: foregroundTerminal,
                                 startOnCommit: false)
        return (created.state, created.master)
    }

    /// create; with `startOnCommit` (`run` without a terminal of its own) the container is also
    /// released: exec.fifo's reader is opened before init is told "committed", so init goes
    /// straight on to its execve instead of waiting for `start` to load the record again. The
    /// reader comes back in `started`, for `awaitStart`; `cgroup` is the container's, for a
    /// delete by the same process.
    private func create(id: String, bundle: String, options: CreateOptions, foregroundTerminal: Bool,
                        startOnCommit: Bool) throws
        -> (state: State, master: OwnedFD?, started: StartingProcess?, cgroup: CgroupManager?) {
        var options = options
        options.foregroundTerminal = foregroundTerminal
        logger.debug("create \(id)")
        try ContainerID.validate(id)
        if options.preserveFds < 0 || options.preserveFds > 4096 {
            throw SkiffError(.invalidArgument, "--preserve-fds: \(options.preserveFds) is out of range (0…4096)")
        }
        let bundlePath: String
        do {
            bundlePath = try Files.realpath(bundle)
        } catch {
            throw SkiffError(.invalidArgument, "bundle", error)
        }
        let loaded = try loadConfig(bundle: bundlePath, seccompCache: SeccompCache(stateRoot: store.root))
        var spec = loaded.spec
        var configBytes = loaded.bytes
        let notify = NotifySocket.host != nil
        if notify {
            // The container's own socket, mounted in from the state directory (NotifySocket):
            // init is handed the config with that mount and variable, as runc rewrites its spec.
            NotifySocket.setupSpec(&spec, stateDirectory: store.directory(id))
            configBytes = Array(try spec.jsonData(indent: nil))
        }
        let security = try SpawnSecurity.forCreate(spec: spec, seccomp: loaded.seccomp, id: id, bundle: bundlePath,
                                                   stateDirectory: store.directory(id), logger: logger)
        guard let rootPath = spec.root?.path else { throw SkiffError(.invalidArgument, "root: missing required field") }
        let rootfs = rootPath.hasPrefix("/") ? rootPath : bundlePath + "/" + rootPath
        do {
            let st = try Files.open(rootfs, flags: SKIFF_O_PATH | O_DIRECTORY).stat()
            _ = st
        } catch {
            throw SkiffError(.invalidArgument, "root.path", error)
        }
        let console = try Terminal.consoleSocket(terminal: spec.process?.terminal == true, path: options.consoleSocket,
                                                 foreground: options.foregroundTerminal)

        logger.debug("config.json loaded and validated")
        let lock = try store.reserve(id)
        var cgroup: CgroupManager?
        var cgroupCreated = false
        var spawnedPid: Int32?
        var pidFileWritten: String?
        var cgroupWarning: String?
        var systemd: SystemdPlacement?
        var unitStarted = false
        // The directories made before the spawn (the cgroup2 one stage 0 is born in, or a
        // rootless cgroup): the rest are made in placeStage0.
        var bornIn: [String] = []
        // Rootless cgroups are placed by absolute path below the cgroup2 mount (Runtime+Rootless),
        // systemd scopes by their absolute path in the hierarchy.
        let relative = !rootless && !systemdCgroup && !(spec.linux?.cgroupsPath ?? "/").hasPrefix("/")
        var record = ContainerRecord(
            ociVersion: spec.ociVersion, id: id, pid: 0, pidStartTime: 0,
            bundle: bundlePath, rootfs: rootfs, created: SkiffLogger.timestamp(),
            owner: String(getuid()), annotations: spec.annotations,
            cgroupPaths: [], cgroupsPath: "", cgroupRelative: relative,
            namespaces: (spec.linux?.namespaces ?? []).compactMap { BootstrapMessage.nsNames[$0.type] },
            process: spec.process, hooks: spec.hooks)
        /// state.json as it stands, written before each thing it names exists: a create killed at
        /// any instant leaves a record `delete --force` can follow to every cgroup and process.
        /// Without config.json's process, which only `exec` reads (of a created or running
        /// container: the record written once init's pid is known has it); encoding it twice
        /// cost each create ~145 K instructions.
        func recordCgroup() throws {
            record.cgroupPaths = cgroup?.directories ?? []
            record.cgroupsPath = cgroup?.path ?? ""
            var beforeSpawn = record
            beforeSpawn.process = nil
            try store.save(beforeSpawn)
        }
        do {
            if notify {
                let directory = NotifySocket.directory(stateDirectory: store.directory(id))
                try Files.mkdir(directory, mode: 0o755)
            }
            if systemdCgroup {
                // Nothing is made until stage 0 exists: systemd creates the scope's cgroup with
                // stage 0 inside (placeStage0 below). The unit is recorded first, so that a
                // create killed after the start leaves delete something to stop.
                let placement = try prepareSystemdScope(spec: spec, id: id)
                systemd = placement
                cgroup = placement.cgroup
                record.systemdUnit = placement.scope.unit
                record.systemdUserBus = placement.user ? true : nil
                try recordCgroup()
            } else if rootless {
                (cgroup, cgroupWarning) = try createRootlessCgroup(spec: spec, id: id)
                cgroupCreated = cgroup != nil
                bornIn = cgroup?.directories ?? []
                try recordCgroup()
            } else {
                let cgroupsPath = spec.linux?.cgroupsPath ?? "/skiff/\(id)"
                do {
                    cgroup = try CgroupManager(hierarchies: try CgroupManager.hostHierarchies(), cgroupsPath: cgroupsPath,
                                               relative: relative)
                } catch {
                    throw SkiffError(.invalidArgument, error)
                }
                // On cgroup2 stage 0 is born in the container's cgroup (clone3
                // CLONE_INTO_CGROUP), which must exist first. The v1 hierarchies' are made while
                // stage 0 loads (placeStage0 below): stage 2 joins them itself.
                if cgroup?.hierarchies.contains(where: { $0.version == .v2 }) == true {
                    try recordCgroup()
                    cgroupCreated = true
                    bornIn = try cgroup?.create(only: .v2) ?? []
                }
            }

            let fifoPath = store.fifoPath(id)
            // 0622 whatever the umask: the process's user (uid 100000 on the host in a user
            // namespace) must be able to open it for writing.
            try Files.makeFifo(fifoPath, mode: 0o622)
            let fifo = try Files.open(fifoPath, flags: SKIFF_O_PATH)

            let idmappedMounts = try IDMappedMountSet.prepare(spec: spec, bundle: bundlePath, rootless: rootless)
            let netDevices = try NetDeviceMover(spec: spec, rootless: rootless)
            if !netDevices.devices.isEmpty {
                // Recorded before they move: a create killed half way is undone by delete.
                record.netDevices = netDevices.devices
                try store.save(record)
            }
            let listenFds = Runtime.socketActivationFds()
            let initOptions = InitOptions(
                containerID: id, rootfs: try Files.realpath(rootfs), noPivot: options.noPivot,
                noNewKeyring: options.noNewKeyring, preserveFds: listenFds + options.preserveFds,
                listenFds: listenFds, cgroups: cgroupSources(cgroup), debug: debug,
                bundle: bundlePath)
            // The v1 directories stage 2 joins, made once the bootstrap data is sent
            // (InitSpawner.makeLateCgroups); systemd's scope and rootless cgroups exist before.
            let lateV1Directories = systemd == nil && !rootless ? cgroup?.directories(of: .v1) ?? [] : []
            // init is told "committed" as soon as it is recorded (state.json, the pid file)
            // unless something must still reach the runtime between its steps: the runtime's
            // hooks, a seccomp listener, a console. `run` then also opens exec.fifo's reader
            // there, so the process starts the moment init is ready.
            let hasRuntimeHooks = !(spec.hooks?.prestart ?? []).isEmpty || !(spec.hooks?.createRuntime ?? []).isEmpty
            let commitOnRecord = console == nil && !hasRuntimeHooks && !security.forwardsListener
            var started: StartingProcess?
            let spawned = try InitSpawner(
                workingDirectory: bundlePath, bootstrap: try bootstrap(spec, bundle: bundlePath), firstMessage: .options(initOptions),
                preserveFds: initOptions.preserveFds,
                cgroupDirectories: bornIn,
                fifo: fifo, config: try SealedMemfd.make(name: "skiff-config", contents: configBytes),
                consoleSocket: console?.childEnd, debug: debug, logger: logger, security: security,
                runtimeHooks: { [logger] pid in
                    let state = State(ociVersion: spec.ociVersion, id: id, status: .creating, pid: pid,
                                      bundle: bundlePath, annotations: spec.annotations)
                    try HookRunner.run(spec.hooks?.prestart, kind: "prestart", state: state, logger: logger)
                    try HookRunner.run(spec.hooks?.createRuntime, kind: "createRuntime", state: state, logger: logger)
                },
                initialCPUs: try ProcessTuning.initialCPUs(spec.process),
                idmappedMounts: idmappedMounts,
                namespacesReady: netDevices.devices.isEmpty ? nil : { pid in try netDevices.moveIn(pid: pid) },
                placeStage0: systemd.map { placement in
                    { pid in try startSystemdScope(placement, spec: spec, id: id, pid: pid) { unitStarted = true } }
                } ?? { [logger] _ in
                    // While stage 0 loads: the limits of a cgroup2-only container (stage 0 is
                    // born in its cgroup). With v1 hierarchies they wait for makeLateCgroups.
                    if lateV1Directories.isEmpty {
                        try applyLimits(spec, cgroup: cgroup)
                        logger.debug("cgroup limits written")
                    }
                    return []
                },
                lateV1Directories: lateV1Directories,
                // After the bootstrap data, while stages 0 and 1 make the namespaces: the v1
                // directories, then every cgroup's limits; stage 2 joins once both are done.
                makeLateCgroups: lateV1Directories.isEmpty ? nil : { [logger] in
                    guard let cgroup else { return }
                    // Recorded before the first directory it names exists.
                    if !cgroupCreated { try recordCgroup() }
                    cgroupCreated = true
                    try cgroup.create(only: .v1)
                    try applyLimits(spec, cgroup: cgroup)
                    logger.debug("cgroup v1 directories made, limits written")
                },
                // The device rules (a dozen writes, or a BPF filter) while the C stage makes the
                // namespaces: before init's first message, so before init makes a device node
                // or the container's process runs (runc 1.1 sets its resources later still, at
                // procHooks, after its init has made the nodes). With systemd, placeStage0
                // applies them all.
                beforeFirstMessage: systemd == nil ? { try applyDeviceRules(spec, cgroup: cgroup) } : nil,
                pidReported: { pid, startTime in
                    record.pid = pid
                    record.pidStartTime = startTime
                    record.rootfs = initOptions.rootfs
                    try store.save(record)
                    if let pidFile = options.pidFile {
                        try writePidFile(pidFile, pid: pid)
                        pidFileWritten = pidFile
                    }
                    if commitOnRecord && startOnCommit { started = try prepareStart(record) }
                },
                commitOnRecord: commitOnRecord
            ).spawn()
            spawnedPid = spawned.pid
            try console?.receiveMaster()
            // A terminal skiff proxies itself is read only once `run` has set its proxy up, so
            // that process is released by `start` as before.
            if startOnCommit && started == nil && console?.master == nil { started = try prepareStart(record) }
            try spawned.commit()
            withExtendedLifetime(lock) {}
            if let cgroupWarning { logger.warning(cgroupWarning) }
            // Released, the process may already have exited: the state is the one it was
            // committed in, not read back.
            return (started == nil ? state(of: record) : state(of: record, status: .created), console?.master, started,
                    cgroup)
        } catch {
            if let pid = spawnedPid {
                // Spawned but not committed: init exits when our end of the sync socket
                // closes; kill it so that nothing is left when create returns.
                try? Processes.kill(pid, SIGKILL)
                _ = try? Processes.wait(pid)
            }
            if unitStarted {
                do {
                    try stopSystemdUnit(record)
                } catch {
                    logger.warning("\(error)")
                }
            }
            if cgroupCreated || unitStarted { try? cgroup?.destroy() }
            try? store.remove(id)
            // Written with the records, before "ready": a create that fails leaves no pid file
            // naming a process that is gone (runc writes it only once create has succeeded).
            if let pidFileWritten { try? Files.unlink(pidFileWritten) }
            throw error
        }
    }

    /// The bootstrap data for a new container. With a new user and mount namespace, and root
    /// privileges of our own, stage 0 opens the bind mount sources for init, which the
    /// container's root (an unprivileged id on the host) may not reach (runc 1.1's mountFds).
    func bootstrap(_ spec: Spec, bundle: String) throws -> BootstrapMessage {
        var message = try BootstrapMessage.forCreate(spec, rootless: rootless)
        let creates = { (type: LinuxNamespaceType) in
            (spec.linux?.namespaces ?? []).contains { $0.type == type && ($0.path ?? "").isEmpty }
        }
        guard geteuid() == 0, creates(.user), creates(.mount) else { return message }
        let mounts = spec.mounts ?? []
        // Relative sources are the bundle's, as init (whose cwd is the bundle) would read them.
        message.mountSources = InitEnvironment.bindMountIndices(mounts).map { index in
            let source = mounts[index].source ?? ""
            return source.hasPrefix("/") ? source : bundle + "/" + source
        }
        return message
    }

    /// Whether linux.resources asks for any limit (runc's spec carries an empty devices
    /// rule list even for rootless configs; that asks for nothing).
    static func requestsLimits(_ resources: LinuxResources) -> Bool {
        var copy = resources
        copy.devices = nil
        return copy != LinuxResources()
    }

    private func cgroupSources(_ cgroup: CgroupManager?) -> [CgroupMountSource] {
        guard let cgroup else { return [] }
        return cgroup.hierarchies.map {
            CgroupMountSource(version: $0.version == .v1 ? "v1" : "v2", controllers: $0.controllers,
                              mountPoint: $0.mountPoint, directory: cgroup.directory(in: $0))
        }
    }

    /// Reads and validates `<bundle>/config.json`; every error names the JSON path.
    public func loadSpec(bundle: String) throws -> Spec {
        try loadConfig(bundle: bundle, seccompCache: nil).spec
    }

    /// The largest config.json skiff reads (runc has none; a spec this size is already far
    /// beyond any real one: podman's largest seccomp profiles are ~30 KiB).
    static let configSizeLimit = 64 << 20

    /// config.json's bytes with the spec they validated to: create hands init exactly these
    /// bytes (a sealed memfd), so a config.json rewritten meanwhile is never what init uses.
    /// With a cache that holds the filter for linux.seccomp's text, the profile is neither
    /// decoded nor checked again (it was, by this binary, when the filter was stored) and the
    /// spec comes without it; the filter is returned instead.
    func loadConfig(bundle: String, seccompCache: SeccompCache?) throws
        -> (spec: Spec, bytes: [UInt8], seccomp: SpawnSecurity.ConfigSeccomp?) {
        let path = bundle + "/config.json"
        let bytes: [UInt8]
        do {
            let file = try Files.open(path, flags: O_RDONLY)
            let size = Int(try file.stat().st_size)
            // Init reads the config back from a memfd with the same limit; a larger file is
            // refused with its size rather than cut short into "malformed JSON".
            if size > Self.configSizeLimit {
                throw SkiffError(.invalidArgument, "config.json too large (\(size) bytes, limit \(Self.configSizeLimit))")
            }
            bytes = try file.readAll(limit: Self.configSizeLimit, path: path)
        } catch let error as SkiffError {
            throw error
        } catch {
            throw SkiffError(.invalidArgument, error)
        }
        do {
            let document = try JSONDocument(parsing: bytes, name: Spec.documentName)
            let spec: Spec
            var seccomp: SpawnSecurity.ConfigSeccomp?
            let seccompText = document.text(of: "linux.seccomp")
            if let seccompText, let program = seccompCache?.cachedProgram(forText: seccompText) {
                spec = try document.decode(Spec.self, omitting: ["linux.seccomp"])
                seccomp = .cached(program)
            } else {
                spec = try document.decode(Spec.self)
                if let profile = spec.linux?.seccomp, let seccompText { seccomp = .profile(profile, text: seccompText) }
            }
            try spec.validate()
            // Init turns these fields into the kernel's numbers again; a value it would refuse
            // fails here, before anything is made.
            _ = try ProcessTuning(process: spec.process ?? Process(), linux: spec.linux)
            _ = try ProcessTuning.initialCPUs(spec.process)
            if spec.linux?.intelRdt != nil {
                // RDTGROUP_SUPER_MAGIC: resctrl mounted where runc and the kernel docs put it.
                let mounted = (try? Files.filesystemType("/sys/fs/resctrl")) == 0x7655_821
                throw SkiffError(.invalidArgument, "config.json: linux.intelRdt: " + (mounted
                    ? "resctrl groups are not supported yet"
                    : "resctrl is not mounted at /sys/fs/resctrl (Intel RDT needs it)"))
            }
            return (spec, bytes, seccomp)
        } catch let error as SpecError {
            throw SkiffError(.invalidArgument, error.path == "config.json" ? "\(error)" : "config.json: \(error)")
        }
    }

    /// Written to a temp file and renamed, as containerd expects the pid file to appear whole.
    func writePidFile(_ path: String, pid: Int32) throws {
        let absolute = path.hasPrefix("/") ? path : (try Files.currentDirectory()) + "/" + path
        try Files.writeAtomically(absolute, Array("\(pid)".utf8), mode: 0o644)
    }

    // MARK: state

    /// The status of a container as the kernel sees it now.
    public func status(of record: ContainerRecord) -> ContainerStatus {
        if record.pid == 0 {
            // Written before init exists: creating while its create holds the lock, else
            // a create that died (delete removes what it made).
            return store.isLocked(record.id) ? .creating : .stopped
        }
        guard record.pid > 0, let process = Procfs.status(of: record.pid), process.startTime == record.pidStartTime,
              process.state != "Z", process.state != "X" else {
            return .stopped
        }
        if isPaused(record) { return .paused }
        if Files.exists(store.fifoPath(record.id)) { return .created }
        return .running
    }

    /// `known`: the status the caller has just read, so it is not read again (mountinfo, the
    /// cgroup files, /proc/PID/stat).
    func state(of record: ContainerRecord, status known: ContainerStatus? = nil) -> State {
        let status = known ?? status(of: record)
        return State(ociVersion: record.ociVersion, id: record.id, status: status,
                     pid: status == .stopped ? 0 : record.pid, bundle: record.bundle,
                     annotations: record.annotations)
    }

    public func state(id: String) throws -> State {
        try skiffErrors {
            try ContainerID.validate(id)
            return state(of: try store.load(id, includingProcess: false))
        }
    }

    /// The host's name for a uid kept as text in state.json, or "#uid".
    static func userName(_ uid: String) -> String {
        guard let id = uid_t(uid) else { return uid }
        return Identity.userName(id) ?? "#" + uid
    }

    /// Every container under the root. One that cannot be loaded is passed to `unreadable`
    /// (runc prints "load container ID: error") and left out.
    public func list(unreadable: (String, any Error) -> Void = { _, _ in }) throws -> [ContainerSummary] {
        store.ids().compactMap { id in
            let record: ContainerRecord
            do {
                record = try store.load(id, includingProcess: false)
            } catch {
                // A directory without state.json yet, whose create still holds the lock, is
                // being created, not broken.
                if !Files.exists(store.statePath(id)) {
                    if !store.isLocked(id) {
                        unreadable(id, SkiffError(.notFound, "no state.json: a create that did not finish (delete removes it)"))
                    }
                } else {
                    unreadable(id, error)
                }
                return nil
            }
            let state = state(of: record)
            return ContainerSummary(ociVersion: record.ociVersion, id: id, pid: state.pid ?? 0, status: state.status,
                                    bundle: record.bundle, rootfs: record.rootfs, created: record.created,
                                    annotations: record.annotations, owner: Self.userName(record.owner))
        }
    }

    // MARK: start

    /// Releases a created container's process: opens exec.fifo, which init is blocked on.
    public func start(id: String) throws {
        try skiffErrors {
            let (record, notify) = try startContainer(id: id)
            try forwardNotifications(record, notify)
        }
    }

    /// Releases the process; returns its record and, when create set one up and NOTIFY_SOCKET
    /// is set now, the container's notify socket, bound before the process runs.
    private func startContainer(id: String) throws -> (ContainerRecord, OwnedFD?) {
        let lock = try store.lock(id)
        let record = try store.load(id, includingProcess: false)
        let status = status(of: record)
        guard status == .created else {
            throw SkiffError(.invalidState, "cannot start a container that is \(status.rawValue)")
        }
        let started = try prepareStart(record)
        try awaitStart(started)
        withExtendedLifetime(lock) {}
        return (record, started.notify)
    }

    /// After the lock is released: the wait for READY may be long, and kill or delete must
    /// not wait behind it.
    private func forwardNotifications(_ record: ContainerRecord, _ notify: OwnedFD?) throws {
        if let notify, let host = NotifySocket.host {
            try NotifySocket.forward(notify, host: host, pid: record.pid, logger: logger,
                                     isAlive: { Procfs.startTime(of: record.pid) == record.pidStartTime })
        }
    }

    /// A created container's process being released: exec.fifo opened for reading (init's
    /// open for writing returns once it is), a pidfd of init, and the notify socket.
    struct StartingProcess {
        let record: ContainerRecord
        let fifo: OwnedFD
        let pidfd: OwnedFD
        let notify: OwnedFD?
    }

    /// Everything `start` sets up before the process may run: the pidfd first (init's pid
    /// cannot be reused behind it), the notify socket bound, then the fifo's reader.
    private func prepareStart(_ record: ContainerRecord) throws -> StartingProcess {
        let pidfd = try Processes.pidfd(record.pid)
        let notify = NotifySocket.host == nil ? nil : try NotifySocket.bind(stateDirectory: store.directory(record.id))
        let fifo = try Files.open(store.fifoPath(record.id), flags: O_RDONLY | O_NONBLOCK)
        return StartingProcess(record: record, fifo: fifo, pidfd: pidfd, notify: notify)
    }

    /// Waits for init's byte on exec.fifo ("0": it execs the process; "1": a startContainer
    /// hook failed) or for init to die (then the fifo never gets a writer), then removes the
    /// fifo and runs the poststart hooks.
    private func awaitStart(_ started: StartingProcess) throws {
        let fifoPath = store.fifoPath(started.record.id)
        var entries = [pollfd(fd: started.fifo.raw, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: started.pidfd.raw, events: Int16(POLLIN), revents: 0)]
        while true {
            try Poll.wait(&entries, timeout: -1, path: fifoPath)
            if entries[0].revents & Int16(POLLIN) != 0 {
                let byte = try started.fifo.read(upTo: 1, operation: "read exec.fifo")
                if byte == [UInt8(ascii: "0")] { break }
                if byte == [UInt8(ascii: "1")] {
                    // A startContainer hook failed: init writes why and exits without running
                    // the process (the spec: generate an error, stop the container).
                    let message = Self.readStartFailure(started.fifo)
                    try? Files.unlink(fifoPath)
                    throw SkiffError(.system, message)
                }
            }
            if entries[1].revents != 0 {
                throw SkiffError(.invalidState, "cannot start a container whose init has exited")
            }
            entries[0].revents = 0
            usleep(1000)
        }
        try Files.unlink(fifoPath)
        try HookRunner.run(started.record.hooks?.poststart, kind: "poststart", state: state(of: started.record),
                           logger: logger, failureIsWarning: true)
    }

    /// A failed startContainer hook's message, which init writes after its "1" before it exits.
    private static func readStartFailure(_ fifo: OwnedFD) -> String {
        var text: [UInt8] = []
        while text.count < 4096 {
            do {
                let chunk = try fifo.read(upTo: 4096 - text.count, operation: "read exec.fifo")
                if chunk.isEmpty { break }
                text += chunk
            } catch where error.errno.rawValue == EAGAIN {
                var entry = pollfd(fd: fifo.raw, events: Int16(POLLIN), revents: 0)
                if poll(&entry, 1, 1000) <= 0 { break }
            } catch {
                break
            }
        }
        let message = String(decoding: text, as: UTF8.self)
        return message.isEmpty ? "a startContainer hook failed" : message
    }

    // MARK: kill

    public func kill(id: String, signal: Int32, all: Bool = false) throws {
        try skiffErrors { try killContainer(id: id, signal: signal, all: all) }
    }

    private func killContainer(id: String, signal: Int32, all: Bool) throws {
        let lock = try store.lock(id)
        let record = try store.load(id, includingProcess: false)
        let status = status(of: record)
        guard status == .created || status == .running || status == .paused else {
            throw SkiffError(.invalidState, "container not running")
        }
        // Init first: with --all it may die with the rest and be reaped at once, and a later
        // signal through its pidfd would fail (ESRCH).
        try Processes.signal(try Processes.pidfd(record.pid), signal)
        if all {
            if let cgroup = cgroup(of: record) {
                cgroup.signalAll(signal, except: record.pid)
            } else {
                for pid in processesWithoutCgroup(record) where pid != record.pid { try? Processes.kill(pid, signal) }
            }
        }
        withExtendedLifetime(lock) {}
    }

    // MARK: delete

    /// Removes a container. A created one is killed first, as runc does (containerd deletes
    /// created tasks without --force); a running or paused one needs `force`.
    public func delete(id: String, force: Bool = false) throws {
        try skiffErrors { try deleteContainer(id: id, force: force) }
    }

    /// `knownCgroup`: the container's cgroup as this process's create made it (`run`), so the
    /// host's hierarchies are not read again (mountinfo, /proc/self/cgroup: ~0.05 ms).
    private func deleteContainer(id: String, force: Bool, knownCgroup: CgroupManager? = nil) throws {
        let lock = try store.lock(id)
        let record: ContainerRecord
        do {
            record = try store.load(id, includingProcess: false)
        } catch let error as SkiffError where error.kind == .notFound {
            // A directory without state.json is a create that died before it made anything
            // (state.json is written before the first cgroup): clean it up.
            try store.remove(id)
            return
        } catch {
            guard force else { throw SkiffError.wrap(error, "delete \(id) (--force removes it anyway)") }
            // A corrupt or tampered state.json: remove what the id alone determines.
            try removeUnrecorded(id)
            return
        }
        let status = status(of: record)
        // While init lives its network namespace does: the devices go back before it ends.
        let returnDevices = {
            if let devices = record.netDevices, Procfs.startTime(of: record.pid) == record.pidStartTime {
                NetDeviceMover.moveBack(devices, pid: record.pid, logger: self.logger)
            }
        }
        switch status {
        case .running, .paused:
            guard force else {
                throw SkiffError(.invalidState, "cannot delete container \(id) that is not stopped: \(status.rawValue)")
            }
            returnDevices()
            if status == .paused { killPaused(record) }
            try killAndWait(record)
        case .created, .creating:
            returnDevices()
            try killAndWait(record)
        case .stopped:
            break
        }
        let containerCgroup = knownCgroup.flatMap { $0.path == record.cgroupsPath ? $0 : nil } ?? cgroup(of: record)
        if record.systemdUnit != nil {
            // Without a pid namespace, children of init may outlive it: systemd kills what
            // remains in the scope, and removes its cgroup.
            containerCgroup?.pids.forEach { try? Processes.kill($0, SIGKILL) }
            do {
                try stopSystemdUnit(record)
            } catch {
                throw SkiffError.wrap(error, "delete \(id)")
            }
        }
        if let cgroup = containerCgroup {
            // Without a pid namespace, children of init may outlive it: destroy kills what
            // remains when a directory refuses to go.
            do {
                try cgroup.destroy()
            } catch {
                throw SkiffError.wrap(error, "delete \(id): remove cgroup")
            }
        }
        try store.remove(id)
        try HookRunner.run(record.hooks?.poststop, kind: "poststop",
                           state: State(ociVersion: record.ociVersion, id: id, status: .stopped, bundle: record.bundle,
                                        annotations: record.annotations),
                           logger: logger, failureIsWarning: true)
        withExtendedLifetime(lock) {}
    }

    /// `delete --force` of a container whose state.json cannot be read: whatever of it still
    /// parses (the pid, the cgroup directories, the systemd scope), else the cgroup the id alone
    /// names (`/skiff/<id>` in every hierarchy, the rootless default) and, under
    /// --systemd-cgroup, the scope described as this container's, emptied and removed, then
    /// the state directory.
    private func removeUnrecorded(_ id: String) throws {
        let salvage = store.salvage(id)
        if let pid = salvage.pid, let startTime = salvage.pidStartTime, Procfs.startTime(of: pid) == startTime {
            if let pidfd = try? Processes.pidfd(pid) {
                try? Processes.signal(pidfd, SIGKILL)
                _ = try? Processes.waitExit(pidfd, timeoutMilliseconds: 10_000)
            } else {
                try? Self.killWithoutPidfd(pid, startTime: startTime, also: [])
            }
        }
        do {
            try stopUnrecordedUnit(id: id, salvaged: salvage)
        } catch {
            throw SkiffError.wrap(error, "delete \(id)")
        }
        let hierarchies = (try? CgroupManager.hostHierarchies()) ?? []
        var candidates: [(path: String, relative: Bool)] = ["/skiff/\(id)"].map { ($0, false) }
        if let recorded = salvage.cgroupsPath, !recorded.isEmpty { candidates.insert((recorded, salvage.cgroupRelative), at: 0) }
        if let own = hierarchies.first(where: { $0.version == .v2 })?.ownPath {
            candidates += Self.rootlessCgroupPaths(cgroupsPath: nil, id: id, ownPath: own).map { ($0, false) }
        }
        for candidate in candidates {
            guard let manager = try? CgroupManager(hierarchies: hierarchies, cgroupsPath: candidate.path,
                                                   relative: candidate.relative),
                  manager.directories.contains(where: Files.exists) else { continue }
            do {
                try manager.destroy()
            } catch {
                throw SkiffError.wrap(error, "delete \(id): remove cgroup")
            }
        }
        try store.remove(id)
        logger.warning("delete \(id): state.json unreadable; removed its cgroups and state directory")
    }

    private func killAndWait(_ record: ContainerRecord) throws {
        let pidfd: OwnedFD
        do {
            pidfd = try Processes.pidfd(record.pid)
        } catch {
            guard error.errno.rawValue != ESRCH else { return }
            try Self.killWithoutPidfd(record.pid, startTime: record.pidStartTime, also: cgroup(of: record)?.pids ?? [])
            return
        }
        guard Procfs.startTime(of: record.pid) == record.pidStartTime else { return }
        // Init first: once the others die (and with them possibly init), it may be reaped at
        // once. It still may be: a paused container's processes were all killed before this
        // (killPaused), and init, reaped by its parent since, makes the pidfd's signal fail with
        // ESRCH: the process the pidfd names is gone, which is what this wants; the rest of the
        // cgroup is still killed.
        let signalled = Result { () throws(LinuxError) in try Processes.signal(pidfd, SIGKILL) }
        if case .failure(let error) = signalled, error.errno.rawValue != ESRCH { throw error }
        cgroup(of: record)?.pids.forEach { try? Processes.kill($0, SIGKILL) }
        // Our own child (run) is reaped by the caller; others are reaped by their parent (a
        // pidfd of a process already gone polls readable at once).
        _ = try Processes.waitExit(pidfd, timeoutMilliseconds: 10_000)
    }

    /// pidfd_open refused while the process is there (a seccomp profile older than the call,
    /// no fd left): SIGKILL by pid right after its start time is checked, then its exit awaited
    /// on /proc (reaped here when it is our child, as in a failed `run`). Skipping the kill, as
    /// `delete --force` did, removed the record of a container whose processes ran on.
    private static func killWithoutPidfd(_ pid: Int32, startTime: UInt64, also others: [Int32]) throws {
        guard Procfs.startTime(of: pid) == startTime else { return }
        try Processes.kill(pid, SIGKILL)
        others.forEach { try? Processes.kill($0, SIGKILL) }
        for _ in 0..<10_000 {
            if (try? Processes.tryWait(pid)) != nil { return }
            guard let status = Procfs.status(of: pid), status.startTime == startTime, status.state != "Z" else { return }
            usleep(1_000)
        }
        throw SkiffError(.system, "kill \(pid): still running 10 s after SIGKILL")
    }

    // MARK: run

    /// create + start, then (unless `detach`) wait for the process and delete the container
    /// unless `keep`. Returns the process's exit code, 128+signal if it was killed.
    public func run(id: String, bundle: String, options: CreateOptions = CreateOptions(),
                    detach: Bool = false, keep: Bool = false, subreaper: Bool = true) throws -> Int32 {
        try skiffErrors { try runContainer(id: id, bundle: bundle, options: options, detach: detach, keep: keep, subreaper: subreaper) }
    }

    private func runContainer(id: String, bundle: String, options: CreateOptions, detach: Bool, keep: Bool,
                              subreaper: Bool) throws -> Int32 {
        // A SIGTERM during create or start must not kill skiff half-way (leaving a container
        // nobody deletes): hold signals from now on; the waiter forwards what is pending.
        let signals = detach ? nil : SignalHold()
        defer { signals?.release() }
        if subreaper && !detach {
            // Processes the container leaves behind are reparented to us, not to the host's
            // init, as runc does.
            ProcessControl.trySetChildSubreaper()
        }
        let (state, master, started, cgroup) = try create(id: id, bundle: bundle, options: options,
                                                          foregroundTerminal: !detach && options.consoleSocket == nil,
                                                          startOnCommit: true)
        // Become the terminal's proxy before the process starts, so no output is lost.
        let proxy = try master.map { try TerminalProxy(master: $0) }
        do {
            if let started {
                // Released by create; awaited under the lock, as `start` does.
                let lock = try store.lock(id)
                try awaitStart(started)
                withExtendedLifetime(lock) {}
                try forwardNotifications(started.record, started.notify)
            } else {
                try start(id: id)
            }
        } catch {
            try? deleteContainer(id: id, force: true, knownCgroup: cgroup)
            throw error
        }
        if detach { return 0 }
        let pid = state.pid ?? 0
        let exit: Processes.Exit
        do {
            // skiff is init's parent here (CLONE_PARENT), so it can reap it.
            exit = try ForegroundWaiter(pid: pid, terminal: proxy).wait()
        } catch {
            try? deleteContainer(id: id, force: true, knownCgroup: cgroup)
            throw error
        }
        if !keep { try deleteContainer(id: id, force: true, knownCgroup: cgroup) }
        return exit.shellCode
    }
}

/// Every error leaving the public API is a SkiffError, so embedders can switch on `kind`.
func skiffErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw SkiffError.converting(error)
    }
}

extension Runtime {
    /// systemd socket activation: LISTEN_FDS fds starting at 3, meant for us when LISTEN_PID
    /// is our pid. They are passed on to the container like --preserve-fds, as runc does.
    static func socketActivationFds() -> Int {
        guard let fds = getenv("LISTEN_FDS").flatMap({ Int(String(cString: $0)) }), fds > 0, fds < 4096 else { return 0 }
        if let pid = getenv("LISTEN_PID").flatMap({ Int32(String(cString: $0)) }), pid != getpid() { return 0 }
        return fds
    }

    /// The git commit the binary was built from ("unknown" outside `make`).
    public static var buildCommit: String { BuildInfo.commit }
}
