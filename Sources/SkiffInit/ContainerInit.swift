#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// The Swift half of a container's init. The C stage (CNsexec) has already put this process in
/// its namespaces (as PID 1 of a new container, or beside it for exec); this finishes the
/// container in runc's order and execs the process. It runs single-threaded: no Dispatch, no
/// async.
public enum ContainerInit {
    /// Never returns: execs the container process, or reports the error and exits.
    public static func main() -> Never {
        guard let syncFD = InitEnvironment.fd(InitEnvironment.syncPipe) else {
            writeStderr("skiff init: only the runtime starts init (no \(InitEnvironment.syncPipe))\n")
            exit(1)
        }
        let sync = SyncChannel(fd: OwnedFD(syncFD))
        do {
            switch try sync.receive() {
            case .options(let options)?:
                try createContainer(options, sync: sync)
            case .exec(let options)?:
                try execProcess(options, sync: sync)
            default:
                throw SkiffError(.system, "init: expected options from the runtime")
            }
        } catch {
            // Before "ready" the runtime is listening and prints this as the command's error;
            // after it (waiting for start) only the container's stderr is left.
            if sync.fd.raw < 0 || (try? sync.send(.error(InitFailure(error)))) == nil {
                writeStderr("skiff init: \(error)\n")
            }
            if sync.fd.raw >= 0 { sync.discardIncoming() }
            exit(1)
        }
    }

    static func writeStderr(_ text: String) {
        try? BorrowedFD.standardError.writeAll(Array(text.utf8))
    }

