#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// Builds the container's filesystem view inside its new mount namespace, in runc's order:
/// propagation of "/", the rootfs bind, every mounts[] entry, /dev, then pivot_root. Every
/// destination is resolved inside the rootfs through fds (RootedPath), never by joining strings.
/// Every kernel call goes through `kernel` (InitKernel), so tests can record them.
struct RootfsBuilder<Kernel: InitKernel> {
    let spec: Spec
    let options: InitOptions
    /// The container has a user namespace of its own (config.json asks for one).
    let inUserNamespace: Bool
    /// The container is in a user namespace other than the host's: its own, or the one the
    /// runtime already runs in. Device nodes are then bind-mounted from the host, as runc does.
    let userNamespaced: Bool
    /// Bind sources stage 0 opened for us (mounts[] index → O_PATH fd), when the runtime could
    /// reach what the container's user namespace may not (docs/nsexec.md, MOUNT_SOURCE).
    var sourceFDs: [Int: Int32] = [:]
    /// Runs once the mounts are made, before pivot_root: the runtime's prestart and
    /// createRuntime hooks, which may still see (and mount into) the rootfs by its host path.
    var beforePivot: () throws -> Void = {}
    /// The idmapped mounts the runtime made (detached), by mounts[] index: attached in place of
    /// a bind (IDMappedMountSet).
    var idmapped: [Int: OwnedFD] = [:]
    let kernel: Kernel

    init(spec: Spec, options: InitOptions, inUserNamespace: Bool, userNamespaced: Bool, kernel: Kernel) {
        self.spec = spec
        self.options = options
        self.inUserNamespace = inUserNamespace
        self.userNamespaced = userNamespaced
        self.kernel = kernel
    }

    var rootfs: String { options.rootfs }

    func build() throws {
        try makeRootPropagationPrivate()
        // Bind the rootfs onto itself so it is a mount point pivot_root can use, and so
        // mounts below it are private to this namespace.
        try kernel.mount(source: rootfs, target: rootfs, type: "bind", flags: UInt(MS_BIND) | UInt(MS_REC), display: rootfs)
        let root = try kernel.openRoot(rootfs)
        let mounts = spec.mounts ?? []
        for (index, mount) in mounts.enumerated() {
            do {
                try mountEntry(mount, index: index, in: root)
            } catch {
                throw SkiffError.wrap(error, "mounts[\(index)] \(mount.destination)")
            }
        }
        let devBoundFromHost = mounts.contains {
            normalized($0.destination) == "/dev" && MountOptions($0.options ?? []).isBind
        }
        if !devBoundFromHost {
            let devices = Devices(spec: spec, root: root, bindFromHost: userNamespaced, kernel: kernel)
            try devices.create()
            try devices.createSymlinks()
        }
        if let cwd = spec.process?.cwd {
            // The cwd is created if missing, inside the rootfs, as runc does.
            _ = try kernel.mkdirAll(cwd, in: root)
        }
        try beforePivot()
        if options.noPivot {
            try moveRoot()
        } else {
            try pivotRoot()
        }
        if let flag = propagationFlag, flag & UInt(MS_UNBINDABLE) == 0 {
            try kernel.mount(source: nil, target: "/", type: nil, flags: flag, display: "/ (rootfsPropagation)")
        }
    }

    private var propagationFlag: UInt? {
        spec.linux?.rootfsPropagation.flatMap { MountOptions.propagationFlags[$0] }
    }

    /// After pivot_root: read-only root, then masked and read-only paths (they are applied
    /// last so nothing mounted later can uncover them).
    func finish() throws {
        if (spec.mounts ?? []).contains(where: isReadOnlyDev) {
            try remountReadOnly("/dev", recursive: false)
        }
        if spec.root?.readonly == true {
            try remountReadOnly("/", recursive: false)
        }
        let paths = spec.linux.map { ($0.readonlyPaths ?? [], $0.maskedPaths ?? []) } ?? ([], [])
        if !paths.0.isEmpty || !paths.1.isEmpty {
            // Resolved in the container's root (we are pivoted): a symlink in the image is
            // followed to its target inside the container, as runc's securejoin does, so masking
            // "/datalink" hides what it points to instead of silently doing nothing.
            let root = try kernel.openRoot("/")
            for path in paths.0 {
                try readonlyPath(path, in: root)
            }
            for path in paths.1 {
                try maskPath(path, in: root)
            }
        }
        // (r)unbindable last: the masked and read-only paths are bind mounts, which the kernel
        // refuses (EINVAL) from under an unbindable mount.
        if let flag = propagationFlag, flag & UInt(MS_UNBINDABLE) != 0 {
            try kernel.mount(source: nil, target: "/", type: nil, flags: flag, display: "/ (rootfsPropagation)")
        }
    }

