#if canImport(Glibc)
import Glibc
#endif
import CShims

public enum Processes {
    /// An fd mapping for a spawned child: `source` (in this process) becomes `target` in the
    /// child, without close-on-exec.
    public struct FDMapping: Sendable {
        public let source: Int32
        public let target: Int32
        public init(source: Int32, target: Int32) {
            self.source = source
            self.target = target
        }
    }

    /// A spawned child: its pid, and whether it was born inside the cgroup asked for.
    public struct Spawned: Sendable, Equatable {
        public let pid: pid_t
        public let inCgroup: Bool
    }

    /// Starts `path` with explicit fd placement: every fd not in `fds` and at or above
    /// `closeFrom` is closed in the child, so nothing of the runtime leaks into it; signals
    /// are at their defaults and unblocked. With `intoCgroup` (a cgroup2 directory), the child
    /// is born inside it (clone3 CLONE_INTO_CGROUP, Linux 5.7), so no cgroup.procs write has to
    /// move it there; when the kernel cannot clone into that cgroup (an older kernel, a cgroup
    /// that takes no processes) it is spawned as without one and `inCgroup` is false: the
    /// caller joins it as before.
    public static func spawn(
        path: String, arguments: [String], environment: [String], fds: [FDMapping],
        closeFrom: Int32, workingDirectory: String? = nil, intoCgroup cgroup: OwnedFD? = nil
    ) throws(LinuxError) -> Spawned {
        if let cgroup, let pid = try cloneIntoCgroup(path: path, arguments: arguments, environment: environment, fds: fds,
                                                     closeFrom: closeFrom, workingDirectory: workingDirectory, cgroup: cgroup) {
            return Spawned(pid: pid, inCgroup: true)
        }
        let pid = try posixSpawn(path: path, arguments: arguments, environment: environment, fds: fds,
                                 closeFrom: closeFrom, workingDirectory: workingDirectory)
        return Spawned(pid: pid, inCgroup: false)
    }

    private static func posixSpawn(
        path: String, arguments: [String], environment: [String], fds: [FDMapping],
        closeFrom: Int32, workingDirectory: String?
    ) throws(LinuxError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Park every source above all targets first so a dup2 never overwrites a source that
        // a later mapping still needs.
        let parkBase = max(closeFrom, (fds.map(\.target).max() ?? 0) + 1, 64)
        var parked: [OwnedFD] = []
        for mapping in fds where mapping.source != mapping.target {
            let high = OwnedFD(try sysCall("fcntl F_DUPFD_CLOEXEC") {
                fcntl(mapping.source, F_DUPFD_CLOEXEC, parkBase)
            })
            parked.append(high)
            posix_spawn_file_actions_adddup2(&actions, high.raw, mapping.target)
        }
        for mapping in fds where mapping.source == mapping.target {
            // dup2 onto itself clears FD_CLOEXEC in glibc's posix_spawn.
            posix_spawn_file_actions_adddup2(&actions, mapping.source, mapping.target)
        }
        posix_spawn_file_actions_addclosefrom_np(&actions, closeFrom)
        if let workingDirectory {
            posix_spawn_file_actions_addchdir_np(&actions, workingDirectory)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default signal dispositions and an empty mask, whatever the
        // runtime had, as a container process expects.
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        withExtendedLifetime(parked) {}
        if result != 0 { throw LinuxError("posix_spawn", path: path, errno: result) }
        return pid
    }

    /// clone3 CLONE_INTO_CGROUP, then the same fd placement as posix_spawn's actions (in C,
    /// between clone and exec). nil, having started nothing, when the kernel refuses the
    /// clone.
    private static func cloneIntoCgroup(
        path: String, arguments: [String], environment: [String], fds: [FDMapping],
        closeFrom: Int32, workingDirectory: String?, cgroup: OwnedFD
    ) throws(LinuxError) -> pid_t? {
        // As in posix_spawn's actions: park every moved source above all targets first.
        let parkBase = max(closeFrom, (fds.map(\.target).max() ?? 0) + 1, 64)
        var parked: [OwnedFD] = []
        var sources: [Int32] = []
        for mapping in fds {
            if mapping.source == mapping.target {
                sources.append(mapping.source)
                continue
            }
            let high = OwnedFD(try sysCall("fcntl F_DUPFD_CLOEXEC") { fcntl(mapping.source, F_DUPFD_CLOEXEC, parkBase) })
            parked.append(high)
            sources.append(high.raw)
        }
        let targets = fds.map(\.target)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var execErrno: Int32 = 0
        let pid = skiff_spawn_into_cgroup(path, argv, envp, sources, targets, Int32(fds.count), closeFrom,
                                          workingDirectory, cgroup.raw, &execErrno)
        withExtendedLifetime(parked) {}
        if pid >= 0 { return pid }
        if execErrno != 0 { throw LinuxError("execve", path: path, errno: execErrno) }
        return nil
    }

    /// The outcome of a process, as a shell reports it: the exit code, or 128+signal.
    public enum Exit: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)

        public init(status: Int32) {
            if skiff_wifsignaled(status) != 0 {
                self = .signaled(skiff_wtermsig(status))
            } else {
                self = .exited(skiff_wexitstatus(status))
            }
        }

        public var shellCode: Int32 {
            switch self {
            case .exited(let code): return code
            case .signaled(let signal): return 128 + signal
            }
        }
    }

    /// waitpid for a child of this process.
    public static func wait(_ pid: pid_t) throws(LinuxError) -> Exit {
        var status: Int32 = 0
        _ = try sysCall("waitpid \(pid)") { waitpid(pid, &status, 0) }
        return Exit(status: status)
    }

    /// Reaps `pid` if it has exited; nil while it runs.
    public static func tryWait(_ pid: pid_t) throws(LinuxError) -> Exit? {
        var status: Int32 = 0
        let result = try sysCall("waitpid \(pid)") { waitpid(pid, &status, WNOHANG) }
        return result == 0 ? nil : Exit(status: status)
    }

    /// A pidfd: signals and waits that cannot hit a recycled pid.
    public static func pidfd(_ pid: pid_t) throws(LinuxError) -> OwnedFD {
        OwnedFD(try sysCall("pidfd_open \(pid)") { skiff_pidfd_open(pid, 0) })
    }

    public static func signal(_ pidfd: OwnedFD, _ signal: Int32) throws(LinuxError) {
        _ = try sysCall("pidfd_send_signal") { skiff_pidfd_send_signal(pidfd.raw, signal) }
    }

    /// Waits until the process behind `pidfd` has exited (it need not be our child), up to
    /// `timeoutMilliseconds` (-1: forever). Returns whether it exited.
    public static func waitExit(_ pidfd: OwnedFD, timeoutMilliseconds: Int32) throws(LinuxError) -> Bool {
        var entry = pollfd(fd: pidfd.raw, events: Int16(POLLIN), revents: 0)
        let ready = try sysCall("poll pidfd") { poll(&entry, 1, timeoutMilliseconds) }
        return ready > 0
    }

    /// kill(2) by pid, for a process of ours that has no pidfd (a child not yet reaped
    /// cannot be recycled, so its pid is safe).
    public static func kill(_ pid: pid_t, _ signal: Int32) throws(LinuxError) {
        _ = try sysCall("kill \(pid)") { Glibc.kill(pid, signal) }
    }

    public static func isAlive(_ pid: pid_t) -> Bool {
        Glibc.kill(pid, 0) == 0 || currentErrno() == EPERM
    }
}
