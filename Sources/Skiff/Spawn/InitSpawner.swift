#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffCgroups
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// The runtime's side of bringing a container's init to life (docs/nsexec.md): make the
/// channels, exec ourselves as `init` into the C stage, place it in the cgroup, send the
/// bootstrap message, read the pids, hand the Swift init its options and wait for "ready".
struct InitSpawner {
    /// The init's working directory: the bundle, where relative mount sources resolve (as runc).
    let workingDirectory: String
    let bootstrap: BootstrapMessage
    /// The first message on the sync socket: `.options` for create, `.exec` for exec.
    let firstMessage: SyncMessage
    let preserveFds: Int
    /// The container's cgroup directories: stage 0 is born in (or moved into) the cgroup2 one
    /// before the bootstrap data is sent; stage 2 joins the v1 ones itself (docs/nsexec.md).
    let cgroupDirectories: [String]
    let fifo: OwnedFD?
    /// config.json as the runtime validated it, sealed (create only): init decodes these bytes.
    let config: OwnedFD?
    /// A connected console socket for process.terminal.
    let consoleSocket: OwnedFD?
    let debug: Bool
    let logger: SkiffLogger
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
    /// Runs once stage 0 exists and before the bootstrap data it waits for, while it loads
    /// (~0.4 ms of exec and loader on an idle core): makes the cgroups `cgroupDirectories`
    /// does not name yet and sets their limits (systemd makes the scope's cgroup only when it
    /// is given a pid; v1 hierarchies need not exist before stage 0, which stage 2 joins
    /// itself), as runc applies its cgroups once its init has started. Returns the
    /// directories still to join besides `cgroupDirectories` (cgroup2 ones by stage 0's pid,
    /// v1 ones by stage 2 itself).
    var placeStage0: ((Int32) throws -> [String])? = nil
    /// cgroup v1 directories for stage 2 to join that `makeLateCgroups` makes after the
    /// bootstrap data, which names them, is sent: while stages 0 and 1 make the namespaces
    /// rather than while stage 0 waits for that data (nine v1 directories took ~0.27 ms).
    /// Stage 0 opens their tasks files only once told they exist, limits written (nsexec.c).
    var lateV1Directories: [String] = []
    var makeLateCgroups: (() throws -> Void)? = nil
    /// Runs once the bootstrap data is sent and before init's first message: stages 0, 1 and
    /// 2 make the namespaces meanwhile (~0.5 ms), and the Swift init, which does nothing
    /// before that message, finds whatever this does done. `create` writes the device rules
    /// here, which kept stage 0 waiting for its bootstrap data when written in placeStage0.
    var beforeFirstMessage: (() throws -> Void)? = nil
    /// Runs once init's pid and start time are known, while init sets itself up: `create`
    /// records them here, so that after "ready" only "committed" remains and init, which waits
    /// for it, is not kept waiting on state.json's encoding.
    var pidReported: ((_ pid: Int32, _ startTime: UInt64) throws -> Void)? = nil
    /// "committed" is sent right after `pidReported` (which must then have written every
    /// record of init) and stage 1's exit, instead of by `Spawned.commit()` after "ready":
    /// init finds it waiting when it is ready, with no round trip through the runtime
    /// (~0.09 ms: two wake-ups across cores and the runtime's turn). Only when the runtime has nothing to do between
    /// init's steps: init's only other receive is "hooksDone" (runtime hooks), and a seccomp
    /// listener or a console must reach the runtime before the container may go on.
    var commitOnRecord = false

    /// The container's init, prepared and waiting for `commit()`.
    struct Spawned {
        let pid: Int32
        let sync: SyncChannel
        /// Whether "committed" went with the records (`commitOnRecord`).
        let committed: Bool

        /// Tells init that the runtime has recorded it (state.json, the pid file): it goes on
        /// to wait on exec.fifo (create) or to execve (exec). Until then a runtime killed
        /// anywhere closes the socket, and init exits instead of outliving every record of it.
        func commit() throws {
            if !committed { try InitSpawner.sendCommitted(sync) }
            sync.fd.close()
        }
    }

