import Glibc
import SkiffLinux

@testable import SkiffInit
@testable import SkiffInitProtocol

/// The kernel as init's unit tests see it: every call RootfsBuilder, Devices, CgroupMount,
/// Console, ProcessSetup, ProcessLauncher, ProcessTuning and ContainerSetup make is recorded (operation, path, source, type, flags,
/// data) instead of reaching the kernel, so their order, flags and paths can be checked
/// without root and without touching the host.
///
/// The model is small but keeps what the code under test relies on:
/// - paths: rooted opens resolve as openat2 RESOLVE_IN_ROOT does (`..` stops at the root,
///   symlinks of the image are followed and stay inside it); a path is recorded as the process
///   would name it (the host's path under the rootfs before pivot_root, the container's after);
/// - fds: each is a real fd (of /dev/null, so OwnedFD may close it) mapped to the path it
///   stands for; `/proc/self/fd/N` in a mount's source or target is recorded as that path;
/// - files: anything not listed in `image` or `host` is a directory, anything in `missing`
///   is absent (ENOENT); mknod, symlink and mkdir of a listed path fail with EEXIST;
/// - failures: `fail(_:at:errno:)` makes the next matching call throw a LinuxError named as
///   the real wrapper names it (the path the config gave, where the wrapper shows that).
final class RecordingKernel: InitKernel {
    struct Call: Equatable, CustomStringConvertible {
        var operation: String
        var path: String
        var source: String? = nil
        var type: String? = nil
        var flags: UInt = 0
        var data: String? = nil

        var description: String {
            var text = path.isEmpty ? operation : operation + " " + path
            if let source { text += " source=\(source)" }
            if let type { text += " type=\(type)" }
            if flags != 0 { text += " flags=0x" + String(flags, radix: 16) }
            if let data { text += " data=\(data)" }
            return text
        }
    }

    struct Node {
        var mode: mode_t
        var rdev: dev_t = 0
        var inode: UInt64 = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        var link: String? = nil

        static let directory = Node(mode: S_IFDIR | 0o755)
        static let file = Node(mode: S_IFREG | 0o644)
        static let executable = Node(mode: S_IFREG | 0o755)
        static func symlink(_ target: String) -> Node { Node(mode: S_IFLNK | 0o777, link: target) }
        static func characterDevice(_ major: UInt32, _ minor: UInt32, uid: uid_t = 0, gid: gid_t = 0) -> Node {
            Node(mode: S_IFCHR | 0o620, rdev: Files.deviceNumber(major: major, minor: minor), uid: uid, gid: gid)
        }
    }

    /// The rootfs on the host ("/" for a process already inside its container).
    let rootfs: String
    private(set) var calls: [Call] = []
    /// What the image holds, by its path in the container ("/proc/kcore").
    var image: [String: Node] = [:]
    /// What the host holds outside the rootfs, by path.
    var host: [String: Node] = [:]
    /// Paths (as recorded) that do not exist.
    var missing: Set<String> = []
    /// Files readFile returns, by path.
    var files: [String: String] = [:]
    /// /proc/self/mountinfo.
    var mountinfo = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    /// The MS_* flags fstatfs reports of the mount a path is on (locked flags).
    var mountFlagsByPath: [String: UInt] = [:]
    /// Ids mapped in this user namespace, by map file ("gid_map").
    var mapped: [String: Set<UInt32>] = [:]
    var selinux = false
    /// What fstat of fd 0 finds.
    var standardInput = Node.characterDevice(1, 3)
    private(set) var pivoted: Bool
    private(set) var cwd = "/"
    private(set) var mask: mode_t = 0o022
    private var failures: [String: Int32] = [:]
    private var fdPaths: [Int32: String] = [:]

    /// `pivoted`: the process is already in the container's root (ProcessSetup's world).
    init(rootfs: String, pivoted: Bool = false) {
        self.rootfs = rootfs
        self.pivoted = pivoted
    }

