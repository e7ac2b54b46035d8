#if canImport(Glibc)
import Glibc
#endif
import CNsexec
import CShims
import SkiffCgroups
import SkiffLinux
import SkiffOCI

/// The runtime's side of bringing a container's init to life (docs/nsexec.md): make the
/// channels, exec ourselves as `init` into the C stage, place it in the cgroup, send the
/// bootstrap message, read the pids, hand the Swift init its options and wait for "ready".
struct InitSpawner {
    /// The environment variable naming init's fd of the sealed config.json.
    static let configEnvironmentName = "_SKIFF_CONFIGFD"

    /// The init's working directory: the bundle, where relative mount sources resolve (as runc).
    let workingDirectory: String
    let bootstrap: BootstrapMessage
    /// The first message on the sync socket: `.options` for create, `.exec` for exec.
    let firstMessage: SyncMessage
    let preserveFds: Int
    /// Cgroup directories stage 0 is moved into before the bootstrap data is sent, so every
    /// later stage is born inside them.
    let cgroupDirectories: [String]
    let fifo: OwnedFD?
    /// config.json as the runtime validated it, sealed (create only): init decodes these bytes.
    let config: OwnedFD?
    /// A connected console socket for process.terminal.
    let consoleSocket: OwnedFD?
    let debug: Bool
    let logger: Logger
    /// Capabilities, LSM and seccomp checked by the runtime, the sealed binary (Security/).
    var security: SpawnSecurity? = nil
    /// Runs the prestart and createRuntime hooks when init asks (before its pivot_root),
    /// given init's pid.
    var runtimeHooks: ((Int32) throws -> Void)? = nil
    /// process.execCPUAffinity.initial: the CPUs the runtime's part in the container (the C
    /// stage and init) runs on until it is in the container's cgroup. Set on this thread
    /// around the spawn, which the child inherits, as runc does.
    var initialCPUs: [Int]? = nil
    /// The detached idmapped mounts init attaches (IDMappedMountSet).
    var idmappedMounts = IDMappedMountSet()
    /// Runs once init's pid is known and before init is told anything: the container's
    /// namespaces exist (linux.netDevices are moved into its network namespace here), and
    /// nothing of the container has been set up yet.
    var namespacesReady: ((Int32) throws -> Void)? = nil
    /// Places stage 0 where `cgroupDirectories` cannot (systemd makes the scope's cgroup only
    /// when it is given a pid), before the bootstrap data; returns the directories stage 0
    /// must still join. Under systemd `cgroupDirectories` is empty.
    var placeStage0: ((Int32) throws -> [String])? = nil

    /// The container's init, prepared and waiting for `commit()`.
    struct Spawned {
        let pid: Int32
        let startTime: UInt64
        let sync: SyncChannel

        /// Tells init that the runtime has recorded it (state.json, the pid file): it goes on
        /// to wait on exec.fifo (create) or to execve (exec). Until then a runtime killed
        /// anywhere closes the socket, and init exits instead of outliving every record of it.
        func commit() throws {
            do {
                try sync.send(.committed)
            } catch {
                throw SkiffError(.containerInit, "init: exited before it was committed (\(error))")
            }
            sync.fd.close()
        }
    }

