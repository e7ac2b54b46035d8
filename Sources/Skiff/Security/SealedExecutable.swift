#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux

/// The runtime binary as init runs it, in a form the container cannot write (runc
/// CVE-2019-5736: a container process opened `/proc/<init>/exe`, waited for the runtime to
/// exit and overwrote the host's runc).
///
/// Preferred: a detached read-only overlayfs whose only layer with content is the binary's
/// directory (runc's exeseal). It costs one superblock (about 0.05 ms here), no copy and no
/// memory charged to anyone; unlike a read-only bind mount it cannot be "unwrapped" by a
/// process with CAP_SYS_ADMIN remounting or cloning the mount, since an overlayfs without an
/// upper layer is read-only in its superblock. `/proc/<init>/exe` then names the overlay's
/// file, and opening it for writing fails with EROFS.
///
/// Without the privilege to mount (rootless), a sealed memfd copy, unless the binary is one
/// the runtime's user cannot write anyway (the usual /usr/bin install): then no container
/// process, whose host ids are at most ours and our subordinate ids, can write it either.
final class SealedExecutable {
    enum Method: String, Sendable {
        case overlay
        case memfd
        /// The binary itself: not writable by us, so not by the container.
        case unwritable
    }

    let fd: OwnedFD
    let method: Method

    private init(fd: OwnedFD, method: Method) {
        self.fd = fd
        self.method = method
    }

    /// What to pass to execve: resolved by the spawned child through our fd table, so the fd
    /// itself never reaches it.
    var path: String { "/proc/\(getpid())/fd/\(fd.raw)" }

    /// `dummyLayer` is an existing directory that neither contains nor lies inside the
    /// binary's directory (the state root): overlayfs needs two lower layers to mount without
    /// an upper one.
    static func make(dummyLayer: String, privileged: Bool = geteuid() == 0) throws(SkiffError) -> SealedExecutable {
        let binary: String
        do {
            binary = try Files.realpath("/proc/self/exe")
        } catch {
            throw SkiffError(.system, "find the runtime binary", error)
        }
        if privileged, let fd = try? overlay(binary: binary, dummyLayer: dummyLayer) {
            return SealedExecutable(fd: fd, method: .overlay)
        }
        if !privileged, !writableByUs(binary) {
            let fd: OwnedFD
            do {
                fd = try Files.open(binary, flags: SKIFF_O_PATH)
            } catch {
                throw SkiffError(.system, error)
            }
            return SealedExecutable(fd: fd, method: .unwritable)
        }
        return SealedExecutable(fd: try memfdCopy(), method: .memfd)
    }

    /// fsopen("overlay") with lowerdir=<binary's dir>:<dummy>, mounted read-only, nodev,
    /// nosuid and detached (it disappears with its last fd), and the binary opened O_PATH in it.
    static func overlay(binary: String, dummyLayer: String) throws(SkiffError) -> OwnedFD {
        func fail(_ operation: String, _ err: Int32) -> SkiffError {
            SkiffError(.system, LinuxError(operation, path: binary, errno: err))
        }
        guard let slash = binary.lastIndex(of: "/") else { throw fail("split binary path", EINVAL) }
        let directory = slash == binary.startIndex ? "/" : String(binary[..<slash])
        let name = String(binary[binary.index(after: slash)...])
        // The binary's layer on top, so a file of the same name in the dummy never shows.
        let lower = escape(directory) + ":" + escape(nonOverlapping(dummyLayer, with: directory))
        let mount: OwnedFD
        do {
            mount = try Mounts.detachedReadOnlyOverlay(lowerdir: lower, display: binary)
        } catch {
            throw SkiffError(.system, error)
        }
        do {
            return try Files.openAt(mount, name, flags: SKIFF_O_PATH | O_NOFOLLOW, display: binary)
        } catch {
            throw fail("open in overlay", error.code)
        }
    }

    /// A dummy layer overlayfs accepts beside `directory`: layers must not contain one another
    /// (ELOOP, "overlapping layers"), which the state root does when it lies below the
    /// binary's directory (a binary in /tmp, a root under /tmp). Then /dev or /run, whose
    /// contents never show: only the binary's name is opened, and its layer is on top. Without
    /// this, create and exec fell back to copying the 33 MB binary into a memfd: +24 ms each.
    /// A string comparison only, no syscall on the create path: `directory` is already a
    /// realpath, and a state root that overlaps only through a symlink still gets the memfd.
    static func nonOverlapping(_ dummy: String, with directory: String) -> String {
        func overlaps(_ a: String, _ b: String) -> Bool {
            a == b || a == "/" || b == "/" || a.hasPrefix(b + "/") || b.hasPrefix(a + "/")
        }
        return ([dummy, "/dev", "/run"].first { !overlaps($0, directory) }) ?? dummy
    }

    /// overlayfs separates layers with ':' and escapes with '\'.
    static func escape(_ path: String) -> String {
        var escaped = ""
        for character in path {
            if character == "\\" || character == ":" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// Whether the runtime's user could write the binary (and so might a container process
    /// running as that user).
    static func writableByUs(_ path: String) -> Bool {
        guard let st = try? Files.status(path) else { return true }
        return st.st_uid == geteuid() || st.st_mode & 0o022 != 0 || Files.isAccessible(path, W_OK)
    }

    /// A copy of the binary in a sealed, executable memfd: costs the binary's size in memory
    /// and a copy per container, so only the fallback.
    static func memfdCopy() throws(SkiffError) -> OwnedFD {
        let source: OwnedFD
        do {
            source = try Files.open("/proc/self/exe", flags: O_RDONLY)
        } catch {
            throw SkiffError(.system, error)
        }
        do {
            let memfd = try SealedMemfd.create(name: "skiff-sealed-exe", executable: true)
            try Files.copy(from: source, to: memfd, operation: "copy the runtime binary to a memfd")
            SealedMemfd.trySealExec(memfd)  // Linux 6.3: no chmod either
            try SealedMemfd.seal(memfd, name: "skiff-sealed-exe")
            return memfd
        } catch {
            throw SkiffError(.system, error)
        }
    }
}