    // MARK: What the tests read

    /// The next call of `operation` on `path` (as recorded; "" for calls without one) fails
    /// with `errno`.
    func fail(_ operation: String, at path: String = "", errno: Int32) {
        failures[operation + " " + path] = errno
    }

    /// Adds a step taken outside the kernel (a security step) to the record, for order checks.
    func note(_ operation: String) {
        calls.append(Call(operation: operation, path: ""))
    }

    var mounts: [Call] { calls.filter { $0.operation == "mount" } }

    func calls(_ operations: Set<String>) -> [Call] { calls.filter { operations.contains($0.operation) } }

    /// The position of the first call of `operation` on `path`, for order checks.
    func index(_ operation: String, _ path: String) -> Int? {
        calls.firstIndex { $0.operation == operation && $0.path == path }
    }

    // MARK: The model

    private func record(_ call: Call, operation: String? = nil, errorPath: String?? = nil) throws(LinuxError) {
        calls.append(call)
        if let errno = failures.removeValue(forKey: call.operation + " " + call.path) {
            let path: String? = errorPath ?? (call.path.isEmpty ? nil : call.path)
            throw LinuxError(operation ?? call.operation, path: path, errno: errno)
        }
    }

    private func makeFD(_ path: String) -> OwnedFD {
        let raw = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        precondition(raw >= 0, "open /dev/null")
        fdPaths[raw] = path
        return OwnedFD(raw)
    }

    func path(of fd: OwnedFD) -> String { fdPaths[fd.raw] ?? "fd \(fd.raw)" }

    /// A mount's source or target as a path: /proc/self/fd/N is the path fd N stands for.
    private func describe(_ target: String) -> String {
        if target.hasPrefix("/proc/self/fd/"), let raw = Int32(target.dropFirst(14)), let path = fdPaths[raw] {
            return path
        }
        return target
    }

    private func join(_ base: String, _ components: [String]) -> String {
        let tail = components.joined(separator: "/")
        if tail.isEmpty { return base }
        return base == "/" ? "/" + tail : base + "/" + tail
    }