    func spawn() throws -> Spawned {
        let (initParent, initChild) = try Sockets.pair(type: Int32(SOCK_STREAM.rawValue))
        let (syncParent, syncChild) = try Sockets.pair(type: Int32(SOCK_SEQPACKET.rawValue))
        let log = try Sockets.pipe()
        try log.read.setNonBlocking(true)

        // Children get stdio, then the preserved fds 3..3+N-1 untouched, then our channels.
        let base = Int32(3 + preserveFds)
        var fds: [Processes.FDMapping] = (3..<base).map { Processes.FDMapping(source: $0, target: $0) }
        fds.append(Processes.FDMapping(source: initChild.raw, target: base))
        fds.append(Processes.FDMapping(source: syncChild.raw, target: base + 1))
        fds.append(Processes.FDMapping(source: log.write.raw, target: base + 2))
        var environment = [
            "\(SKIFF_ENV_INITPIPE)=\(base)", "\(SKIFF_ENV_SYNCPIPE)=\(base + 1)", "\(SKIFF_ENV_LOGPIPE)=\(base + 2)",
            // The Swift runtime's crash backtracer would look for its helper program at
            // startup (a dladdr search of the binary's symbols); init reports errors itself.
            "SWIFT_BACKTRACE=enable=no",
        ]
        var closeFrom = base + 3
        if let fifo {
            fds.append(Processes.FDMapping(source: fifo.raw, target: base + 3))
            environment.append("\(SKIFF_ENV_FIFOFD)=\(base + 3)")
            closeFrom += 1
        }
        if let config {
            fds.append(Processes.FDMapping(source: config.raw, target: closeFrom))
            environment.append("\(Self.configEnvironmentName)=\(closeFrom)")
            closeFrom += 1
        }
        if let consoleSocket {
            fds.append(Processes.FDMapping(source: consoleSocket.raw, target: closeFrom))
            environment.append("\(consoleEnvironmentName)=\(closeFrom)")
            closeFrom += 1
        }
        if !idmappedMounts.mounts.isEmpty {
            var pairs: [String] = []
            for (index, fd) in idmappedMounts.mounts {
                fds.append(Processes.FDMapping(source: fd.raw, target: closeFrom))
                pairs.append("\(index):\(closeFrom)")
                closeFrom += 1
            }
            environment.append("\(IDMappedMountSet.environmentName)=\(pairs.joined(separator: ","))")
        }
        if debug { environment.append("\(SKIFF_ENV_LOGLEVEL)=debug") }
        try security?.addChildFDs(&fds, &environment, &closeFrom)
        if !bootstrap.mountSources.isEmpty {
            // Above every channel and the C stage's own socketpairs (which take the lowest
            // free numbers); stage 1 refuses a number that is taken.
            environment.append("\(SKIFF_ENV_MOUNTFDS)=\(closeFrom + 16)")
        }

        let executable = try security?.initExecutable() ?? "/proc/self/exe"
        // Every later stage must be born inside the cgroups. On cgroup2, stage 0 is born in
        // the container's cgroup (clone3 CLONE_INTO_CGROUP); stage 0 moves itself into the v1
        // hierarchies (a thread moving itself takes no global lock; see join_cgroups in
        // nsexec.c); the runtime moves it into any other by cgroup.procs, before the
        // bootstrap data, which is what stage 0 waits for before it clones.
        var cgroups = CgroupManager.byVersion(cgroupDirectories)
        var byProcsWrite = cgroups.v2 + cgroups.unknown
        var savedCPUs: [Int]?
        if let initialCPUs {
            savedCPUs = try ProcessAttributes.affinity()
            do { try ProcessAttributes.setAffinity(initialCPUs) } catch {
                throw SkiffError.wrap(error, "process.execCPUAffinity.initial")
            }
        }
        defer { if let savedCPUs { try? ProcessAttributes.setAffinity(savedCPUs) } }
        let stage0: pid_t
        if let first = cgroups.v2.first, let fd = CgroupManager.openCgroup2(first), let pid = try Processes.spawn(
            path: executable, arguments: ["skiff", "init"], environment: environment, fds: fds, closeFrom: closeFrom,
            workingDirectory: workingDirectory, intoCgroup: fd) {
            stage0 = pid
            byProcsWrite.removeFirst()
        } else {
            stage0 = try Processes.spawn(
                path: executable, arguments: ["skiff", "init"], environment: environment,
                fds: fds, closeFrom: closeFrom, workingDirectory: workingDirectory)
        }
        // The runtime itself goes back to where it ran (the defer covers a failed spawn).
        if let savedCPUs { try? ProcessAttributes.setAffinity(savedCPUs) }
        initChild.close()
        syncChild.close()
        log.write.close()
        logger.debug("spawned stage-0 \(stage0)")

        var stage1: Int32 = 0
        var pid: Int32 = 0
        do throws(any Error) {
            if let placeStage0 {
                cgroups = CgroupManager.byVersion(try placeStage0(stage0))
                byProcsWrite = cgroups.v2 + cgroups.unknown
            }
            for directory in byProcsWrite {
                try Files.write(directory + "/cgroup.procs", "\(stage0)", flags: O_WRONLY)
            }
            var bootstrap = bootstrap
            bootstrap.cgroupTasks = cgroups.v1.map { $0 + "/tasks" }
            logger.debug("stage-0 joins \(byProcsWrite.count + cgroups.v1.count) cgroups (\(bootstrap.cgroupTasks.count) by itself)")
            try initParent.writeAll(bootstrap.encoded(), operation: "send bootstrap data")
            let sync = SyncChannel(fd: syncParent)
            func sendFirstMessage() throws {
                do {
                    try sync.send(firstMessage)
                } catch {
                    // Every stage may be gone already (newuidmap refused a rootless map): the C
                    // stage's own error says why, not our broken pipe.
                    throw failure(log: log.read, fallback: "\(error)")
                }
            }
            // Init waits for its first message: sent at once, unless something must happen
            // in its namespaces before it starts.
            if namespacesReady == nil { try sendFirstMessage() }

            let report = try readPidReport(initParent)
            guard let report else {
                let exit = try Processes.wait(stage0)
                throw failure(log: log.read, fallback: "nsexec: init exited with status \(exit.shellCode) before reporting its pid")
            }
            (stage1, pid) = report
            logger.debug("init pid \(pid)")
            if let namespacesReady {
                try namespacesReady(pid)
                try sendFirstMessage()
            }
            _ = try? Processes.wait(stage1)
            let stage0Exit = try Processes.wait(stage0)
            if stage0Exit != .exited(0) {
                throw failure(log: log.read, fallback: "nsexec: stage 0 exited with status \(stage0Exit.shellCode)")
            }
            try security?.forwardSeccompListener(pid: pid)
            var message = try sync.receive()
            if message == .hooks, let runtimeHooks {
                try runtimeHooks(pid)
                try sync.send(.hooksDone)
                message = try sync.receive()
            }
            switch message {
            case .ready?:
                break
            case .error(let message)?:
                throw SkiffError(.containerInit, message)
            case let other?:
                throw SkiffError(.containerInit, "init: unexpected \"\(other.name)\" message, expected \"ready\"")
            case nil:
                throw failure(log: log.read, fallback: "init: exited before it was ready")
            }
            forwardLogs(log.read)
            logger.debug("init ready")
            guard let startTime = Procfs.startTime(of: pid) else {
                throw SkiffError(.containerInit, "init: process \(pid) is gone")
            }
            return Spawned(pid: pid, startTime: startTime, sync: sync)
        } catch {
            if pid > 0 {
                kill(pid, SIGKILL)
                _ = try? Processes.wait(pid)
            }
            if stage1 > 0 { _ = try? Processes.tryWait(stage1) }
            if kill(stage0, 0) == 0 || currentErrno() != ESRCH {
                kill(stage0, SIGKILL)
                _ = try? Processes.wait(stage0)
            }
            throw error
        }
    }

