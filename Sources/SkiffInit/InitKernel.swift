#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux

/// The kernel as the container's init uses it to build the rootfs, /dev and the process's
/// identity: every call RootfsBuilder, Devices, CgroupMount, Console, ProcessSetup,
/// ProcessLauncher, ProcessTuning and ContainerSetup make goes through one of these, so that the unit tests can put a recorder in its place
/// (Tests/SkiffInitTests/RecordingKernel.swift) and check mount order, flags and paths without
/// root. `LinuxInitKernel` forwards each to its SkiffLinux wrapper.
///
/// The builders are generic over it rather than holding an `any InitKernel`: init runs in
/// every container, and specialized for LinuxInitKernel (an empty struct) each call compiles
/// to the direct wrapper call it was before, with no witness table or boxing.
///
/// Paths inside the rootfs are `RootedPath` operations here too (openat2 RESOLVE_IN_ROOT), so
/// a fake resolves them the way the kernel would and a test sees where each one lands.
protocol InitKernel {
    // MARK: Mounts

    /// mount(2). `target` is normally the /proc/self/fd/N of an fd resolved inside the rootfs;
    /// `display` is the path the config wrote, for the error.
    func mount(source: String?, target: String, type: String?, flags: UInt, data: String?,
               display: String?) throws(LinuxError)
    /// umount2(2).
    func unmount(_ target: String, flags: Int32) throws(LinuxError)
    /// pivot_root(2).
    func pivotRoot(_ newRoot: String, _ putOld: String) throws(LinuxError)
    /// mount_setattr(AT_RECURSIVE) on the whole tree under the mount `fd` is on.
    func setMountAttributes(_ fd: OwnedFD, set: UInt64, clear: UInt64, display: String) throws(LinuxError)
    /// move_mount of a detached mount (an idmapped one the runtime made) onto `target`.
    func attachMount(_ mount: OwnedFD, onto target: OwnedFD, display: String) throws(LinuxError)
    /// The MS_* flags of the mount `fd` is on (fstatfs), to keep the locked ones on a remount.
    func mountFlags(of fd: OwnedFD) throws(LinuxError) -> UInt

    // MARK: Paths inside the rootfs

    /// An O_PATH fd of `rootfs`, the root the other rooted calls resolve in.
    func openRoot(_ rootfs: String) throws(LinuxError) -> RootedPath
    /// openat2 RESOLVE_IN_ROOT of `path` in `root`; with `noFollow` the last component must
    /// not be a symlink.
    func open(_ path: String, in root: RootedPath, flags: Int32, noFollow: Bool) throws(LinuxError) -> OwnedFD
    /// mkdir -p inside `root`, one component at a time: an O_PATH fd of the directory.
    func mkdirAll(_ path: String, in root: RootedPath) throws(LinuxError) -> OwnedFD
    /// Creates `path` inside `root` as a file when missing (a bind target): an O_PATH fd of it.
    func createFile(_ path: String, in root: RootedPath, mode: mode_t) throws(LinuxError) -> OwnedFD

    // MARK: Files by host path, by directory fd, or by fd

    /// open(2) of a path as this process sees it (the host's before pivot_root).
    func open(_ path: String, flags: Int32) throws(LinuxError) -> OwnedFD
    /// openat(2) of `path` under `dir`.
    func openAt(_ dir: OwnedFD, _ path: String, flags: Int32, display: String) throws(LinuxError) -> OwnedFD
    /// fstat(2).
    func status(of fd: OwnedFD) throws(LinuxError) -> Glibc.stat
    /// fstat(2) of an fd init does not own (stdio).
    func status(ofRaw fd: Int32) throws(LinuxError) -> Glibc.stat
    /// stat(2), following symlinks.
    func status(ofPath path: String) throws(LinuxError) -> Glibc.stat
    /// access(2): 0, or the errno.
    func access(_ path: String, _ mode: Int32) -> Int32
    /// Whether `name` exists in `dir`, not following a symlink there (fstatat).
    func exists(_ name: String, in dir: OwnedFD) -> Bool
    /// mknodat(2).
    func mknodAt(_ dir: OwnedFD, _ name: String, mode: mode_t, device: dev_t, display: String) throws(LinuxError)
    /// unlinkat(2) of a non-directory, best effort.
    func tryUnlinkAt(_ dir: OwnedFD, _ name: String)
    /// fchownat(2), not following a symlink.
    func chownAt(_ dir: OwnedFD, _ name: String, uid: uid_t, gid: gid_t, display: String) throws(LinuxError)
    /// fchown(2) of an fd init does not own (stdio).
    func chown(fd: Int32, uid: uid_t, gid: gid_t, display: String) throws(LinuxError)
    /// symlinkat(2): `name` in `dir` pointing at `target`.
    func symlinkAt(_ target: String, _ dir: OwnedFD, _ name: String, display: String) throws(LinuxError)
    /// mkdirat(2) of one name.
    func mkdirAt(_ dir: OwnedFD, _ name: String, mode: mode_t, display: String) throws(LinuxError)
    /// tmpcopyup: the tree under `source` copied into `target`.
    func copyTree(from source: OwnedFD, to target: OwnedFD, display: String) throws(LinuxError)
    /// The whole of a file, as text.
    func readFile(_ path: String) throws(LinuxError) -> String
    /// A file of a procfs verified to be one (fstatfs), as text.
    func readProcfs(_ path: String) throws(LinuxError) -> String
    /// Whether `id` is mapped in this process's user namespace (`map`: "uid_map", "gid_map").
    func isMapped(_ id: UInt32, in map: String) -> Bool
    /// Whether the host runs SELinux (a mount label then goes into the mount data).
    func selinuxEnabled() -> Bool