    /// An absolute path from one relative to the working directory, `.` and `..` folded.
    private func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : join(cwd, [path])
        var stack: [String] = []
        for component in absolute.split(separator: "/") {
            if component == "." { continue }
            if component == ".." { _ = stack.popLast() } else { stack.append(String(component)) }
        }
        return join("/", stack)
    }

    /// The path in the image that a path as recorded names, nil for the host's own.
    private func imagePath(_ path: String) -> String? {
        if pivoted || rootfs == "/" { return path }
        if path == rootfs { return "/" }
        return path.hasPrefix(rootfs + "/") ? String(path.dropFirst(rootfs.count)) : nil
    }

    private func explicitNode(_ path: String) -> Node? {
        if let inside = imagePath(path) { return image[inside] }
        return host[path]
    }

    func node(_ path: String) -> Node { explicitNode(path) ?? .directory }

    private func setNode(_ path: String, _ node: Node?) {
        if let inside = imagePath(path) { image[inside] = node } else { host[path] = node }
    }

    /// openat2 RESOLVE_IN_ROOT: `..` never climbs above `root`, and a symlink's absolute target
    /// starts again from `root`.
    private func resolve(_ path: String, in root: String, followLast: Bool = true) -> String {
        var stack: [String] = []
        var pending = path.split(separator: "/").map(String.init)
        var hops = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." { continue }
            if component == ".." {
                _ = stack.popLast()
                continue
            }
            stack.append(component)
            guard let link = node(join(root, stack)).link, followLast || !pending.isEmpty, hops < 40 else { continue }
            hops += 1
            stack.removeLast()
            if link.hasPrefix("/") { stack = [] }
            pending = link.split(separator: "/").map(String.init) + pending
        }
        return join(root, stack)
    }

    private func status(_ node: Node, path: String) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_mode = node.mode
        st.st_rdev = node.rdev
        st.st_uid = node.uid
        st.st_gid = node.gid
        // A stable inode per path unless the test gave one.
        st.st_ino = node.inode != 0 ? UInt(node.inode) : UInt(UInt32(truncatingIfNeeded: path.hashValue) | 1)
        return st
    }

    private func absent(_ path: String) -> Bool { missing.contains(path) }

    private func displayed(_ path: String) -> String { path.hasPrefix("/") ? path : "/" + path }

    // MARK: Mounts

    func mount(source: String?, target: String, type: String?, flags: UInt, data: String?,
               display: String?) throws(LinuxError) {
        let targetPath = describe(target)
        let sourcePath = source.map(describe)
        try record(Call(operation: "mount", path: targetPath, source: sourcePath, type: type, flags: flags, data: data),
                   errorPath: display ?? target)
        // A bind of a file or device node: the target now shows what the source is.
        if flags & UInt(MS_BIND) != 0, flags & UInt(MS_REMOUNT) == 0, let sourcePath,
           let sourceNode = explicitNode(sourcePath), sourceNode.mode & S_IFMT != S_IFDIR {
            setNode(targetPath, sourceNode)
        }
    }

    func unmount(_ target: String, flags: Int32) throws(LinuxError) {
        try record(Call(operation: "umount2", path: describe(target), flags: UInt(flags)))
    }

    func pivotRoot(_ newRoot: String, _ putOld: String) throws(LinuxError) {
        try record(Call(operation: "pivot_root", path: newRoot, data: putOld))
        pivoted = true
        cwd = "/"
    }

    func setMountAttributes(_ fd: OwnedFD, set: UInt64, clear: UInt64, display: String) throws(LinuxError) {
        try record(Call(operation: "mount_setattr", path: self.path(of: fd), flags: UInt(set), data: "clear=0x" + String(clear, radix: 16)),
                   errorPath: display)
    }

    func attachMount(_ mount: OwnedFD, onto target: OwnedFD, display: String) throws(LinuxError) {
        try record(Call(operation: "move_mount", path: self.path(of: target), source: self.path(of: mount)), errorPath: display)
    }

    func mountFlags(of fd: OwnedFD) throws(LinuxError) -> UInt {
        let path = self.path(of: fd)
        try record(Call(operation: "fstatfs", path: path))
        return mountFlagsByPath[path] ?? 0
    }

    // MARK: Paths inside the rootfs

    func openRoot(_ rootfs: String) throws(LinuxError) -> RootedPath {
        let path = normalize(rootfs)
        try record(Call(operation: "open", path: path))
        if absent(path) { throw LinuxError("open", path: rootfs, errno: ENOENT) }
        return RootedPath(root: makeFD(path), display: rootfs)
    }

    func open(_ path: String, in root: RootedPath, flags: Int32, noFollow: Bool) throws(LinuxError) -> OwnedFD {
        let resolved = resolve(path, in: self.path(of: root.root), followLast: !noFollow)
        try record(Call(operation: "openat2", path: resolved, flags: UInt(UInt32(bitPattern: flags))),
                   errorPath: displayed(path))
        if absent(resolved) { throw LinuxError("openat2", path: displayed(path), errno: ENOENT) }
        return makeFD(resolved)
    }

    func mkdirAll(_ path: String, in root: RootedPath) throws(LinuxError) -> OwnedFD {
        let resolved = resolve(path, in: self.path(of: root.root))
        try record(Call(operation: "mkdirat", path: resolved), errorPath: displayed(path))
        if let existing = explicitNode(resolved), existing.mode & S_IFMT != S_IFDIR {
            throw LinuxError("openat2", path: displayed(path), errno: ENOTDIR)
        }
        missing.remove(resolved)
        setNode(resolved, .directory)
        return makeFD(resolved)
    }

    func createFile(_ path: String, in root: RootedPath, mode: mode_t) throws(LinuxError) -> OwnedFD {
        let resolved = resolve(path, in: self.path(of: root.root))
        try record(Call(operation: "create", path: resolved, flags: UInt(mode)), errorPath: displayed(path))
        missing.remove(resolved)
        if explicitNode(resolved) == nil { setNode(resolved, Node(mode: S_IFREG | mode)) }
        return makeFD(resolved)
    }

    // MARK: Files

    func open(_ path: String, flags: Int32) throws(LinuxError) -> OwnedFD {
        let resolved = normalize(path)
        try record(Call(operation: "open", path: resolved, flags: UInt(UInt32(bitPattern: flags))), errorPath: path)
        if absent(resolved) { throw LinuxError("open", path: path, errno: ENOENT) }
        return makeFD(resolved)
    }

    func openAt(_ dir: OwnedFD, _ path: String, flags: Int32, display: String) throws(LinuxError) -> OwnedFD {
        let resolved = path == "." ? self.path(of: dir) : join(self.path(of: dir), [path])
        try record(Call(operation: "openat", path: resolved, flags: UInt(UInt32(bitPattern: flags))), errorPath: display)
        return makeFD(resolved)
    }

    func status(of fd: OwnedFD) throws(LinuxError) -> Glibc.stat {
        let path = self.path(of: fd)
        try record(Call(operation: "fstat", path: path))
        return status(node(path), path: path)
    }

    func status(ofRaw fd: Int32) throws(LinuxError) -> Glibc.stat {
        try record(Call(operation: "fstat", path: "fd \(fd)"))
        return status(standardInput, path: "fd \(fd)")
    }

    func status(ofPath path: String) throws(LinuxError) -> Glibc.stat {
        let resolved = pivoted || rootfs == "/" ? resolve(normalize(path), in: "/") : normalize(path)
        try record(Call(operation: "stat", path: resolved))
        if absent(resolved) { throw LinuxError("stat", path: path, errno: ENOENT) }
        return status(node(resolved), path: resolved)
    }

    func access(_ path: String, _ mode: Int32) -> Int32 {
        let resolved = normalize(path)
        calls.append(Call(operation: "access", path: resolved, flags: UInt(mode)))
        if let errno = failures.removeValue(forKey: "access " + resolved) { return errno }
        return absent(resolved) ? ENOENT : 0
    }

    func exists(_ name: String, in dir: OwnedFD) -> Bool {
        let path = join(self.path(of: dir), [name])
        calls.append(Call(operation: "fstatat", path: path))
        return !absent(path)
    }

    func mknodAt(_ dir: OwnedFD, _ name: String, mode: mode_t, device: dev_t, display: String) throws(LinuxError) {
        let path = join(self.path(of: dir), [name])
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        try record(Call(operation: "mknod", path: path, flags: UInt(mode), data: "\(major):\(minor)"), errorPath: display)
        if explicitNode(path) != nil { throw LinuxError("mknod", path: display, errno: EEXIST) }
        setNode(path, Node(mode: mode, rdev: device))
    }

    func tryUnlinkAt(_ dir: OwnedFD, _ name: String) {
        let path = join(self.path(of: dir), [name])
        calls.append(Call(operation: "unlink", path: path))
        setNode(path, nil)
    }

    func chownAt(_ dir: OwnedFD, _ name: String, uid: uid_t, gid: gid_t, display: String) throws(LinuxError) {
        try record(Call(operation: "fchownat", path: join(self.path(of: dir), [name]), data: "\(uid):\(gid)"), errorPath: display)
    }

    func chown(fd: Int32, uid: uid_t, gid: gid_t, display: String) throws(LinuxError) {
        try record(Call(operation: "fchown", path: "fd \(fd)", data: "\(uid):\(gid)"), errorPath: display)
    }

    func symlinkAt(_ target: String, _ dir: OwnedFD, _ name: String, display: String) throws(LinuxError) {
        let path = join(self.path(of: dir), [name])
        try record(Call(operation: "symlink", path: path, data: target), errorPath: display)
        if explicitNode(path) != nil { throw LinuxError("symlink", path: display, errno: EEXIST) }
        setNode(path, .symlink(target))
    }

    func mkdirAt(_ dir: OwnedFD, _ name: String, mode: mode_t, display: String) throws(LinuxError) {
        let path = join(self.path(of: dir), [name])
        try record(Call(operation: "mkdir", path: path, flags: UInt(mode)), errorPath: display)
        if explicitNode(path) != nil { throw LinuxError("mkdir", path: display, errno: EEXIST) }
        setNode(path, .directory)
    }

    func copyTree(from source: OwnedFD, to target: OwnedFD, display: String) throws(LinuxError) {
        try record(Call(operation: "copyTree", path: self.path(of: target), source: self.path(of: source)), errorPath: display)
    }

    func readFile(_ path: String) throws(LinuxError) -> String {
        try record(Call(operation: "read", path: path))
        guard let text = files[path] else { throw LinuxError("open", path: path, errno: ENOENT) }
        return text
    }

    func readProcfs(_ path: String) throws(LinuxError) -> String {
        if path == "/proc/self/mountinfo" {
            try record(Call(operation: "read", path: path))
            return mountinfo
        }
        return try readFile(path)
    }

    func isMapped(_ id: UInt32, in map: String) -> Bool { mapped[map]?.contains(id) ?? false }

    func selinuxEnabled() -> Bool { selinux }

    // MARK: Terminals

    func openTerminalPeer(_ master: OwnedFD, display: String) throws(LinuxError) -> OwnedFD {
        try record(Call(operation: "ioctl TIOCGPTPEER", path: self.path(of: master)), errorPath: display)
        return makeFD("/dev/pts/0")
    }

    func setWindowSize(_ fd: OwnedFD, rows: UInt16, columns: UInt16) throws(LinuxError) {
        try record(Call(operation: "ioctl TIOCSWINSZ", path: self.path(of: fd), data: "\(rows)x\(columns)"), errorPath: .some(nil))
    }

    func makeControllingTerminal(_ fd: OwnedFD) throws(LinuxError) {
        try record(Call(operation: "ioctl TIOCSCTTY", path: self.path(of: fd)), errorPath: .some(nil))
    }

    func sendFD(_ socket: OwnedFD, _ fd: OwnedFD, name: String, operation: String) throws(LinuxError) {
        try record(Call(operation: "sendmsg", path: self.path(of: socket), source: self.path(of: fd), data: name),
                   operation: operation, errorPath: .some(nil))
    }

    func duplicate(_ fd: OwnedFD, onto target: Int32, operation: String) throws(LinuxError) {
        try record(Call(operation: "dup2", path: "fd \(target)", source: self.path(of: fd)), operation: operation,
                   errorPath: .some(nil))
    }

    func tryCreateFile(_ path: String, mode: mode_t) {
        let resolved = normalize(path)
        calls.append(Call(operation: "create", path: resolved, flags: UInt(mode)))
        // O_EXCL|O_NOFOLLOW: whatever is there (a symlink too) stays as it is.
        if explicitNode(resolved) == nil { setNode(resolved, Node(mode: S_IFREG | mode)) }
    }

    /// An fd standing for `name` (a socket the runtime would have passed).
    func handle(_ name: String) -> OwnedFD { makeFD(name) }

    // MARK: The process

    func setUmask(_ mask: mode_t) -> mode_t {
        calls.append(Call(operation: "umask", path: "", flags: UInt(mask)))
        defer { self.mask = mask }
        return self.mask
    }

    func changeDirectory(_ path: String) throws(LinuxError) {
        let resolved = normalize(path)
        try record(Call(operation: "chdir", path: resolved), errorPath: path)
        cwd = resolved
    }

    func changeDirectory(to fd: OwnedFD, display: String) throws(LinuxError) {
        let path = self.path(of: fd)
        try record(Call(operation: "fchdir", path: path), errorPath: display)
        cwd = path
    }

    func changeRoot(_ path: String) throws(LinuxError) {
        try record(Call(operation: "chroot", path: normalize(path)), errorPath: path)
        pivoted = true
        cwd = "/"
    }

    func currentDirectory() throws(LinuxError) -> String {
        try record(Call(operation: "getcwd", path: cwd))
        return cwd
    }

    func setResourceLimit(_ resource: Int32, name: String, soft: UInt64, hard: UInt64) throws(LinuxError) {
        try record(Call(operation: "setrlimit", path: name, data: "\(soft):\(hard)"), operation: "setrlimit \(name)", errorPath: .some(nil))
    }

    func setGroups(_ groups: [gid_t]) throws(LinuxError) {
        try record(Call(operation: "setgroups", path: "", data: groups.map(String.init).joined(separator: ",")))
    }

    func setGID(_ gid: gid_t) throws(LinuxError) {
        try record(Call(operation: "setresgid", path: "", data: "\(gid)"), operation: "setresgid \(gid)")
    }

    func setUID(_ uid: uid_t) throws(LinuxError) {
        try record(Call(operation: "setresuid", path: "", data: "\(uid)"), operation: "setresuid \(uid)")
    }

    func setNoNewPrivileges() throws(LinuxError) {
        try record(Call(operation: "prctl PR_SET_NO_NEW_PRIVS", path: ""))
    }

    // MARK: The container's namespaces

    /// The serial a joined session keyring gets.
    var keyringSerial = 42

    func joinSessionKeyring(named name: String) throws(LinuxError) -> Int {
        try record(Call(operation: "keyctl join", path: name), operation: "keyctl join session keyring")
        return keyringSerial
    }

    func trySetKeyringPermissions(_ key: Int, _ permissions: UInt32) {
        calls.append(Call(operation: "keyctl setperm", path: String(key), flags: UInt(permissions)))
    }

    func setHostname(_ name: String) throws(LinuxError) {
        try record(Call(operation: "sethostname", path: "", data: name))
    }

    func setDomainname(_ name: String) throws(LinuxError) {
        try record(Call(operation: "setdomainname", path: "", data: name))
    }

    func writeProcfs(_ path: String, _ value: String) throws(LinuxError) {
        try record(Call(operation: "write", path: path, data: value))
    }

    // MARK: Attributes the process keeps across execve

    func setPersonality(_ persona: UInt) throws(LinuxError) {
        try record(Call(operation: "personality", path: "", flags: persona))
    }

    func setScheduler(_ scheduler: ProcessTuning.Scheduler) throws(LinuxError) {
        try record(Call(operation: "sched_setattr", path: "", flags: UInt(scheduler.policy),
                        data: "nice=\(scheduler.nice) priority=\(scheduler.priority)"))
    }

    func setIOPriority(ioClass: Int32, level: Int32) throws(LinuxError) {
        try record(Call(operation: "ioprio_set", path: "", data: "\(ioClass):\(level)"))
    }

    func setMemoryPolicy(mode: Int32, nodes: [Int]) throws(LinuxError) {
        try record(Call(operation: "set_mempolicy", path: "", flags: UInt(mode), data: nodes.map(String.init).joined(separator: ",")))
    }

    func setAffinity(_ cpus: [Int]) throws(LinuxError) {
        try record(Call(operation: "sched_setaffinity", path: "", data: cpus.map(String.init).joined(separator: ",")))
    }
}

/// ProcessSecurity's steps as a test sees them: noted in the kernel's record, in order.
struct RecordingSecurity: ProcessSecuritySteps {
    let kernel: RecordingKernel

    func beforeUserSwitch() throws { kernel.note("security: bounding set, keep caps") }
    func afterUserSwitch() throws { kernel.note("security: capabilities") }
    func beforeReady() throws { kernel.note("security: before ready") }
    func lastBeforeExec() throws { kernel.note("security: seccomp") }
}