    /// Reads `{"stage1_pid":N,"pid":M}\n`; nil when the C stage closed the socket first.
    private func readPidReport(_ fd: OwnedFD) throws -> (Int32, Int32)? {
        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = try fd.read(upTo: 256, operation: "read pid report")
            if chunk.isEmpty { return nil }
            line += chunk
            if line.count > 4096 { throw SkiffError(.system, "nsexec: pid report too long") }
        }
        struct Report: Decodable { let stage1_pid: Int32; let pid: Int32 }
        let body = line.prefix { $0 != UInt8(ascii: "\n") }
        guard let report = try? SkiffJSON.decode(Report.self, from: Array(body), document: "pid report"), report.pid > 0 else {
            throw SkiffError(.system, "nsexec: malformed pid report \(String(decoding: body, as: UTF8.self))")
        }
        return (report.stage1_pid, report.pid)
    }

    private struct LogLine: Decodable { let level: String; let msg: String }

    /// The C stage's log lines, forwarded to our logger; returns the last error message.
    @discardableResult
    private func forwardLogs(_ fd: OwnedFD) -> String? {
        var bytes: [UInt8] = []
        while let chunk = try? fd.read(upTo: 65536), !chunk.isEmpty { bytes += chunk }
        var lastError: String?
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let entry = try? SkiffJSON.decode(LogLine.self, from: Array(line), document: "log line") else {
                logger.warning(String(decoding: line, as: UTF8.self))
                continue
            }
            switch entry.level {
            case "error": lastError = entry.msg
            case "debug": logger.debug(entry.msg)
            case "warning": logger.warning(entry.msg)
            default: logger.info(entry.msg)
            }
        }
        return lastError
    }

    private func failure(log: OwnedFD, fallback: String) -> SkiffError {
        SkiffError(.containerInit, forwardLogs(log) ?? fallback)
    }
}

