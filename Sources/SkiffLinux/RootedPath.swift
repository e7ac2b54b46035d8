#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Paths inside a container's rootfs, resolved by the kernel relative to an fd of the root with
/// openat2 RESOLVE_IN_ROOT: `..` and absolute symlinks stay inside, so a hostile image cannot
/// point a mount or a mkdir at the host (runc CVE-2021-30465, CVE-2024-45310, crun
/// CVE-2019-18837). Strings are never joined to reach a path inside the rootfs.
public struct RootedPath: Sendable {
    public let root: OwnedFD
    /// How the root is shown in errors (the rootfs path on the host).
    public let rootDisplay: String

    public init(root: OwnedFD, display: String) {
        self.root = root
        self.rootDisplay = display
    }

    public static func open(_ rootfs: String) throws(LinuxError) -> RootedPath {
        RootedPath(root: try Files.open(rootfs, flags: SKIFF_O_PATH | O_DIRECTORY), display: rootfs)
    }

    private func display(_ path: String) -> String {
        path.hasPrefix("/") ? path : "/" + path
    }

    /// Opens `path` inside the root. Symlinks are followed within the root; with `noFollow` the
    /// last component must not be one.
    public func open(_ path: String, flags: Int32, mode: mode_t = 0, noFollow: Bool = false) throws(LinuxError) -> OwnedFD {
        let resolve = UInt64(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
        let openFlags = flags | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0)
        let fd = try sysCall("openat2", path: display(path)) {
            Int32(truncatingIfNeeded: skiff_openat2(root.raw, path, UInt64(UInt32(bitPattern: openFlags)), UInt64(mode), resolve))
        }
        return OwnedFD(fd)
    }

    /// Creates every missing directory of `path` inside the root, one component at a time with
    /// mkdirat on a directory fd, never following a symlink out of the root, and returns an
    /// SKIFF_O_PATH fd of the final directory.
    public func mkdirAll(_ path: String, mode: mode_t = 0o755) throws(LinuxError) -> OwnedFD {
        let components = path.split(separator: "/")
        // Most destinations exist in the image (/proc, /dev, /sys/fs/cgroup) or lack only their
        // last component (/dev/pts on a fresh /dev, /sys/fs/cgroup/cpu on its tmpfs): open the
        // path, else its parent, with the same RESOLVE_IN_ROOT resolution the walk below does
        // per component. An init's rootfs made ~60 mkdirats of which 46 failed with EEXIST, each
        // followed by an openat2 of the path so far. Anything else takes the walk.
        if let last = components.last, last != ".", last != ".." {
            if let existing = try? open(path, flags: SKIFF_O_PATH | O_DIRECTORY) { return existing }
            if components.count > 1,
               let parent = try? open(String(path[..<last.startIndex]), flags: SKIFF_O_PATH | O_DIRECTORY) {
                return try makeDirectory(String(last), in: parent, reopening: path, mode: mode)
            }
        }
        var current = try root.duplicate()
        var walked = ""
        for component in components where component != "." {
            let name = String(component)
            walked += "/" + name
            if name == ".." {
                // Resolve ".." in the root's terms: re-open from the root.
                current = try open(walked, flags: SKIFF_O_PATH | O_DIRECTORY)
                continue
            }
            current = try makeDirectory(name, in: current, reopening: walked, mode: mode)
        }
        return current
    }

    /// mkdirat of one name in `parent`, then `path` (the same directory, named from the root)
    /// opened through the root: a symlink placed by the image, or swapped in by a racing
    /// process, resolves inside the root, never on the host.
    private func makeDirectory(_ name: String, in parent: OwnedFD, reopening path: String, mode: mode_t) throws(LinuxError) -> OwnedFD {
        let (_, err) = sysCallErrno { mkdirat(parent.raw, name, mode) }
        if err != 0 && err != EEXIST { throw LinuxError("mkdirat", path: display(path), errno: err) }
        return try open(path, flags: SKIFF_O_PATH | O_DIRECTORY)
    }

    /// Makes sure `path` exists inside the root as a file (for bind mounts of files and device
    /// nodes) and returns an SKIFF_O_PATH fd of it. Parents are created as directories.
    public func createFile(_ path: String, mode: mode_t = 0o644) throws(LinuxError) -> OwnedFD {
        let (parentPath, name) = split(path)
        let parent = try mkdirAll(parentPath)
        let (fd, err) = sysCallErrno { openat(parent.raw, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode) }
        if err == 0 { _ = Glibc.close(fd) } else if err != EEXIST && err != EISDIR && err != ELOOP && err != ENXIO && err != EACCES && err != ETXTBSY {
            throw LinuxError("create", path: display(path), errno: err)
        }
        return try open(path, flags: SKIFF_O_PATH)
    }

    /// The parent directory and last component of a path inside the root.
    public func split(_ path: String) -> (parent: String, name: String) {
        var parts = path.split(separator: "/")
        let name = parts.popLast().map(String.init) ?? "."
        // Appended part by part: `[String].joined(separator:)` is generic over the collection,
        // and the runtime resolved its types by mangled name the first time, a scan of every
        // conformance record (~190 K instructions in each init that makes a device).
        var parent = ""
        for part in parts {
            parent.append("/")
            parent.append(contentsOf: part)
        }
        return (parent.isEmpty ? "/" : parent, name)
    }
}