    // MARK: Terminals

    /// The peer of the pty master (TIOCGPTPEER), opened by fd.
    func openTerminalPeer(_ master: OwnedFD, display: String) throws(LinuxError) -> OwnedFD
    /// TIOCSWINSZ.
    func setWindowSize(_ fd: OwnedFD, rows: UInt16, columns: UInt16) throws(LinuxError)
    /// TIOCSCTTY: `fd` becomes init's controlling terminal.
    func makeControllingTerminal(_ fd: OwnedFD) throws(LinuxError)
    /// Sends `fd` over the unix socket `socket` (SCM_RIGHTS).
    func sendFD(_ socket: OwnedFD, _ fd: OwnedFD, name: String, operation: String) throws(LinuxError)
    /// dup2 of `fd` onto `target`.
    func duplicate(_ fd: OwnedFD, onto target: Int32, operation: String) throws(LinuxError)
    /// Creates `path` as an empty file when nothing is there (O_CREAT|O_EXCL|O_NOFOLLOW), best
    /// effort: whatever is there is checked by the caller.
    func tryCreateFile(_ path: String, mode: mode_t)

    // MARK: The process itself

    /// umask(2): the previous mask.
    func setUmask(_ mask: mode_t) -> mode_t
    /// chdir(2).
    func changeDirectory(_ path: String) throws(LinuxError)
    /// fchdir(2).
    func changeDirectory(to fd: OwnedFD, display: String) throws(LinuxError)
    /// chroot(2).
    func changeRoot(_ path: String) throws(LinuxError)
    /// getcwd(3).
    func currentDirectory() throws(LinuxError) -> String
    /// setrlimit(2) of `resource` (RLIMIT_*), `name` being how the config spells it.
    func setResourceLimit(_ resource: Int32, name: String, soft: UInt64, hard: UInt64) throws(LinuxError)
    /// setgroups(2).
    func setGroups(_ groups: [gid_t]) throws(LinuxError)
    /// setresgid(gid, gid, gid).
    func setGID(_ gid: gid_t) throws(LinuxError)
    /// setresuid(uid, uid, uid).
    func setUID(_ uid: uid_t) throws(LinuxError)
    /// prctl PR_SET_NO_NEW_PRIVS.
    func setNoNewPrivileges() throws(LinuxError)

    // MARK: The container's namespaces

    /// keyctl(KEYCTL_JOIN_SESSION_KEYRING): a new session keyring named `name`, its serial.
    func joinSessionKeyring(named name: String) throws(LinuxError) -> Int
    /// keyctl(KEYCTL_SETPERM), best effort.
    func trySetKeyringPermissions(_ key: Int, _ permissions: UInt32)
    /// sethostname(2).
    func setHostname(_ name: String) throws(LinuxError)
    /// setdomainname(2).
    func setDomainname(_ name: String) throws(LinuxError)
    /// Writes `value` to a file under /proc (a sysctl) through a verified procfs.
    func writeProcfs(_ path: String, _ value: String) throws(LinuxError)

    // MARK: Attributes the process keeps across execve