    /// A new container: rootfs, /dev, names, sysctls, then the process waits on exec.fifo.
    private static func createContainer(_ options: InitOptions, sync: SyncChannel) throws -> Never {
        // The bytes the runtime validated, from its sealed memfd, not the bundle's file, which
        // may have been rewritten since.
        guard let configFD = InitEnvironment.fd(InitEnvironment.config) else {
            throw SkiffError(.system, "init: no config.json from the runtime (\(InitEnvironment.config))")
        }
        let spec: Spec
        do {
            let config = OwnedFD(configFD)
            defer { config.close() }
            // Without what the runtime has applied or compiled already: the cgroup resources and
            // the seccomp profile, which arrives as its BPF program (a caller's profile, ~400
            // syscall names in podman's, is most of its config.json).
            spec = try SkiffJSON.decode(Spec.self, from: try config.preadAll(operation: "read config.json"),
                                        document: Spec.documentName, omitting: ["linux.resources", "linux.seccomp"])
        } catch {
            throw SkiffError.wrap(error, "init: read config.json")
        }
        // A config without a process is created (the spec: process is required by start
        // only); start then fails, saying why.
        let process = spec.process
        // The state for the createContainer and startContainer hooks. Its pid is the one the
        // host sees (the spec's "as seen by the host"); /proc is still the host's here, before
        // any mount, so /proc/self names it even in a new pid namespace.
        let hostPid = (try? Files.realpath("/proc/self")).flatMap { Int32($0.split(separator: "/").last ?? "") } ?? getpid()
        let bundle = options.bundle ?? ((try? Files.currentDirectory()) ?? "")
        let hookState = { (status: ContainerStatus) in
            State(ociVersion: spec.ociVersion, id: options.containerID, status: status, pid: hostPid, bundle: bundle,
                  annotations: spec.annotations)
        }
        // Nothing to log to once the runtime is gone: these hooks' failures are errors, not warnings.
        let hookLogger = SkiffLogger(fd: 2, minimum: .error)
        let namespaces = spec.linux?.namespaces ?? []
        let inUserNamespace = namespaces.contains { $0.type == .user }
        let setup = ContainerSetup(spec: spec, kernel: LinuxInitKernel())
        let console = try process.flatMap { try Console.fromEnvironment(process: $0) }
        if !options.noNewKeyring {
            try setup.joinSessionKeyring(options.containerID)
        }

        // prestart and createRuntime hooks run in the runtime, while init waits, after the
        // namespaces and mounts exist and before pivot_root (runc's procHooks).
        let hooks = spec.hooks
        let runtimeHooks = !(hooks?.prestart ?? []).isEmpty || !(hooks?.createRuntime ?? []).isEmpty
        // Then the createContainer hooks, here in the container's namespaces (runc's order). Their
        // paths resolve in the host's tree, still visible before pivot_root.
        let runHooks = {
            if runtimeHooks {
                try sync.send(.hooks)
                switch try sync.receive() {
                case .hooksDone?: break
                case let other: throw SkiffError(.system, "init: expected hooksDone, got \(other?.name ?? "nothing")")
                }
            }
            try HookRunner.run(hooks?.createContainer, kind: "createContainer", state: hookState(.creating), logger: hookLogger)
        }
        var procAfterChroot: OwnedFD?
        if namespaces.contains(where: { $0.type == .mount }) {
            // Under rootless podman the runtime itself runs in a user namespace: there, too,
            // mknod is refused and sysfs needs a network namespace of that user namespace.
            let userNamespaced = inUserNamespace || !Procfs.isInitialUserNamespace()
            var rootfs = RootfsBuilder(spec: spec, options: options, inUserNamespace: inUserNamespace,
                                       userNamespaced: userNamespaced)
            rootfs.beforePivot = runHooks
            if let base = InitEnvironment.fd(InitEnvironment.mountFDs) {
                let indices = InitEnvironment.bindMountIndices(spec.mounts ?? [])
                rootfs.sourceFDs = Dictionary(uniqueKeysWithValues: indices.enumerated().map { ($0.element, base + Int32($0.offset)) })
            }
            rootfs.idmapped = InitEnvironment.idmappedMountFDs(InitEnvironment.value(InitEnvironment.idmappedMounts)).mapValues(OwnedFD.init)
            try rootfs.build()
            try console?.setUp(bindToDevConsole: true)
            try setup.setNames()
            try setup.applySysctls()
            try rootfs.finish()
        } else {
            try runHooks()
            try console?.setUp(bindToDevConsole: false)
            try setup.setNames()
            try setup.applySysctls()
            procAfterChroot = try setup.enterRootWithoutMountNamespace(options.rootfs)
        }
        if !setup.hasUTS, spec.hostname?.isEmpty == false {
            throw SkiffError(.invalidArgument, "hostname: setting the hostname needs a uts namespace")
        }
        var launcher = try process.map {
            try ProcessLauncher(process: $0, linux: spec.linux, preserveFds: options.preserveFds, listenFds: options.listenFds)
        }
        try launcher?.prepare()
        try awaitCommit(sync)
        // Blocks until `skiff start` opens the fifo for reading. The startContainer hooks run
        // then, in the container, before the process (the spec's point: after start was
        // invoked); `start` waits for the byte: "0", or "1" and why a hook failed.
        if let fifoFD = InitEnvironment.fd(InitEnvironment.fifo) {
            let fifo = try procAfterChroot.map { try Files.openAt($0, "self/fd/\(fifoFD)", flags: O_WRONLY) }
                ?? Files.open("/proc/self/fd/\(fifoFD)", flags: O_WRONLY)
            procAfterChroot?.close()
            guard let launcher else {
                try? fifo.writeAll("1config.json has no process: nothing to start", operation: "write", path: "exec.fifo")
                exit(1)
            }
            do {
                try HookRunner.run(hooks?.startContainer, kind: "startContainer", state: hookState(.created), logger: hookLogger)
            } catch {
                try? fifo.writeAll("1\(error)", operation: "write", path: "exec.fifo")
                exit(1)
            }
            try fifo.writeAll("0", operation: "write", path: "exec.fifo")
            fifo.close()
            OwnedFD(fifoFD).close()
            launcher.exec()
        }
        guard let launcher else { throw SkiffError(.invalidArgument, "process: missing required field") }
        try HookRunner.run(hooks?.startContainer, kind: "startContainer", state: hookState(.created), logger: hookLogger)
        launcher.exec()
    }

    /// `skiff exec`: the C stage joined the container's namespaces; only the process's own
    /// settings remain.
    private static func execProcess(_ options: ExecInitOptions, sync: SyncChannel) throws -> Never {
        var process = options.process
        if let userSpec = options.userSpec {
            // Inside the container's mount namespace: these are the container's files.
            process.user = try UserLookup.resolve(userSpec, base: process.user)
        }
        let console = try Console.fromEnvironment(process: process)
        try console?.setUp(bindToDevConsole: false)
        var launcher = try ProcessLauncher(process: process, linux: nil, preserveFds: options.preserveFds, listenFds: options.listenFds)
        try launcher.prepare()
        try awaitCommit(sync)
        launcher.exec()
    }

    /// Says "ready", then waits until the runtime has recorded this process (state.json, the
    /// pid file) and says "committed". A runtime killed before that point (the socket closes
    /// without it) has left nothing that names this process, so it exits rather than live on
    /// as an orphan no `state`, `list` or `delete` can find.
    private static func awaitCommit(_ sync: SyncChannel) throws {
        try sync.send(.ready)
        switch try sync.receive() {
        case .committed?:
            sync.fd.close()
        case nil:
            exit(1)
        case let other?:
            throw SkiffError(.system, "init: expected committed, got \(other.name)")
        }
    }
}