extension BootstrapMessage {
    static let cloneFlags: [LinuxNamespaceType: Int32] = [
        .user: SKIFF_CLONE_NEWUSER, .mount: SKIFF_CLONE_NEWNS, .network: SKIFF_CLONE_NEWNET, .ipc: SKIFF_CLONE_NEWIPC,
        .uts: SKIFF_CLONE_NEWUTS, .pid: SKIFF_CLONE_NEWPID, .cgroup: SKIFF_CLONE_NEWCGROUP, .time: SKIFF_CLONE_NEWTIME,
    ]
    static let nsNames: [LinuxNamespaceType: String] = [
        .user: "user", .mount: "mnt", .network: "net", .ipc: "ipc", .uts: "uts", .pid: "pid",
        .cgroup: "cgroup", .time: "time",
    ]

    /// The bootstrap data for a new container: namespaces to create or join, maps, offsets.
    static func forCreate(_ spec: Spec, rootless: Bool = false) throws -> BootstrapMessage {
        let linux = spec.linux
        var flags: UInt32 = 0
        var paths: [BootstrapMessage.NamespacePath] = []
        for namespace in linux?.namespaces ?? [] {
            if let path = namespace.path, !path.isEmpty {
                paths.append(BootstrapMessage.NamespacePath(type: nsNames[namespace.type]!, path: path))
            } else {
                flags |= UInt32(bitPattern: cloneFlags[namespace.type]!)
            }
        }
        func mapLines(_ mappings: [LinuxIDMapping]?) -> String? {
            guard let mappings, !mappings.isEmpty else { return nil }
            return mappings.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
        }
        var timeOffsets: String?
        if let offsets = linux?.timeOffsets, !offsets.isEmpty {
            timeOffsets = offsets.sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value.secs ?? 0) \($0.value.nanosecs ?? 0)\n" }.joined()
        }
        var message = BootstrapMessage()
        message.cloneFlags = flags
        message.namespacePaths = paths
        message.uidMap = flags & UInt32(SKIFF_CLONE_NEWUSER) != 0 ? mapLines(linux?.uidMappings) : nil
        message.gidMap = flags & UInt32(SKIFF_CLONE_NEWUSER) != 0 ? mapLines(linux?.gidMappings) : nil
        message.oomScoreAdj = spec.process?.oomScoreAdj
        message.timeOffsets = timeOffsets
        message.isExec = false
        // Without privilege every other namespace needs a user namespace that we own (runc's
        // "rootless container requires user namespaces"); as root in a user namespace we
        // already have one.
        if rootless && geteuid() != 0 && flags & UInt32(SKIFF_CLONE_NEWUSER) == 0 && !paths.contains(where: { $0.type == "user" }) {
            throw SkiffError(.invalidArgument, "linux.namespaces: a rootless container needs a user namespace (skiff spec --rootless writes one)")
        }
        if rootless && geteuid() != 0 && flags & UInt32(SKIFF_CLONE_NEWUSER) != 0 {
            // Root of a user namespace (rootless podman) writes any map of ids it has itself,
            // as runc does for a runtime whose euid is 0.
            try message.chooseMapWriters(uidMappings: linux?.uidMappings ?? [], gidMappings: linux?.gidMappings ?? [])
        } else if rootless && !paths.contains(where: { $0.type == "user" }) && Self.setgroupsDenied("/proc/self/setgroups") {
            // The container stays in our user namespace, whose creator denied setgroups
            // (`unshare --map-root-user`, a single-id map): stage 2 must not try it.
            message.setgroupsDeny = true
        }
        return message
    }

    /// Without privilege the kernel lets us write only a map of our own id (and a gid map only
    /// after setgroups is denied); anything more goes through the setuid newuidmap/newgidmap of
    /// Debian's uidmap package, which check /etc/subuid and /etc/subgid.
    mutating func chooseMapWriters(uidMappings: [LinuxIDMapping], gidMappings: [LinuxIDMapping],
                                   subuidFile: String = "/etc/subuid", subgidFile: String = "/etc/subgid") throws {
        let ownUid = uidMappings.count == 1 && uidMappings[0].hostID == geteuid() && uidMappings[0].size == 1
        let ownGid = gidMappings.count == 1 && gidMappings[0].hostID == getegid() && gidMappings[0].size == 1
        if !ownUid {
            newuidmapPath = try Self.findTool("newuidmap")
            try Self.requireSubordinateRange(subuidFile, option: "--add-subuids", mapping: "uidMappings")
        }
        if ownGid {
            setgroupsDeny = true
        } else {
            newgidmapPath = try Self.findTool("newgidmap")
            try Self.requireSubordinateRange(subgidFile, option: "--add-subgids", mapping: "gidMappings")
        }
    }

    /// A user without any range in /etc/subuid gets newuidmap's terse "not allowed" only
    /// after the namespaces exist; say what is missing and how to get it instead, before
    /// anything is made. Whether a given range is allowed stays newuidmap's call. Hosts that
    /// serve ranges through NSS (`subid:` in nsswitch.conf) are left to the tool.
    static func requireSubordinateRange(_ file: String, option: String, mapping: String,
                                        uid: uid_t = geteuid()) throws {
        if (try? Files.readString("/etc/nsswitch.conf"))?.split(separator: "\n").contains(where: {
            $0.trimmingPrefix(while: \.isWhitespace).hasPrefix("subid:")
        }) == true { return }
        let name = Runtime.userName(String(uid))
        let owner = name.hasPrefix("#") ? String(uid) : name
        let lines = ((try? Files.readString(file)) ?? "").split(separator: "\n")
        let found = lines.contains { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            return fields.count == 3 && (fields[0] == owner || fields[0] == "\(uid)") && (UInt32(fields[2]) ?? 0) > 0
        }
        if !found {
            throw SkiffError(.invalidArgument, "linux.\(mapping): \(file) has no range for user \(owner) (uid \(uid)): "
                + "ask root to add one (usermod \(option) 100000-165535 \(owner)), or map only your own id")
        }
    }

    /// Looked up in PATH as runc does (exec.LookPath), resolved here so the C stage never
    /// searches. A PATH of the caller's choosing gains nothing: only the real, setuid tool can
    /// write a map the caller could not write itself.
    static func findTool(_ name: String, path: String? = getenv("PATH").map { String(cString: $0) }) throws -> String {
        let search = path.flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in search.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory + "/" + name
            var st = stat()
            if stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        throw SkiffError(.notFound, "\(name) not found in PATH: mapping several id ranges without root needs it (Debian: apt-get install uidmap)")
    }
}

extension BootstrapMessage {
    /// Whether a user namespace's `setgroups` file says deny.
    static func setgroupsDenied(_ path: String) -> Bool {
        (try? Files.readString(path))?.hasPrefix("deny") == true
    }

    /// The bootstrap data for exec: join every namespace of the container's init by its
    /// /proc/PID/ns link; create none.
    static func forExec(pid: Int32, namespaces: [String]) -> BootstrapMessage {
        var message = BootstrapMessage()
        message.namespacePaths = namespaces.map { NamespacePath(type: $0, path: "/proc/\(pid)/ns/\($0)") }
        // A container whose user namespace denies setgroups keeps its groups on exec too.
        // Without a user namespace of its own the container shares ours (rootless podman).
        if setgroupsDenied(namespaces.contains("user") ? "/proc/\(pid)/setgroups" : "/proc/self/setgroups") {
            message.setgroupsDeny = true
        }
        message.isExec = true
        return message
    }
}