    /// A /dev mount (not a bind) asking for "ro": mounted writable, read-only at the end.
    private func isReadOnlyDev(_ mount: Mount) -> Bool {
        let options = MountOptions(mount.options ?? [])
        return normalized(mount.destination) == "/dev" && !options.isBind && mount.type != "bind" && options.isReadOnly
    }

    private func normalized(_ path: String) -> String {
        // Appended part by part: `[Substring].joined`'s generic path resolves its types by
        // mangled name on first use (~200 K instructions in every init that mounts).
        var result = ""
        for part in path.split(separator: "/") where part != "." {
            result.append("/")
            result.append(contentsOf: part)
        }
        return result.isEmpty ? "/" : result
    }

    /// Stops mount events of the container from reaching the host: "/" becomes a slave (or
    /// what rootfsPropagation asks for) recursively before anything is mounted.
    private func makeRootPropagationPrivate() throws {
        var flag = UInt(MS_SLAVE) | UInt(MS_REC)
        if let propagation = spec.linux?.rootfsPropagation, let requested = MountOptions.propagationFlags[propagation],
           requested & UInt(MS_UNBINDABLE) == 0 {
            flag = requested | UInt(MS_REC)
        }
        // (u)nbindable waits for the end of build(): the rootfs could not be bound onto itself
        // under an unbindable "/" (EINVAL); it stays a slave until then.
        try kernel.mount(source: nil, target: "/", type: nil, flags: flag, display: "/")
        // pivot_root refuses a new root whose parent mount is shared: make the parent private
        // when rootfsPropagation asked for shared.
        if flag & UInt(MS_SHARED) != 0 {
            let parent = "/" + rootfs.split(separator: "/").dropLast().joined(separator: "/")
            let mountPoint = Self.mountPoint(containing: parent, mountinfo: try kernel.readProcfs("/proc/self/mountinfo"))
            try kernel.mount(source: nil, target: mountPoint, type: nil, flags: UInt(MS_PRIVATE), display: mountPoint)
        }
    }

