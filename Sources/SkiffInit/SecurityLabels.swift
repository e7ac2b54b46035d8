#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux

extension LSMLabels {
    /// Init side: the exec-time attributes, before the filter that may forbid open and write.
    func apply(_ writer: some ProcAttrWriter) throws(SkiffError) {
        if let profile = apparmorProfile {
            // Linux 5.8+ has a directory per LSM; the flat file is AppArmor's before that.
            let attr = writer.exists("apparmor/exec") ? "apparmor/exec" : "exec"
            try writer.write(attr, "exec " + profile)
        }
        if selinuxEnabled, let label = selinuxLabel {
            try writer.write("exec", label)
        }
    }
}

/// Writes `/proc/thread-self/attr/<name>`: a seam so tests can record the writes.
protocol ProcAttrWriter {
    func exists(_ attr: String) -> Bool
    func write(_ attr: String, _ value: String) throws(SkiffError)
}

/// The real writer: every write goes through a procfs that cannot be faked or redirected.
///
/// `/proc` itself is checked to be the root of a procfs (fstatfs PROC_SUPER_MAGIC, inode 1),
/// the attr file is opened beneath it with openat2 RESOLVE_NO_XDEV, so a bind mount over
/// `attr/exec` (of /proc/sys/kernel/core_pattern, say) or over any directory on the way
/// fails instead of redirecting the write (runc CVE-2019-16884, CVE-2019-19921,
/// CVE-2023-27561, CVE-2025-52881), and the file is checked to be procfs again.
struct ProcfsAttrWriter: ProcAttrWriter {
    /// The procfs mount to use; tests point it at a directory that is not one.
    var root = "/proc"

    func exists(_ attr: String) -> Bool {
        (try? open(attr, flags: SKIFF_O_PATH)) != nil
    }

    func write(_ attr: String, _ value: String) throws(SkiffError) {
        let fd = try open(attr, flags: O_WRONLY)
        do {
            try fd.writeAll(value, path: display(attr))
        } catch {
            throw SkiffError(.system, error)
        }
    }

    private func display(_ attr: String) -> String { root + "/thread-self/attr/" + attr }

    func open(_ attr: String, flags: Int32) throws(SkiffError) -> OwnedFD {
        func fail(_ error: LinuxError) -> SkiffError { SkiffError(.system, error) }
        let proc: OwnedFD
        do {
            proc = try Files.open(root, flags: SKIFF_O_PATH | O_DIRECTORY | O_NOFOLLOW)
        } catch {
            throw fail(error)
        }
        try Self.verify(proc, path: root, root: true)
        let path = "thread-self/attr/" + attr
        let resolve = UInt64(RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH)
        let file: OwnedFD
        do {
            file = try Files.openAt2(proc, path, flags: flags | O_NOFOLLOW, resolve: resolve, display: display(attr))
        } catch {
            throw fail(error)
        }
        try Self.verify(file, path: display(attr), root: false)
        return file
    }

    static func verify(_ fd: OwnedFD, path: String, root: Bool) throws(SkiffError) {
        let type: UInt
        do {
            type = try fd.filesystemType(display: path)
        } catch {
            throw SkiffError(.system, error)
        }
        var isRoot = true
        if root {
            isRoot = (try? fd.stat())?.st_ino == 1  // PROC_ROOT_INO
        }
        if type != UInt(PROC_SUPER_MAGIC) || !isRoot {
            throw SkiffError(.system, LinuxError("verify procfs", path: path, errno: EXDEV))
        }
    }
}

/// linux.mountLabel as runc applies it (go-selinux FormatMountLabel): `context="<label>"`
/// added to the data of the filesystems the container mounts itself (tmpfs, devpts…; not
/// proc, sysfs, mqueue or cgroup, whose labels the kernel policy sets), when SELinux is on.
enum MountLabel {
    static let unlabeledTypes: Set<String> = ["proc", "sysfs", "mqueue", "cgroup", "cgroup2", "bind"]

    static func format(data: String?, type: String, label: String?, selinuxEnabled: Bool) -> String? {
        guard selinuxEnabled, let label, !label.isEmpty, !unlabeledTypes.contains(type) else { return data }
        let context = "context=\"\(label)\""
        guard let data, !data.isEmpty else { return context }
        return data + "," + context
    }
}