    /// personality(2).
    func setPersonality(_ persona: UInt) throws(LinuxError)
    /// sched_setattr(2).
    func setScheduler(_ scheduler: ProcessTuning.Scheduler) throws(LinuxError)
    /// ioprio_set(2) of this process.
    func setIOPriority(ioClass: Int32, level: Int32) throws(LinuxError)
    /// set_mempolicy(2).
    func setMemoryPolicy(mode: Int32, nodes: [Int]) throws(LinuxError)
    /// sched_setaffinity(2) of this thread.
    func setAffinity(_ cpus: [Int]) throws(LinuxError)
}

extension InitKernel {
    func mount(source: String?, target: String, type: String?, flags: UInt, display: String?) throws(LinuxError) {
        try mount(source: source, target: target, type: type, flags: flags, data: nil, display: display)
    }

    func open(_ path: String, in root: RootedPath, flags: Int32) throws(LinuxError) -> OwnedFD {
        try open(path, in: root, flags: flags, noFollow: false)
    }
}

/// The real kernel: each call is its SkiffLinux wrapper.
struct LinuxInitKernel: InitKernel {
    func mount(source: String?, target: String, type: String?, flags: UInt, data: String?,
               display: String?) throws(LinuxError) {
        try Mounts.mount(source: source, target: target, type: type, flags: flags, data: data, display: display)
    }

    func unmount(_ target: String, flags: Int32) throws(LinuxError) { try Mounts.unmount(target, flags: flags) }

    func pivotRoot(_ newRoot: String, _ putOld: String) throws(LinuxError) { try Mounts.pivotRoot(newRoot, putOld) }

    func setMountAttributes(_ fd: OwnedFD, set: UInt64, clear: UInt64, display: String) throws(LinuxError) {
        try Mounts.setAttributesRecursive(fd, set: set, clear: clear, display: display)
    }

    func attachMount(_ mount: OwnedFD, onto target: OwnedFD, display: String) throws(LinuxError) {
        try IDMappedMounts.attach(mount, onto: target, display: display)
    }

    func mountFlags(of fd: OwnedFD) throws(LinuxError) -> UInt { try SkiffLinux.mountFlags(of: fd) }

    func openRoot(_ rootfs: String) throws(LinuxError) -> RootedPath { try RootedPath.open(rootfs) }

    func open(_ path: String, in root: RootedPath, flags: Int32, noFollow: Bool) throws(LinuxError) -> OwnedFD {
        try root.open(path, flags: flags, noFollow: noFollow)
    }

    func mkdirAll(_ path: String, in root: RootedPath) throws(LinuxError) -> OwnedFD { try root.mkdirAll(path) }

    func createFile(_ path: String, in root: RootedPath, mode: mode_t) throws(LinuxError) -> OwnedFD {
        try root.createFile(path, mode: mode)
    }

    func open(_ path: String, flags: Int32) throws(LinuxError) -> OwnedFD { try Files.open(path, flags: flags) }

    func openAt(_ dir: OwnedFD, _ path: String, flags: Int32, display: String) throws(LinuxError) -> OwnedFD {
        try Files.openAt(dir, path, flags: flags, display: display)
    }

    func status(of fd: OwnedFD) throws(LinuxError) -> Glibc.stat { try fd.stat() }

    func status(ofRaw fd: Int32) throws(LinuxError) -> Glibc.stat { try Files.status(ofDescriptor: fd) }

    func status(ofPath path: String) throws(LinuxError) -> Glibc.stat { try Files.status(path) }

    func access(_ path: String, _ mode: Int32) -> Int32 {
        switch Result(catching: { () throws(LinuxError) in try Files.checkAccess(path, mode) }) {
        case .success: return 0
        case .failure(let error): return error.code
        }
    }

    func exists(_ name: String, in dir: OwnedFD) -> Bool { Files.exists(name, in: dir) }

    func mknodAt(_ dir: OwnedFD, _ name: String, mode: mode_t, device: dev_t, display: String) throws(LinuxError) {
        try Files.mknodAt(dir, name, mode: mode, device: device, display: display)
    }

    func tryUnlinkAt(_ dir: OwnedFD, _ name: String) { Files.tryUnlinkAt(dir, name) }

    func chownAt(_ dir: OwnedFD, _ name: String, uid: uid_t, gid: gid_t, display: String) throws(LinuxError) {
        try Files.chownAt(dir, name, uid: uid, gid: gid, display: display)
    }

    func chown(fd: Int32, uid: uid_t, gid: gid_t, display: String) throws(LinuxError) {
        try Files.chown(fd: fd, uid: uid, gid: gid, display: display)
    }

    func symlinkAt(_ target: String, _ dir: OwnedFD, _ name: String, display: String) throws(LinuxError) {
        try Files.symlinkAt(target, dir, name, display: display)
    }