    static func sendCommitted(_ sync: SyncChannel) throws {
        do {
            try sync.send(.committed)
        } catch {
            throw SkiffError(.containerInit, "init: exited before it was committed (\(error))")
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
            "\(InitEnvironment.initPipe)=\(base)", "\(InitEnvironment.syncPipe)=\(base + 1)", "\(InitEnvironment.logPipe)=\(base + 2)",
            // The Swift runtime's crash backtracer: off, init reports its errors itself. Its
            // helper's path named too (never run), or the runtime still searches for it at
            // startup: nine stats per init, relative to its working directory, which in an
            // exec's init is already the container's root.
            "SWIFT_BACKTRACE=enable=no,swift-backtrace=/nonexistent",
        ]
        var closeFrom = base + 3
        if let fifo {
            fds.append(Processes.FDMapping(source: fifo.raw, target: base + 3))
            environment.append("\(InitEnvironment.fifo)=\(base + 3)")
            closeFrom += 1
        }
        if let config {
            fds.append(Processes.FDMapping(source: config.raw, target: closeFrom))
            environment.append("\(InitEnvironment.config)=\(closeFrom)")
            closeFrom += 1
        }
        if let consoleSocket {
            fds.append(Processes.FDMapping(source: consoleSocket.raw, target: closeFrom))
            environment.append("\(InitEnvironment.console)=\(closeFrom)")
            closeFrom += 1
        }
        if !idmappedMounts.mounts.isEmpty {
            var pairs: [(index: Int, fd: Int32)] = []
            for (index, fd) in idmappedMounts.mounts {
                fds.append(Processes.FDMapping(source: fd.raw, target: closeFrom))
                pairs.append((index, closeFrom))
                closeFrom += 1
            }
            environment.append("\(InitEnvironment.idmappedMounts)=\(InitEnvironment.idmappedMountsValue(pairs))")
        }
        if debug { environment.append("\(InitEnvironment.logLevel)=debug") }
        try security?.addChildFDs(&fds, &environment, &closeFrom)
        if !bootstrap.mountSources.isEmpty {
            environment.append("\(InitEnvironment.mountFDs)=\(closeFrom + InitEnvironment.mountFDGap)")
        }

        let executable = try security?.initExecutable() ?? "/proc/self/exe"
        // On cgroup2, stage 0 is born in the container's cgroup (clone3 CLONE_INTO_CGROUP); the
        // runtime moves it into any other non-v1 one by cgroup.procs, before the bootstrap
        // data, which is what stage 0 waits for before it clones. The v1 hierarchies' tasks
        // files travel in the bootstrap data: stage 2 moves itself into them before anything
        // else (a thread moving itself takes no global lock), so the namespaces and clones of
        // stages 0 and 1 are charged to the runtime's memory cgroup (join_cgroups in nsexec.c).
        let given = CgroupManager.byVersion(cgroupDirectories)
        let bornInto = given.v2.first
        var savedCPUs: [Int]?
        if let initialCPUs {
            savedCPUs = try ProcessAttributes.affinity()
            do { try ProcessAttributes.setAffinity(initialCPUs) } catch {
                throw SkiffError.wrap(error, "process.execCPUAffinity.initial")
            }
        }
        defer { if let savedCPUs { try? ProcessAttributes.setAffinity(savedCPUs) } }
        let spawned = try Processes.spawn(
            path: executable, arguments: ["skiff", "init"], environment: environment, fds: fds, closeFrom: closeFrom,
            workingDirectory: workingDirectory, intoCgroup: bornInto.flatMap(CgroupManager.openCgroup2))
        let stage0 = spawned.pid
        // The runtime itself goes back to where it ran (the defer covers a failed spawn).
        if let saved = savedCPUs {
            try? ProcessAttributes.setAffinity(saved)
            savedCPUs = nil
        }
        initChild.close()
        syncChild.close()
        log.write.close()
        logger.debug("spawned stage-0 \(stage0)")

        var stage1: Int32 = 0
        var pid: Int32 = 0
        var committedEarly = false
        do throws(any Error) {
            let placed = CgroupManager.byVersion(try placeStage0?(stage0) ?? [])
            var byProcsWrite = given.v2 + given.unknown + placed.v2 + placed.unknown
            if spawned.inCgroup { byProcsWrite.removeFirst() }
            for directory in byProcsWrite {
                try Files.write(directory + "/cgroup.procs", "\(stage0)", flags: O_WRONLY)
            }
            var bootstrap = bootstrap
            bootstrap.cgroupTasks = (given.v1 + placed.v1 + lateV1Directories).map { $0 + "/tasks" }
            logger.debug("stage-0 joins \(byProcsWrite.count) cgroups, stage-2 \(bootstrap.cgroupTasks.count) v1 hierarchies")
            do {
                try Sockets.sendAll(initParent, bootstrap.encoded(), operation: "send bootstrap data")
            } catch {
                // Stage 0 gone before reading it (EPIPE): its own error line says why.
                throw failure(log: log.read, fallback: "\(error)")
            }
            try makeLateCgroups?()
            if !bootstrap.cgroupTasks.isEmpty {
                // MSG_NOSIGNAL: stage 0 may be gone already (stage 1 failed to join a
                // namespace), and a write to its closed socket would SIGPIPE the runtime.
                // Then the pid report is missing, and the C stage's error line says why.
                _ = try? Sockets.sendAll(initParent, [BootstrapMessage.cgroupsReady], operation: "send cgroups-ready")
            }
            try beforeFirstMessage?()
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
            if let pidReported {
                guard let startTime = Procfs.startTime(of: pid) else {
                    throw failure(log: log.read, fallback: "init: process \(pid) is gone")
                }
                try pidReported(pid, startTime)
            }
            // Stage 1 brings a new network namespace's lo up after its report (nsexec.c): its
            // exit status says it did, before anything lets the container's process run.
            let stage1Exit = try Processes.wait(stage1)
            if stage1Exit != .exited(0) {
                throw failure(log: log.read, fallback: "nsexec: stage 1 exited with status \(stage1Exit.shellCode)")
            }
            if commitOnRecord, pidReported != nil {
                // A send that fails finds init gone or failed: the receive below says why.
                committedEarly = (try? Self.sendCommitted(sync)) != nil
            }
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
            case .error(let failure)?:
                throw SkiffError(.containerInit, failure.message, cause: failure.cause)
            case let other?:
                throw SkiffError(.containerInit, "init: unexpected \"\(other.name)\" message, expected \"ready\"")
            case nil:
                throw failure(log: log.read, fallback: "init: exited before it was ready")
            }
            forwardLogs(log.read)
            logger.debug("init ready")
            return Spawned(pid: pid, sync: sync, committed: committedEarly)
        } catch {
            if pid > 0 {
                try? Processes.kill(pid, SIGKILL)
                _ = try? Processes.wait(pid)
            }
            if stage1 > 0 { _ = try? Processes.tryWait(stage1) }
            if Processes.isAlive(stage0) {
                try? Processes.kill(stage0, SIGKILL)
                _ = try? Processes.wait(stage0)
            }
            throw error
        }
    }

    /// Reads `{"stage1_pid":N,"pid":M}\n`; nil when the C stage closed the socket first
    /// (ECONNRESET when it did so with our cgroups-ready byte unread: its log says why).
    private func readPidReport(_ fd: OwnedFD) throws -> (Int32, Int32)? {
        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk: [UInt8]
            switch Result(catching: { () throws(LinuxError) in try fd.read(upTo: 256, operation: "read pid report") }) {
            case .success(let bytes): chunk = bytes
            case .failure(let error) where error.code == ECONNRESET: return nil
            case .failure(let error): throw error
            }
            if chunk.isEmpty { return nil }
            line += chunk
            if line.count > 4096 { throw SkiffError(.system, "nsexec: pid report too long") }
        }
        let body = Array(line.prefix { $0 != UInt8(ascii: "\n") })
        // Read by hand (JSONObjectReader), not through a Decodable struct: Codable's decoder
        // cost every create and exec ~45 K instructions and the run-time witness tables of
        // Int32's conformances (a page of the binary's data each).
        func read() throws(SpecError) -> (Int32, Int32) {
            let report = try JSONObjectReader(SkiffJSON.parse(body, document: "pid report"), document: "pid report")
            return (try report.required("stage1_pid", as: Int32.self), try report.required("pid", as: Int32.self))
        }
        guard let (stage1, pid) = try? read(), pid > 0 else {
            throw SkiffError(.system, "nsexec: malformed pid report \(String(decoding: body, as: UTF8.self))")
        }
        return (stage1, pid)
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
