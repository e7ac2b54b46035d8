import Glibc
import SkiffLinux
import SkiffOCI
import Testing

@testable import SkiffInit
@testable import SkiffInitProtocol

/// Init's rootfs, /dev, cgroup mounts, console and process setup, run against RecordingKernel: the
/// calls runc's order prescribes, with the flags and paths the config asks for, and no root
/// needed. Integration tests check the same containers for real; these pin down what they
/// cannot see (the order, and where a hostile path would have gone).
@Suite struct InitSeamTests {
    static let rootfs = "/bundle/rootfs"

    /// bundles/busybox/config.json, the config `make demo` and the integration tests run.
    static func busybox() throws -> Spec {
        let repository = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let bytes = try Files.read(repository + "/bundles/busybox/config.json")
        return try SkiffJSON.decode(Spec.self, from: bytes, document: "config.json")
    }

    static func options(noPivot: Bool = false, cgroups: [CgroupMountSource]? = nil) -> InitOptions {
        let v2 = CgroupMountSource(version: "v2", controllers: [], mountPoint: "/sys/fs/cgroup",
                                   directory: "/sys/fs/cgroup/skiff/c1")
        return InitOptions(containerID: "c1", rootfs: rootfs, noPivot: noPivot, noNewKeyring: false, preserveFds: 0,
                           cgroups: cgroups ?? [v2], debug: false)
    }

    /// A kernel whose image has the busybox rootfs's files where masking needs to tell files
    /// from directories.
    static func kernel() -> RecordingKernel {
        let kernel = RecordingKernel(rootfs: rootfs)
        for file in ["/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug",
                     "/proc/sysrq-trigger"] {
            kernel.image[file] = .file
        }
        kernel.missing = ["/proc/asound", "/proc/timer_stats"]
        return kernel
    }

    static func builder(_ spec: Spec, _ kernel: RecordingKernel, options: InitOptions? = nil,
                        userNamespaced: Bool = false) -> RootfsBuilder<RecordingKernel> {
        RootfsBuilder(spec: spec, options: options ?? Self.options(), inUserNamespace: userNamespaced, userNamespaced: userNamespaced,
                      kernel: kernel)
    }

    static func minimal(_ mounts: [Mount], propagation: String? = nil) -> Spec {
        var linux = Linux(namespaces: [LinuxNamespace(type: .mount)])
        linux.rootfsPropagation = propagation
        return Spec(root: Root(path: "rootfs"), mounts: mounts, linux: linux)
    }

    static func flags(_ options: [String]) -> UInt { MountOptions(options).flags }

    // MARK: Mount order