    func mkdirAt(_ dir: OwnedFD, _ name: String, mode: mode_t, display: String) throws(LinuxError) {
        try Files.mkdirAt(dir, name, mode: mode, display: display)
    }

    func copyTree(from source: OwnedFD, to target: OwnedFD, display: String) throws(LinuxError) {
        try Files.copyTree(from: source, to: target, display: display)
    }

    func readFile(_ path: String) throws(LinuxError) -> String { try Files.readString(path) }

    func readProcfs(_ path: String) throws(LinuxError) -> String { try Procfs.read(path) }

    func isMapped(_ id: UInt32, in map: String) -> Bool { Procfs.isMapped(id, in: map) }

    func selinuxEnabled() -> Bool { HostLSMs.detect().selinux }

    func openTerminalPeer(_ master: OwnedFD, display: String) throws(LinuxError) -> OwnedFD {
        try Terminals.openPeer(master, display: display)
    }

    func setWindowSize(_ fd: OwnedFD, rows: UInt16, columns: UInt16) throws(LinuxError) {
        try Terminals.setWindowSize(fd.raw, rows: rows, columns: columns)
    }

    func makeControllingTerminal(_ fd: OwnedFD) throws(LinuxError) { try Terminals.makeControlling(fd) }

    func sendFD(_ socket: OwnedFD, _ fd: OwnedFD, name: String, operation: String) throws(LinuxError) {
        try Sockets.sendFD(socket, fd, name: name, operation: operation)
    }

    func duplicate(_ fd: OwnedFD, onto target: Int32, operation: String) throws(LinuxError) {
        try fd.duplicate(onto: target, operation: operation)
    }

    func tryCreateFile(_ path: String, mode: mode_t) {
        // Closed as soon as it is made: only the file's existence matters.
        _ = try? Files.open(path, flags: O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, mode: mode)
    }

    func setUmask(_ mask: mode_t) -> mode_t { ProcessControl.setUmask(mask) }

    func changeDirectory(_ path: String) throws(LinuxError) { try ProcessControl.changeDirectory(path) }

    func changeDirectory(to fd: OwnedFD, display: String) throws(LinuxError) {
        try ProcessControl.changeDirectory(to: fd, display: display)
    }

    func changeRoot(_ path: String) throws(LinuxError) { try ProcessControl.changeRoot(path) }

    func currentDirectory() throws(LinuxError) -> String { try Files.currentDirectory() }

    func setResourceLimit(_ resource: Int32, name: String, soft: UInt64, hard: UInt64) throws(LinuxError) {
        try Identity.setResourceLimit(resource, name: name, soft: soft, hard: hard)
    }

    func setGroups(_ groups: [gid_t]) throws(LinuxError) { try Identity.setGroups(groups) }

    func setGID(_ gid: gid_t) throws(LinuxError) { try Identity.setGID(gid) }

    func setUID(_ uid: uid_t) throws(LinuxError) { try Identity.setUID(uid) }

    func setNoNewPrivileges() throws(LinuxError) { try ProcessControl.setNoNewPrivileges() }

    func joinSessionKeyring(named name: String) throws(LinuxError) -> Int { try Keyring.joinSession(named: name) }

    func trySetKeyringPermissions(_ key: Int, _ permissions: UInt32) { Keyring.trySetPermissions(key, permissions) }

    func setHostname(_ name: String) throws(LinuxError) { try Identity.setHostname(name) }

    func setDomainname(_ name: String) throws(LinuxError) { try Identity.setDomainname(name) }

    func writeProcfs(_ path: String, _ value: String) throws(LinuxError) { try Procfs.write(path, value) }

    func setPersonality(_ persona: UInt) throws(LinuxError) { try ProcessAttributes.setPersonality(persona) }

    func setScheduler(_ s: ProcessTuning.Scheduler) throws(LinuxError) {
        try ProcessAttributes.setScheduler(policy: s.policy, flags: s.flags, nice: s.nice, priority: s.priority,
                                           runtime: s.runtime, deadline: s.deadline, period: s.period)
    }

    func setIOPriority(ioClass: Int32, level: Int32) throws(LinuxError) {
        try ProcessAttributes.setIOPriority(ioClass: ioClass, level: level)
    }

    func setMemoryPolicy(mode: Int32, nodes: [Int]) throws(LinuxError) {
        try ProcessAttributes.setMemoryPolicy(mode: mode, nodes: nodes)
    }

    func setAffinity(_ cpus: [Int]) throws(LinuxError) { try ProcessAttributes.setAffinity(cpus) }
}