    /// The mount point under which `path` lies, from /proc/self/mountinfo (the longest
    /// mount point that is a prefix of it), as runc's rootfsParentMountPrivate finds it.
    static func mountPoint(containing path: String, mountinfo: String) -> String {
        var best = "/"
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            let point = String(fields[4])
            if point.count > best.count, path == point || path.hasPrefix(point + "/") { best = point }
        }
        return best
    }

    private func mountEntry(_ mount: Mount, index: Int, in root: RootedPath) throws {
        let options = MountOptions(mount.options ?? [])
        let type = mount.type ?? (options.isBind ? "bind" : "")
        if options.isBind || type == "bind" {
            try bindMount(mount, options: options, sourceFD: sourceFDs[index], detached: idmapped[index], in: root)
            return
        }
        if type == "cgroup" || type == "cgroup2" {
            try CgroupMount(options: self.options, root: root, inUserNamespace: inUserNamespace, kernel: kernel)
                .mount(destination: mount.destination, flags: options.flags, type: type)
            return
        }
        if type == "proc" || type == "sysfs" {
            try requireOrdinaryDirectory(mount.destination, type: type, in: root)
        }
        let destination = try kernel.mkdirAll(mount.destination, in: root)
        var flags = options.flags
        var data = options.dataString
        if type == "devpts", userNamespaced {
            // devpts refuses a gid= its user namespace does not map (EINVAL): drop it, as
            // runc's rootless spec and podman do, and keep it where it is mapped.
            data = options.data.filter { option in
                guard option.hasPrefix("gid="), let gid = UInt32(option.dropFirst(4)) else { return true }
                return kernel.isMapped(gid, in: "gid_map")
            }.joined(separator: ",")
        }
        if type == "sysfs" && userNamespaced && !(spec.linux?.namespaces ?? []).contains(where: { $0.type == .network && $0.path == nil }) {
            // sysfs needs a network namespace owned by the user namespace; bind the host's.
            try kernel.mount(source: "/sys", target: destination.procPath, type: nil, flags: UInt(MS_BIND) | UInt(MS_REC), display: mount.destination)
            return
        }
        flags &= ~UInt(MS_REMOUNT)
        if let label = spec.linux?.mountLabel, !label.isEmpty {
            // Probed only when a label is asked for: every syscall here costs every container.
            data = MountLabel.format(data: data, type: type, label: label, selinuxEnabled: kernel.selinuxEnabled())
        }
        // tmpcopyup: what the image has there is copied into the new tmpfs (runc); the fd
        // opened before the mount still reaches the directory the tmpfs then covers.
        let below = (mount.options ?? []).contains("tmpcopyup")
            ? try kernel.openAt(destination, ".", flags: O_RDONLY | O_DIRECTORY, display: mount.destination) : nil
        // A read-only tmpfs could not be filled: read-only after the copy. A read-only /dev
        // is made read-only in finish(), once its nodes, mounts and console exist (runc).
        let readOnlyAfterCopy = below != nil && flags & UInt(MS_RDONLY) != 0
        let writable = readOnlyAfterCopy || isReadOnlyDev(mount)
        try kernel.mount(source: mount.source ?? type, target: destination.procPath, type: type,
                         flags: writable ? flags & ~UInt(MS_RDONLY) : flags, data: data, display: mount.destination)
        if let below {
            let tmpfs = try kernel.open(mount.destination, in: root, flags: O_RDONLY | O_DIRECTORY)
            do {
                try kernel.copyTree(from: below, to: tmpfs, display: mount.destination)
            } catch {
                throw SkiffError.wrap(error, "tmpcopyup")
            }
        }
        if readOnlyAfterCopy {
            let mounted = try kernel.open(mount.destination, in: root, flags: SKIFF_O_PATH)
            try kernel.mount(source: nil, target: mounted.procPath, type: nil, flags: UInt(MS_REMOUNT) | flags,
                             data: data, display: mount.destination)
        }
        try applyPropagation(options, at: mount.destination, in: root)
    }

    /// procfs and sysfs go on a real directory of the image, never through a symlink the
    /// image placed there: a /proc pointing elsewhere would let LSM and procfs writes land on
    /// a fake (runc CVE-2019-19921, CVE-2019-16884; runc refuses the same way).
    private func requireOrdinaryDirectory(_ destination: String, type: String, in root: RootedPath) throws {
        let opened = Result { () throws(LinuxError) in try kernel.open(destination, in: root, flags: SKIFF_O_PATH, noFollow: true) }
        if case .failure(let error) = opened, error.errno == .noSuchFileOrDirectory { return }
        let existing = try opened.get()
        if (try kernel.status(of: existing).st_mode & S_IFMT) != S_IFDIR {
            throw SkiffError(.invalidArgument, "filesystem \"\(type)\" must be mounted on an ordinary directory, not a symlink or file")
        }
    }

    private func bindMount(_ mount: Mount, options: MountOptions, sourceFD opened: Int32?, detached: OwnedFD?,
                           in root: RootedPath) throws {
        guard let source = mount.source, !source.isEmpty else {
            throw SkiffError(.invalidArgument, "bind mount needs a source")
        }
        // The source is a host path the caller chose; it is opened once and mounted from its
        // fd, so what is checked is what gets mounted. Stage 0 opened it already when the
        // container has a user namespace (one that may not reach a root-only source). An
        // idmapped one was made by the runtime: its detached mount is the source.
        let sourceFD: OwnedFD
        do {
            let openedFD = opened.map { OwnedFD($0) }
            sourceFD = try detached ?? openedFD ?? kernel.open(source, flags: SKIFF_O_PATH)
        } catch {
            throw SkiffError(.invalidArgument, "bind source", error)
        }
        let isDirectory = (try kernel.status(of: sourceFD).st_mode & S_IFMT) == S_IFDIR
        let destination = isDirectory
            ? try kernel.mkdirAll(mount.destination, in: root) : try kernel.createFile(mount.destination, in: root, mode: 0o644)
        if let detached {
            try kernel.attachMount(detached, onto: destination, display: mount.destination)
            detached.close()
        } else {
            try kernel.mount(source: sourceFD.procPath, target: destination.procPath, type: "bind",
                             flags: UInt(MS_BIND) | (options.isRecursive ? UInt(MS_REC) : 0), display: mount.destination)
        }
        let extra = options.flags & ~(UInt(MS_BIND) | UInt(MS_REC) | UInt(MS_REMOUNT))
        if extra != 0 {
            // Flags on a bind need a remount of the new mount; keep the flags the kernel
            // locked on the source (nosuid, nodev…) or the remount fails with EPERM in a user
            // namespace.
            let mounted = try kernel.open(mount.destination, in: root, flags: SKIFF_O_PATH)
            let locked = try kernel.mountFlags(of: mounted) & (UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC) | UInt(MS_NOATIME) | UInt(MS_NODIRATIME) | UInt(MS_RELATIME))
            try kernel.mount(source: nil, target: mounted.procPath, type: nil,
                             flags: UInt(MS_BIND) | UInt(MS_REMOUNT) | extra | (locked & ~options.clearedFlags), display: mount.destination)
        }
        try applyPropagation(options, at: mount.destination, in: root)
    }

    private func applyPropagation(_ options: MountOptions, at destination: String, in root: RootedPath) throws {
        guard !options.propagation.isEmpty || options.recursiveSet != 0 || options.recursiveClear != 0 else { return }
        let mounted = try kernel.open(destination, in: root, flags: SKIFF_O_PATH)
        if options.recursiveSet != 0 || options.recursiveClear != 0 {
            // rro, rnosuid…: the whole tree under the mount, which mount(2) cannot do.
            try kernel.setMountAttributes(mounted, set: options.recursiveSet, clear: options.recursiveClear,
                                          display: destination)
        }
        for flag in options.propagation {
            try kernel.mount(source: nil, target: mounted.procPath, type: nil, flags: flag, display: destination)
        }
    }

    private func pivotRoot() throws {
        let oldRoot = try kernel.open("/", flags: O_DIRECTORY | O_RDONLY)
        let newRoot = try kernel.open(rootfs, flags: O_DIRECTORY | O_RDONLY)
        try kernel.changeDirectory(to: newRoot, display: rootfs)
        // pivot_root(".", ".") stacks the old root on top of the new one; it is then
        // detached without needing a directory for it inside the container (runc's trick).
        try kernel.pivotRoot(".", ".")
        try kernel.changeDirectory(to: oldRoot, display: "old root")
        // Make the old root a slave first so unmounting it does not propagate to the host.
        try kernel.mount(source: nil, target: ".", type: nil, flags: UInt(MS_SLAVE) | UInt(MS_REC), display: "old root")
        try kernel.unmount(".", flags: Int32(MNT_DETACH))
        try kernel.changeDirectory("/")
    }

    /// --no-pivot: move the rootfs over "/" and chroot into it (for ramfs roots where
    /// pivot_root is impossible).
    private func moveRoot() throws {
        try hideHostProcAndSysfs()
        try kernel.changeDirectory(rootfs)
        try kernel.mount(source: rootfs, target: "/", type: nil, flags: UInt(MS_MOVE), display: rootfs)
        try kernel.changeRoot(".")
        try kernel.changeDirectory("/")
    }

    /// Without pivot_root the host's mounts stay in the namespace, under the chroot. The kernel
    /// lets a nested user namespace mount a new procfs or sysfs whenever a full one is mounted
    /// anywhere in its mount namespace (mount_too_revealing), so a host /proc left there would
    /// let the container mount one without the masked paths. Every full proc and sysfs mount
    /// outside the rootfs is detached, or covered with a tmpfs where that is refused (runc's
    /// msMoveRoot does the same).
    private func hideHostProcAndSysfs() throws {
        var targets: [String] = []
        for line in try kernel.readProcfs("/proc/self/mountinfo").split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard let dash = fields.firstIndex(of: "-"), dash >= 6, fields.count > dash + 1 else { continue }
            let point = Mountinfo.unescape(fields[4])
            guard fields[3] == "/", ["proc", "sysfs"].contains(fields[dash + 1]),
                  point != rootfs, !point.hasPrefix(rootfs + "/") else { continue }
            targets.append(point)
        }
        for point in targets {
            // The unmount must not reach the host through shared propagation; a mount gone
            // with a parent detached before it (ENOENT) needs nothing more.
            let slave = Self.errno { () throws(LinuxError) in try kernel.mount(source: nil, target: point, type: nil, flags: UInt(MS_SLAVE) | UInt(MS_REC), display: point) }
            if slave == ENOENT { continue }
            if let slave { throw LinuxError("mount", path: point, errno: slave) }
            let detach = Self.errno { () throws(LinuxError) in try kernel.unmount(point, flags: Int32(MNT_DETACH)) }
            if detach == EINVAL || detach == EPERM {
                // Locked by a user namespace: cover it instead.
                try kernel.mount(source: "tmpfs", target: point, type: "tmpfs", flags: 0, display: point)
            } else if let detach {
                throw LinuxError("umount2", path: point, errno: detach)
            }
        }
    }

    /// The errno of a failed call, nil when it succeeded.
    private static func errno(_ body: () throws(LinuxError) -> Void) -> Int32? {
        do {
            try body()
            return nil
        } catch {
            return error.errno.rawValue
        }
    }

    private func remountReadOnly(_ path: String, recursive: Bool) throws {
        try remountReadOnly(try kernel.open(path, flags: SKIFF_O_PATH | O_NOFOLLOW), display: path, recursive: recursive)
    }

    private func remountReadOnly(_ fd: OwnedFD, display path: String, recursive: Bool) throws {
        let locked = try kernel.mountFlags(of: fd) & ~UInt(MS_RDONLY)
        try kernel.mount(source: nil, target: fd.procPath, type: nil,
                         flags: UInt(MS_BIND) | UInt(MS_REMOUNT) | UInt(MS_RDONLY) | locked | (recursive ? UInt(MS_REC) : 0),
                         display: path)
    }

    /// An O_PATH fd of what `path` names inside the container (symlinks followed within its
    /// root), nil when it does not exist.
    private func openIfExists(_ path: String, in root: RootedPath) throws -> OwnedFD? {
        switch Result(catching: { () throws(LinuxError) in try kernel.open(path, in: root, flags: SKIFF_O_PATH) }) {
        case .success(let fd): return fd
        case .failure(let error) where error.errno == .noSuchFileOrDirectory: return nil
        case .failure(let error): throw error
        }
    }

    private func readonlyPath(_ path: String, in root: RootedPath) throws {
        guard let fd = try openIfExists(path, in: root) else { return }
        try kernel.mount(source: fd.procPath, target: fd.procPath, type: nil, flags: UInt(MS_BIND) | UInt(MS_REC), display: path)
        // The bind is now on top of what fd names: reopen to reach the new mount.
        guard let mounted = try openIfExists(path, in: root) else { return }
        try remountReadOnly(mounted, display: path, recursive: true)
    }

    /// Hides a path: a read-only empty tmpfs on a directory, the real /dev/null on a file. The
    /// /dev/null is checked to be the 1:3 character device, so an image that replaced it with a
    /// symlink cannot turn masking into a bind of something else (runc CVE-2025-31133).
    private func maskPath(_ path: String, in root: RootedPath) throws {
        guard let target = try openIfExists(path, in: root) else { return }
        let st = try kernel.status(of: target)
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try kernel.mount(source: "tmpfs", target: target.procPath, type: "tmpfs", flags: UInt(MS_RDONLY),
                             data: "size=0k,mode=755", display: path)
            return
        }
        let null = try kernel.open("/dev/null", flags: SKIFF_O_PATH | O_NOFOLLOW)
        let nullStat = try kernel.status(of: null)
        guard (nullStat.st_mode & S_IFMT) == S_IFCHR, nullStat.st_rdev == Files.deviceNumber(major: 1, minor: 3) else {
            throw SkiffError(.system, "mask \"\(path)\": /dev/null is not the null device")
        }
        try kernel.mount(source: null.procPath, target: target.procPath, type: nil, flags: UInt(MS_BIND), display: path)
    }
}

extension RootfsBuilder where Kernel == LinuxInitKernel {
    /// The real kernel's builder, as ContainerInit makes it.
    init(spec: Spec, options: InitOptions, inUserNamespace: Bool, userNamespaced: Bool) {
        self.init(spec: spec, options: options, inUserNamespace: inUserNamespace, userNamespaced: userNamespaced,
                  kernel: LinuxInitKernel())
    }
}