    /// runc's order for the committed bundle: "/" made a slave, the rootfs bound onto itself,
    /// each mounts[] entry in the config's order, then pivot_root and the old root detached;
    /// after it the read-only root, readonlyPaths (bind + read-only remount) and maskedPaths
    /// (tmpfs on a directory, /dev/null on a file; absent ones skipped).
    @Test func busyboxMountsInRuncOrder() throws {
        let kernel = Self.kernel()
        let builder = Self.builder(try Self.busybox(), kernel)
        try builder.build()
        try builder.finish()
        let r = Self.rootfs
        #expect(kernel.mounts.map(\.path) == [
            "/", r, r + "/proc", r + "/dev", r + "/dev/pts", r + "/dev/shm", r + "/dev/mqueue", r + "/sys",
            r + "/sys/fs/cgroup", r + "/tmp",
            ".",
            "/",
            "/proc/bus", "/proc/bus", "/proc/fs", "/proc/fs", "/proc/irq", "/proc/irq", "/proc/sys", "/proc/sys",
            "/proc/sysrq-trigger", "/proc/sysrq-trigger",
            "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug",
            "/sys/firmware", "/proc/scsi",
        ])
        #expect(kernel.mounts.map { $0.type ?? "-" } == [
            "-", "bind", "proc", "tmpfs", "devpts", "tmpfs", "mqueue", "sysfs", "cgroup2", "tmpfs",
            "-", "-",
            "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
            "tmpfs", "-", "-", "-", "-", "-", "tmpfs", "tmpfs",
        ])
        #expect(kernel.mounts.map { $0.source ?? "-" } == [
            "-", r, "proc", "tmpfs", "devpts", "shm", "mqueue", "sysfs", "cgroup2", "tmpfs",
            "-", "-",
            "/proc/bus", "-", "/proc/fs", "-", "/proc/irq", "-", "/proc/sys", "-", "/proc/sysrq-trigger", "-",
            "tmpfs", "/dev/null", "/dev/null", "/dev/null", "/dev/null", "/dev/null", "tmpfs", "tmpfs",
        ])
        let pivot = try #require(kernel.index("pivot_root", "."))
        #expect(kernel.index("umount2", ".")! > pivot)
        #expect(kernel.index("mount", "/proc/bus")! > pivot)
        #expect(kernel.index("mount", "/proc/acpi")! > pivot)
    }

    /// Device nodes are made once /dev (a tmpfs of the config) is mounted, after every
    /// mounts[] entry, and before pivot_root; the links follow the nodes.
    @Test func devicesComeAfterDevIsMounted() throws {
        let kernel = Self.kernel()
        try Self.builder(try Self.busybox(), kernel).build()
        let r = Self.rootfs
        let devMount = try #require(kernel.index("mount", r + "/dev"))
        let lastEntry = try #require(kernel.index("mount", r + "/tmp"))
        let firstNode = try #require(kernel.calls.firstIndex { $0.operation == "mknod" })
        let lastNode = try #require(kernel.calls.lastIndex { $0.operation == "mknod" })
        let firstLink = try #require(kernel.calls.firstIndex { $0.operation == "symlink" })
        let pivot = try #require(kernel.index("pivot_root", "."))
        #expect(devMount < lastEntry && lastEntry < firstNode)
        #expect(lastNode < firstLink && firstLink < pivot)
        #expect(kernel.calls(["mknod"]).map(\.path) == ["null", "zero", "full", "random", "urandom", "tty"].map { r + "/dev/" + $0 })
        // /dev/ptmx points at the container's devpts; the host's /proc/kcore exists, so /dev/core does too.
        #expect(kernel.calls(["symlink"]).map { "\($0.path) -> \($0.data ?? "")" } == [
            r + "/dev/fd -> /proc/self/fd", r + "/dev/stdin -> /proc/self/fd/0", r + "/dev/stdout -> /proc/self/fd/1",
            r + "/dev/stderr -> /proc/self/fd/2", r + "/dev/core -> /proc/kcore", r + "/dev/ptmx -> pts/ptmx",
        ])
    }

    // MARK: Flags

    @Test func busyboxMountFlags() throws {
        let kernel = Self.kernel()
        let builder = Self.builder(try Self.busybox(), kernel)
        try builder.build()
        try builder.finish()
        let r = Self.rootfs
        let byPath = Dictionary(kernel.mounts.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        // No propagation asked for: "/" becomes a recursive slave before anything is mounted.
        #expect(kernel.mounts.first?.flags == UInt(MS_SLAVE) | UInt(MS_REC))
        #expect(byPath[r]?.flags == UInt(MS_BIND) | UInt(MS_REC))
        #expect(byPath[r + "/proc"]?.flags == 0)
        #expect(byPath[r + "/sys"]?.flags == UInt(MS_RDONLY) | UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC))
        #expect(byPath[r + "/sys/fs/cgroup"]?.flags
            == UInt(MS_RDONLY) | UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC) | UInt(MS_RELATIME))
        #expect(byPath[r + "/dev"]?.flags == Self.flags(["nosuid", "strictatime"]))
        // What mount(2) does not know as a flag goes to the filesystem as data, in the config's order.
        #expect(byPath[r + "/dev"]?.data == "mode=755,size=65536k")
        #expect(byPath[r + "/dev/pts"]?.data == "newinstance,ptmxmode=0666,mode=0620,gid=5")
        #expect(byPath[r + "/dev/mqueue"]?.data == nil)
        // The old root is made a slave before it is detached, so the unmount stays in here.
        #expect(byPath["."]?.flags == UInt(MS_SLAVE) | UInt(MS_REC))
        #expect(kernel.calls(["umount2"]).map(\.flags) == [UInt(MNT_DETACH)])
        // root.readonly, then a read-only path, then a masked directory and a masked file.
        let remounts = kernel.mounts.filter { $0.flags & UInt(MS_REMOUNT) != 0 }
        #expect(remounts.first?.path == "/")
        #expect(remounts.first?.flags == UInt(MS_BIND) | UInt(MS_REMOUNT) | UInt(MS_RDONLY))
        #expect(remounts.dropFirst().first?.flags == UInt(MS_BIND) | UInt(MS_REMOUNT) | UInt(MS_RDONLY) | UInt(MS_REC))
        #expect(byPath["/proc/bus"]?.flags == UInt(MS_BIND) | UInt(MS_REC))
        #expect(byPath["/proc/acpi"]?.flags == UInt(MS_RDONLY))
        #expect(byPath["/proc/acpi"]?.data == "size=0k,mode=755")
        #expect(byPath["/proc/kcore"]?.flags == UInt(MS_BIND))
    }

    /// A read-only bind is a bind, then a remount of the new mount with the flags, keeping
    /// what the kernel locked on the source (nodev here) or the remount would fail with EPERM.
    @Test func readOnlyBindIsBindThenRemount() throws {
        let spec = Self.minimal([
            Mount(destination: "/data", type: "bind", source: "/host/data", options: ["rbind", "ro", "nosuid"]),
            Mount(destination: "/etc/resolv.conf", type: "bind", source: "/host/resolv.conf", options: ["bind", "ro"]),
        ])
        let kernel = Self.kernel()
        kernel.host["/host/resolv.conf"] = .file
        let r = Self.rootfs
        kernel.mountFlagsByPath[r + "/data"] = UInt(MS_NODEV)
        try Self.builder(spec, kernel).build()
        let entries = kernel.mounts.filter { $0.path.hasPrefix(r + "/") }
        #expect(entries.map(\.description) == [
            "mount \(r)/data source=/host/data type=bind flags=0x\(String(UInt(MS_BIND) | UInt(MS_REC), radix: 16))",
            "mount \(r)/data flags=0x\(String(UInt(MS_BIND) | UInt(MS_REMOUNT) | UInt(MS_RDONLY) | UInt(MS_NOSUID) | UInt(MS_NODEV), radix: 16))",
            "mount \(r)/etc/resolv.conf source=/host/resolv.conf type=bind flags=0x\(String(UInt(MS_BIND), radix: 16))",
            "mount \(r)/etc/resolv.conf flags=0x\(String(UInt(MS_BIND) | UInt(MS_REMOUNT) | UInt(MS_RDONLY), radix: 16))",
        ])
        // The source is opened once and mounted from its fd; a file gets a file to land on.
        #expect(kernel.index("open", "/host/data") != nil)
        #expect(kernel.index("mkdirat", r + "/data") != nil)
        #expect(kernel.index("create", r + "/etc/resolv.conf") != nil)
    }

    /// rootfsPropagation "shared": "/" recursively shared from the start, the rootfs's parent
    /// mount made private (pivot_root refuses a shared parent), and "/" shared again after
    /// pivot_root.
    @Test func sharedRootfsPropagation() throws {
        let kernel = Self.kernel()
        kernel.mountinfo += "30 22 8:2 / /bundle rw,relatime shared:2 - ext4 /dev/sdb1 rw\n"
        let builder = Self.builder(Self.minimal([], propagation: "shared"), kernel)
        try builder.build()
        let mounts = kernel.mounts
        #expect(mounts.prefix(3).map(\.description) == [
            "mount / flags=0x\(String(UInt(MS_SHARED) | UInt(MS_REC), radix: 16))",
            "mount /bundle flags=0x\(String(UInt(MS_PRIVATE), radix: 16))",
            "mount \(Self.rootfs) source=\(Self.rootfs) type=bind flags=0x\(String(UInt(MS_BIND) | UInt(MS_REC), radix: 16))",
        ])
        #expect(mounts.last?.path == "/")
        #expect(mounts.last?.flags == UInt(MS_SHARED))
        #expect(kernel.index("mount", "/")! < kernel.index("pivot_root", ".")!)
    }

    /// rootfsPropagation "runbindable": a slave until the end, unbindable only after the masked
    /// and read-only paths, which are binds the kernel refuses under an unbindable mount.
    @Test func unbindableRootfsPropagationComesLast() throws {
        let kernel = Self.kernel()
        var spec = try Self.busybox()
        spec.linux?.rootfsPropagation = "runbindable"
        let builder = Self.builder(spec, kernel)
        try builder.build()
        try builder.finish()
        #expect(kernel.mounts.first?.flags == UInt(MS_SLAVE) | UInt(MS_REC))
        #expect(kernel.mounts.last?.path == "/")
        #expect(kernel.mounts.last?.flags == UInt(MS_UNBINDABLE) | UInt(MS_REC))
        #expect(kernel.mounts.dropLast().last?.path == "/proc/scsi")
    }

    /// Per-mount propagation and recursive attributes are applied to the new mount, after it.
    @Test func mountPropagationAndRecursiveAttributes() throws {
        let kernel = Self.kernel()
        try Self.builder(Self.minimal([Mount(destination: "/shared", type: "tmpfs", source: "tmpfs",
                                             options: ["rshared", "rro"])]), kernel).build()
        let path = Self.rootfs + "/shared"
        let steps = kernel.calls.filter { $0.path == path && ["mount", "mount_setattr"].contains($0.operation) }
        #expect(steps.map(\.description) == [
            "mount \(path) source=tmpfs type=tmpfs",
            "mount_setattr \(path) flags=0x1 data=clear=0x0",
            "mount \(path) flags=0x\(String(UInt(MS_SHARED) | UInt(MS_REC), radix: 16))",
        ])
    }

    /// tmpcopyup: the image's files under the destination, reached by an fd opened before the
    /// mount, are copied into the new tmpfs; a read-only one is mounted writable and made
    /// read-only after the copy.
    @Test func tmpcopyupCopiesThenMakesReadOnly() throws {
        let kernel = Self.kernel()
        try Self.builder(Self.minimal([Mount(destination: "/etc/ssl", type: "tmpfs", source: "tmpfs",
                                             options: ["tmpcopyup", "ro"])]), kernel).build()
        let path = Self.rootfs + "/etc/ssl"
        let steps = kernel.calls.filter { $0.path == path && ["openat", "mount", "copyTree"].contains($0.operation) }
        #expect(steps.map(\.description) == [
            "openat \(path) flags=0x\(String(UInt32(bitPattern: O_RDONLY | O_DIRECTORY), radix: 16))",
            "mount \(path) source=tmpfs type=tmpfs",
            "copyTree \(path) source=\(path)",
            "mount \(path) flags=0x\(String(UInt(MS_REMOUNT) | UInt(MS_RDONLY), radix: 16))",
        ])
    }

    /// An idmapped mount (made by the runtime, detached) is attached where the bind would go;
    /// the host path is not opened again.
    @Test func anIdmappedMountIsAttachedInPlaceOfABind() throws {
        let kernel = Self.kernel()
        var builder = Self.builder(Self.minimal([Mount(destination: "/data", type: "bind", source: "/host/data",
                                                       options: ["bind", "idmap"])]), kernel)
        builder.idmapped = [0: kernel.handle("idmapped /host/data")]
        try builder.build()
        let r = Self.rootfs
        #expect(kernel.calls(["move_mount"]).map(\.description) == ["move_mount \(r)/data source=idmapped /host/data"])
        #expect(kernel.index("open", "/host/data") == nil)
        #expect(kernel.index("mount", r + "/data") == nil)
    }

    /// In a user namespace: devpts loses a gid= its namespace does not map (EINVAL otherwise)
    /// and keeps one it maps; sysfs, without a network namespace of the container's own, is
    /// the host's /sys bound.
    @Test func aUserNamespaceAdjustsDevptsAndSysfs() throws {
        let spec = Self.minimal([
            Mount(destination: "/dev/pts", type: "devpts", source: "devpts", options: ["newinstance", "gid=5", "mode=0620"]),
            Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "ro"]),
        ])
        let r = Self.rootfs
        let unmapped = Self.kernel()
        unmapped.mapped["gid_map"] = [0]
        try Self.builder(spec, unmapped, userNamespaced: true).build()
        #expect(unmapped.mounts.first { $0.path == r + "/dev/pts" }?.data == "newinstance,mode=0620")
        #expect(unmapped.mounts.first { $0.path == r + "/sys" }?.description
            == "mount \(r)/sys source=/sys flags=0x\(String(UInt(MS_BIND) | UInt(MS_REC), radix: 16))")
        #expect(unmapped.calls(["mknod"]).isEmpty)

        let mapped = Self.kernel()
        mapped.mapped["gid_map"] = [0, 5]
        try Self.builder(spec, mapped, userNamespaced: true).build()
        #expect(mapped.mounts.first { $0.path == r + "/dev/pts" }?.data == "newinstance,gid=5,mode=0620")
    }

    /// With a cgroup namespace a fresh cgroup2 is tried first; a refusal (EPERM) falls back to
    /// binding the container's directory, remounted with the entry's flags.
    @Test func aRefusedCgroupMountFallsBackToABind() throws {
        let kernel = Self.kernel()
        let d = Self.rootfs + "/sys/fs/cgroup"
        kernel.fail("mount", at: d, errno: EPERM)
        let root = try kernel.openRoot(Self.rootfs)
        let flags = Self.flags(["nosuid", "noexec", "nodev"])
        try CgroupMount(options: Self.options(), root: root, inUserNamespace: true, kernel: kernel)
            .mount(destination: "/sys/fs/cgroup", flags: flags, type: "cgroup")
        #expect(kernel.mounts.map(\.description) == [
            "mount \(d) source=cgroup2 type=cgroup2 flags=0x\(String(flags, radix: 16))",
            "mount \(d) source=/sys/fs/cgroup/skiff/c1 type=bind flags=0x\(String(UInt(MS_BIND) | UInt(MS_REC), radix: 16))",
            "mount \(d) flags=0x\(String(UInt(MS_BIND) | UInt(MS_REMOUNT) | flags, radix: 16))",
        ])
    }

    // MARK: Paths

    /// Destinations resolve inside the rootfs whatever they say: `..` stops at its root and a
    /// symlink of the image (absolute or relative) is followed inside it, never to the host's
    /// /etc (runc CVE-2021-30465).
    @Test func destinationsStayInsideTheRootfs() throws {
        let kernel = Self.kernel()
        kernel.image["/link"] = .symlink("/etc")
        kernel.image["/rel"] = .symlink("../../../outside")
        let spec = Self.minimal([
            Mount(destination: "/../../etc/evil", type: "tmpfs", source: "tmpfs"),
            Mount(destination: "/link/x", type: "tmpfs", source: "tmpfs"),
            Mount(destination: "rel/y", type: "tmpfs", source: "tmpfs"),
        ])
        try Self.builder(spec, kernel).build()
        let r = Self.rootfs
        #expect(kernel.mounts.filter { $0.type == "tmpfs" }.map(\.path) == [r + "/etc/evil", r + "/etc/x", r + "/outside/y"])
        // Nothing before pivot_root touched a path outside the rootfs but "/" itself (propagation).
        let pivot = try #require(kernel.index("pivot_root", "."))
        for call in kernel.calls[..<pivot] where ["mount", "mkdirat", "openat2", "create", "mknod", "symlink"].contains(call.operation) {
            #expect(call.path == "/" || call.path == r || call.path.hasPrefix(r + "/"), "\(call)")
        }
    }

    /// procfs over a symlink the image placed would let writes to /proc land elsewhere (runc
    /// CVE-2019-19921): refused, before anything is mounted there.
    @Test func procOnASymlinkIsRefused() throws {
        let kernel = Self.kernel()
        kernel.image["/proc"] = .symlink("/tmp/fake")
        let error = #expect(throws: SkiffError.self) {
            try Self.builder(Self.minimal([Mount(destination: "/proc", type: "proc", source: "proc")]), kernel).build()
        }
        #expect(error?.message == #"mounts[0] /proc: filesystem "proc" must be mounted on an ordinary directory, not a symlink or file"#)
        #expect(kernel.mounts.count == 2)
    }

    /// --no-pivot: the host's /proc is detached first (covered with a tmpfs where a user
    /// namespace locks it), then the rootfs moved over "/" and chrooted into.
    @Test func noPivotMovesTheRoot() throws {
        let kernel = Self.kernel()
        kernel.mountinfo += "23 22 0:5 / /proc rw,nosuid - proc proc rw\n24 22 0:6 / /sys rw - sysfs sysfs rw\n"
            + "25 22 0:5 / /bundle/rootfs/proc rw - proc proc rw\n"
        kernel.fail("umount2", at: "/sys", errno: EINVAL)
        try Self.builder(Self.minimal([]), kernel, options: Self.options(noPivot: true)).build()
        let start = try #require(kernel.index("mount", "/proc"))
        let steps = kernel.calls[start...].filter { ["mount", "umount2", "chdir", "chroot", "pivot_root"].contains($0.operation) }
        #expect(steps.map(\.description) == [
            "mount /proc flags=0x\(String(UInt(MS_SLAVE) | UInt(MS_REC), radix: 16))",
            "umount2 /proc flags=0x\(String(UInt(MNT_DETACH), radix: 16))",
            "mount /sys flags=0x\(String(UInt(MS_SLAVE) | UInt(MS_REC), radix: 16))",
            "umount2 /sys flags=0x\(String(UInt(MNT_DETACH), radix: 16))",
            "mount /sys source=tmpfs type=tmpfs",
            "chdir \(Self.rootfs)",
            "mount / source=\(Self.rootfs) flags=0x\(String(UInt(MS_MOVE), radix: 16))",
            "chroot \(Self.rootfs)",
            "chdir /",
        ])
    }

    // MARK: Devices

    @Test func devicesAreMadeWithMknodOutsideAUserNamespace() throws {
        let kernel = Self.kernel()
        var spec = Self.minimal([])
        spec.linux?.devices = [
            LinuxDevice(path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o600, uid: 1000, gid: 1000),
            LinuxDevice(path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o640, uid: 0, gid: 0),
        ]
        let root = try kernel.openRoot(Self.rootfs)
        try Devices(spec: spec, root: root, bindFromHost: false, kernel: kernel).create()
        let r = Self.rootfs
        // A device of linux.devices replaces the default of the same path (/dev/null here).
        #expect(kernel.calls(["mknod", "fchownat"]).map(\.description) == [
            "mknod \(r)/dev/zero flags=0x21b6 data=1:5", "fchownat \(r)/dev/zero data=0:0",
            "mknod \(r)/dev/full flags=0x21b6 data=1:7", "fchownat \(r)/dev/full data=0:0",
            "mknod \(r)/dev/random flags=0x21b6 data=1:8", "fchownat \(r)/dev/random data=0:0",
            "mknod \(r)/dev/urandom flags=0x21b6 data=1:9", "fchownat \(r)/dev/urandom data=0:0",
            "mknod \(r)/dev/tty flags=0x21b6 data=5:0", "fchownat \(r)/dev/tty data=0:0",
            "mknod \(r)/dev/fuse flags=0x2180 data=10:229", "fchownat \(r)/dev/fuse data=1000:1000",
            "mknod \(r)/dev/null flags=0x21a0 data=1:3", "fchownat \(r)/dev/null data=0:0",
        ])
        // The modes are the config's: umask 0 around the nodes, init's own restored after.
        let umasks = kernel.calls(["umask"])
        #expect(umasks.map(\.flags) == [0, 0o022])
        #expect(kernel.calls.firstIndex { $0.operation == "umask" }! < kernel.calls.firstIndex { $0.operation == "mknod" }!)
        #expect(kernel.calls.lastIndex { $0.operation == "umask" }! > kernel.calls.lastIndex { $0.operation == "mknod" }!)
        #expect(kernel.mounts.isEmpty)
    }

    /// In a user namespace mknod is refused: each node is the host's, bind-mounted onto an
    /// empty file made inside the rootfs.
    @Test func devicesAreBoundInAUserNamespace() throws {
        let kernel = Self.kernel()
        let root = try kernel.openRoot(Self.rootfs)
        try Devices(spec: Self.minimal([]), root: root, bindFromHost: true, kernel: kernel).create()
        let r = Self.rootfs
        #expect(kernel.calls(["mknod"]).isEmpty)
        // The host's node is opened by its path, the target made inside the rootfs.
        let steps = kernel.calls(["open", "create", "mount"]).filter { $0.path != r }
        #expect(steps.prefix(3).map { "\($0.operation) \($0.path)" } == [
            "open /dev/null", "create \(r)/dev/null", "mount \(r)/dev/null",
        ])
        #expect(kernel.mounts.first?.flags == UInt(MS_BIND))
        #expect(kernel.mounts.map(\.path) == ["null", "zero", "full", "random", "urandom", "tty"].map { r + "/dev/" + $0 })
        #expect(kernel.mounts.allSatisfy { $0.source == String($0.path.dropFirst(r.count)) })
    }

    /// Whatever the image has where a node goes (here a symlink to the host's /etc/shadow) is
    /// replaced, never followed.
    @Test func aDeviceReplacesWhatTheImageHad() throws {
        let kernel = Self.kernel()
        kernel.image["/dev/tty"] = .symlink("/etc/shadow")
        let root = try kernel.openRoot(Self.rootfs)
        try Devices(spec: Self.minimal([]), root: root, bindFromHost: false, kernel: kernel).create()
        let tty = Self.rootfs + "/dev/tty"
        #expect(kernel.calls.filter { $0.path == tty }.map(\.operation) == ["mknod", "unlink", "mknod", "fchownat"])
        #expect(kernel.calls.allSatisfy { !$0.path.contains("shadow") })
    }

    /// A /dev bound from the host (mounts[] has a bind on /dev) gets no nodes of ours.
    @Test func devBoundFromTheHostGetsNoNodes() throws {
        let kernel = Self.kernel()
        try Self.builder(Self.minimal([Mount(destination: "/dev", type: "bind", source: "/dev", options: ["rbind"])]), kernel).build()
        #expect(kernel.calls(["mknod", "symlink"]).isEmpty)
    }

    // MARK: Cgroup mounts

    /// cgroup v1 without a cgroup namespace: a tmpfs with one directory per hierarchy (made and
    /// opened by name in the fresh tmpfs), each the container's directory bound from the host,
    /// then the entry's flags on the whole tree in one mount_setattr.
    @Test func cgroupV1WithoutANamespaceIsBoundFromTheHost() throws {
        let (kernel, flags) = try Self.mountCgroupsWithoutANamespace(inUserNamespace: false)
        let d = Self.rootfs + "/sys/fs/cgroup"
        let writable = flags & ~UInt(MS_RDONLY)
        let bind = UInt(MS_BIND) | UInt(MS_REC)
        #expect(kernel.mounts.map(\.description) == [
            "mount \(d) source=tmpfs type=tmpfs flags=0x\(String(writable, radix: 16)) data=mode=755",
            "mount \(d)/cpu,cpuacct source=/sys/fs/cgroup/cpu,cpuacct/skiff/c1 type=bind flags=0x\(String(bind, radix: 16))",
            "mount \(d)/memory source=/sys/fs/cgroup/memory/skiff/c1 type=bind flags=0x\(String(bind, radix: 16))",
        ])
        // ro, nosuid, nodev, noexec set; every per-mount flag and the atime mode cleared first.
        let setattr = kernel.calls(["mount_setattr"])
        #expect(setattr.map(\.path) == [d])
        #expect(setattr.first?.flags == 0xf && setattr.first?.data == "clear=0xff")
        #expect(kernel.calls(["mkdir"]).map(\.path) == [d + "/cpu,cpuacct", d + "/memory"])
        #expect(kernel.index("mount_setattr", d)! > kernel.calls.lastIndex { $0.operation == "mount" }!)
    }

    /// In a user namespace each bind is remounted with the entry's flags instead (a remount
    /// keeps the flags the kernel locked), and the tmpfs read-only last.
    @Test func cgroupV1BindsInAUserNamespaceAreRemounted() throws {
        let (kernel, flags) = try Self.mountCgroupsWithoutANamespace(inUserNamespace: true)
        let d = Self.rootfs + "/sys/fs/cgroup"
        let remount = UInt(MS_BIND) | UInt(MS_REMOUNT)
        #expect(kernel.mounts.map(\.description).filter { !$0.contains("source=") } == [
            "mount \(d)/cpu,cpuacct flags=0x\(String(remount | flags, radix: 16))",
            "mount \(d)/memory flags=0x\(String(remount | flags, radix: 16))",
            "mount \(d) flags=0x\(String(remount | flags, radix: 16))",
        ])
        #expect(kernel.calls(["mount_setattr"]).isEmpty)
    }

    static func mountCgroupsWithoutANamespace(inUserNamespace: Bool) throws -> (RecordingKernel, UInt) {
        let kernel = Self.kernel()
        kernel.host["/proc/self/ns/cgroup"] = RecordingKernel.Node(mode: S_IFREG, inode: 4_026_531_835)
        kernel.host["/proc/1/ns/cgroup"] = RecordingKernel.Node(mode: S_IFREG, inode: 4_026_531_835)
        let sources = [
            CgroupMountSource(version: "v1", controllers: ["cpu", "cpuacct"], mountPoint: "/sys/fs/cgroup/cpu,cpuacct",
                              directory: "/sys/fs/cgroup/cpu,cpuacct/skiff/c1"),
            CgroupMountSource(version: "v1", controllers: ["memory"], mountPoint: "/sys/fs/cgroup/memory",
                              directory: "/sys/fs/cgroup/memory/skiff/c1"),
        ]
        let root = try kernel.openRoot(Self.rootfs)
        let flags = Self.flags(["nosuid", "noexec", "nodev", "ro"])
        try CgroupMount(options: Self.options(cgroups: sources), root: root, inUserNamespace: inUserNamespace, kernel: kernel)
            .mount(destination: "/sys/fs/cgroup", flags: flags, type: "cgroup")
        return (kernel, flags)
    }

    /// MS_* flags as mount_setattr attributes: what a remount sets, the atime mode relatime
    /// unless said otherwise; nil for a flag mount_setattr has no attribute for.
    @Test func mountFlagsAsAttributes() {
        typealias Mount = CgroupMount<RecordingKernel>
        #expect(Mount.mountAttributes(Self.flags(["ro", "nosuid", "nodev", "noexec", "relatime"]))! == (0xf, 0xff))
        #expect(Mount.mountAttributes(Self.flags(["noatime"]))! == (0x10, 0xff))
        #expect(Mount.mountAttributes(Self.flags(["strictatime", "nodiratime"]))! == (0xa0, 0xff))
        #expect(Mount.mountAttributes(0)! == (0, 0xff))
        #expect(Mount.mountAttributes(UInt(MS_SYNCHRONOUS)) == nil)
        #expect(Mount.mountAttributes(UInt(MS_NOATIME) | UInt(MS_STRICTATIME)) == nil)
    }

    // MARK: The console

    /// process.terminal: the pty comes from the container's /dev/ptmx, its peer is opened by fd
    /// and bound on /dev/console before the master goes to the console socket, then becomes
    /// the controlling terminal and stdio.
    @Test func theConsoleIsBoundThenHandedOver() throws {
        let kernel = RecordingKernel(rootfs: "/", pivoted: true)
        let console = Console(socket: kernel.handle("console socket"), size: Box(height: 24, width: 80), kernel: kernel)
        try console.setUp(bindToDevConsole: true)
        #expect(kernel.calls.map { "\($0.operation) \($0.path)" } == [
            "open /dev/ptmx", "ioctl TIOCGPTPEER /dev/ptmx", "ioctl TIOCSWINSZ /dev/ptmx",
            "create /dev/console", "open /dev/console", "fstat /dev/console", "mount /dev/console",
            "sendmsg console socket", "ioctl TIOCSCTTY /dev/pts/0", "dup2 fd 0", "dup2 fd 1", "dup2 fd 2",
        ])
        #expect(kernel.calls(["ioctl TIOCSWINSZ"]).first?.data == "24x80")
        #expect(kernel.mounts.first?.source == "/dev/pts/0")
        #expect(kernel.mounts.first?.flags == UInt(MS_BIND))
        #expect(kernel.calls(["sendmsg"]).first?.source == "/dev/ptmx")
        #expect(kernel.calls(["dup2"]).allSatisfy { $0.source == "/dev/pts/0" })
    }

    /// A /dev/console the image made a symlink is refused, not followed by the bind (runc
    /// CVE-2025-52565), and nothing is sent.
    @Test func aConsoleSymlinkIsRefused() throws {
        let kernel = RecordingKernel(rootfs: "/", pivoted: true)
        kernel.image["/dev/console"] = .symlink("/etc/shadow")
        let console = Console(socket: kernel.handle("console socket"), size: nil, kernel: kernel)
        let error = #expect(throws: SkiffError.self) { try console.setUp(bindToDevConsole: true) }
        #expect(error?.message == "mount /dev/console: target is not a regular file or a character device")
        #expect(kernel.mounts.isEmpty)
        #expect(kernel.calls(["sendmsg"]).isEmpty)
    }

    // MARK: Errors

    /// A refused call stops the build there and reaches the caller naming the mounts[] entry,
    /// the operation and the path the config gave, with the errno as a value.
    @Test func aRefusedMountNamesTheEntryOperationAndPath() throws {
        let kernel = Self.kernel()
        kernel.fail("mount", at: Self.rootfs + "/dev", errno: EPERM)
        let error = #expect(throws: SkiffError.self) { try Self.builder(try Self.busybox(), kernel).build() }
        #expect(error?.message == #"mounts[1] /dev: mount "/dev": operation not permitted"#)
        #expect(error?.cause == LinuxError("mount", path: "/dev", errno: EPERM))
        #expect(kernel.mounts.last?.path == Self.rootfs + "/dev")
        #expect(kernel.calls(["mknod", "pivot_root"]).isEmpty)
    }

    @Test func aRefusedMknodNamesTheDevice() throws {
        let kernel = Self.kernel()
        kernel.fail("mknod", at: Self.rootfs + "/dev/tty", errno: EPERM)
        let error = #expect(throws: SkiffError.self) { try Self.builder(try Self.busybox(), kernel).build() }
        #expect(error?.message == #"device /dev/tty: mknod "/dev/tty": operation not permitted"#)
        #expect(error?.cause?.code == EPERM)
    }

    @Test func aRefusedMaskNamesThePath() throws {
        let kernel = Self.kernel()
        let builder = Self.builder(try Self.busybox(), kernel)
        try builder.build()
        kernel.fail("mount", at: "/proc/keys", errno: EACCES)
        let error = #expect(throws: LinuxError.self) { try builder.finish() }
        #expect(error == LinuxError("mount", path: "/proc/keys", errno: EACCES))
    }

    // MARK: The process

    static func processKernel() -> RecordingKernel {
        let kernel = RecordingKernel(rootfs: "/", pivoted: true)
        kernel.files["/proc/self/setgroups"] = "allow\n"
        kernel.files["/etc/passwd"] = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
        kernel.image["/bin/sh"] = .executable
        kernel.missing = ["/usr/bin/sh"]
        return kernel
    }

    static func process(user: User = User(uid: 1000, gid: 1000, additionalGids: [5, 10]), args: [String] = ["sh"], cwd: String = "/home/user") -> SkiffOCI.Process {
        SkiffOCI.Process(user: user, args: args, env: ["PATH=/usr/bin:/bin"], cwd: cwd,
                         rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)], noNewPrivileges: true)
    }

    static func launcher(_ process: SkiffOCI.Process, _ kernel: RecordingKernel) throws
        -> ProcessLauncher<RecordingKernel, RecordingSecurity> {
        try ProcessLauncher(process: process, linux: nil, preserveFds: 0, listenFds: 0, kernel: kernel,
                            security: { RecordingSecurity(kernel: kernel) })
    }

    /// runc's order: limits, no_new_privs, the bounding set while still root, the working
    /// directory, then groups before the gid before the uid (each switch drops the right to
    /// make the next), the capabilities of the new uid, and the executable found on PATH.
    @Test func processSetupInRuncOrder() throws {
        let kernel = Self.processKernel()
        var launcher = try Self.launcher(Self.process(), kernel)
        try launcher.prepare()
        #expect(kernel.calls.filter { $0.operation != "read" }.map(\.description) == [
            "setrlimit RLIMIT_NOFILE data=1024:1024",
            "prctl PR_SET_NO_NEW_PRIVS",
            "security: bounding set, keep caps",
            "chdir /home/user",
            "setgroups data=5,10",
            "setresgid data=1000",
            "setresuid data=1000",
            "umask flags=0x12",
            "security: capabilities",
            "getcwd /home/user",
            "stat /usr/bin/sh",
            "stat /bin/sh",
            "access /bin/sh flags=0x1",
            "security: before ready",
        ])
        #expect(launcher.executable == "/bin/sh")
        #expect(launcher.environment.contains("HOME=/home/user"))
    }

    /// A user namespace whose setgroups is "deny" (rootless): no setgroups, which would fail.
    @Test func setgroupsIsSkippedWhereDenied() throws {
        let kernel = Self.processKernel()
        kernel.files["/proc/self/setgroups"] = "deny\n"
        var launcher = try Self.launcher(Self.process(), kernel)
        try launcher.prepare()
        #expect(kernel.calls(["setgroups", "setresgid", "setresuid"]).map(\.operation) == ["setresgid", "setresuid"])
    }

    /// A cwd root may not enter is entered again as the user, after the switch.
    @Test func aCwdRefusedToRootIsEnteredAsTheUser() throws {
        let kernel = Self.processKernel()
        kernel.fail("chdir", at: "/home/user", errno: EACCES)
        var launcher = try Self.launcher(Self.process(), kernel)
        try launcher.prepare()
        let steps = kernel.calls(["chdir", "setresuid"]).map(\.operation)
        #expect(steps == ["chdir", "setresuid", "chdir"])
    }

    /// process.terminal: the pty on stdio goes to the process's uid, keeping its group, while
    /// init may still chown.
    @Test func theTerminalGoesToTheUserBeforeTheSwitch() throws {
        let kernel = Self.processKernel()
        kernel.standardInput = .characterDevice(136, 0, uid: 0, gid: 5)
        var process = Self.process()
        process.terminal = true
        var launcher = try Self.launcher(process, kernel)
        try launcher.prepare()
        let chown = try #require(kernel.index("fchown", "fd 0"))
        #expect(kernel.calls[chown].data == "1000:5")
        #expect(chown < kernel.calls.firstIndex { $0.operation == "setgroups" }!)
    }

    @Test func aRefusedUidSwitchSurfacesAsAValue() throws {
        let kernel = Self.processKernel()
        kernel.fail("setresuid", errno: EPERM)
        var launcher = try Self.launcher(Self.process(), kernel)
        let error = #expect(throws: LinuxError.self) { try launcher.prepare() }
        #expect(error == LinuxError("setresuid 1000", errno: EPERM))
        #expect(error?.description == "setresuid 1000: operation not permitted")
        // Nothing after the failed switch ran: no capabilities for a process that is still root.
        #expect(kernel.calls.last?.operation == "setresuid")
    }

    @Test func anExecutableMissingFromPathSaysSo() throws {
        let kernel = Self.processKernel()
        kernel.missing = ["/usr/bin/nope", "/bin/nope"]
        var launcher = try Self.launcher(Self.process(args: ["nope"]), kernel)
        let error = #expect(throws: SkiffError.self) { try launcher.prepare() }
        #expect(error?.message == #"exec: "nope": executable file not found in $PATH"#)
        #expect(error?.kind == .notFound)
    }
}
