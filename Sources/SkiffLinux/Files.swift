#if canImport(Glibc)
import Glibc
#endif
import CShims

/// Plain file operations on host paths (the state dir, the bundle, /proc). Paths inside a
/// container's rootfs never come here: they go through `RootedPath`.
public enum Files {
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0) throws(LinuxError) -> OwnedFD {
        OwnedFD(try sysCall("open", path: path) { Glibc.open(path, flags | O_CLOEXEC, mode) })
    }

    public static func openAt(_ dir: OwnedFD, _ path: String, flags: Int32, mode: mode_t = 0,
                              display: String? = nil) throws(LinuxError) -> OwnedFD {
        OwnedFD(try sysCall("openat", path: display ?? path) {
            Glibc.openat(dir.raw, path, flags | O_CLOEXEC, mode)
        })
    }

    /// The whole file; a file longer than `limit` is an error (EFBIG), never cut short.
    public static func read(_ path: String, limit: Int = 64 << 20) throws(LinuxError) -> [UInt8] {
        let bytes = try open(path, flags: O_RDONLY).readAll(limit: limit + 1, path: path)
        if bytes.count > limit { throw LinuxError("read", path: path, errno: EFBIG) }
        return bytes
    }

    public static func readString(_ path: String) throws(LinuxError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Writes `data` to a temp file beside `path`, fsyncs nothing (state is tmpfs), and renames
    /// it over `path`, so a reader never sees a half-written file (runc does the same).
    ///
    /// A file that replaces another is exchanged with it (renameat2 RENAME_EXCHANGE), and the
    /// old content unlinked: readers see the whole old or the whole new file as with rename,
    /// but ext4 (auto_da_alloc) starts writeback of a file renamed over another, and the
    /// unlink that ends a container's life then waited for that I/O (state.json on an ext4
    /// root: 0.57 ms an unlink, 0.03 ms after an exchange). With nothing to replace (ENOENT)
    /// or no exchange on the filesystem, a plain rename. A failed unlink of the old content
    /// leaves `<path>.tmp`, which the next write truncates.
    public static func writeAtomically(_ path: String, _ data: [UInt8], mode: mode_t = 0o600) throws(LinuxError) {
        let temp = path + ".tmp"
        let fd = try open(temp, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        try fd.writeAll(data, path: temp)
        fd.close()
        if sysCallErrno({ skiff_rename_exchange(temp, path) }).errno == 0 {
            _ = Glibc.unlink(temp)
            return
        }
        _ = try sysCall("rename", path: path) { Glibc.rename(temp, path) }
    }

    public static func write(_ path: String, _ string: String, flags: Int32 = O_WRONLY | O_TRUNC) throws(LinuxError) {
        let fd = try open(path, flags: flags)
        try fd.writeAll(string, path: path)
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Whether this process may `mode` (R_OK, W_OK, X_OK) `path`, by its real ids. The
    /// corresponding C function is `access`.
    public static func isAccessible(_ path: String, _ mode: Int32) -> Bool {
        access(path, mode) == 0
    }

    /// access(2): throws the reason this process may not `mode` (R_OK, W_OK, X_OK) `path`.
    public static func checkAccess(_ path: String, _ mode: Int32) throws(LinuxError) {
        _ = try sysCall("access", path: path) { access(path, mode) }
    }

    /// fstat(2) of an fd this process does not own (stdio), named "fd N" in the error.
    public static func status(ofDescriptor fd: Int32) throws(LinuxError) -> stat {
        var st = stat()
        _ = try sysCall("fstat", path: "fd \(fd)") { fstat(fd, &st) }
        return st
    }

    /// Whether `name` exists in `dir`, not following a symlink there. The corresponding C
    /// function is `fstatat` with AT_SYMLINK_NOFOLLOW.
    public static func exists(_ name: String, in dir: OwnedFD) -> Bool {
        var st = stat()
        return fstatat(dir.raw, name, &st, Int32(AT_SYMLINK_NOFOLLOW)) == 0
    }

    /// stat(2) of `path`, following symlinks.
    public static func status(_ path: String) throws(LinuxError) -> stat {
        var st = stat()
        _ = try sysCall("stat", path: path) { stat(path, &st) }
        return st
    }

    public static func mkdir(_ path: String, mode: mode_t = 0o755) throws(LinuxError) {
        _ = try sysCall("mkdir", path: path) { Glibc.mkdir(path, mode) }
    }

    /// mkdir -p for host paths (state root, cgroup directories). Tries the leaf first: the
    /// parents usually exist, and each component costs a syscall. Returns the directories it
    /// created, parents first.
    @discardableResult
    public static func mkdirAll(_ path: String, mode: mode_t = 0o755) throws(LinuxError) -> [String] {
        let (_, err) = sysCallErrno { Glibc.mkdir(path, mode) }
        if err == 0 { return [path] }
        if err == EEXIST { return [] }
        guard err == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw LinuxError("mkdir", path: path, errno: err)
        }
        let created = try mkdirAll(String(path[..<slash]), mode: mode)
        let (_, again) = sysCallErrno { Glibc.mkdir(path, mode) }
        if again != 0 && again != EEXIST { throw LinuxError("mkdir", path: path, errno: again) }
        return created + (again == 0 ? [path] : [])
    }

    public static func unlink(_ path: String) throws(LinuxError) {
        _ = try sysCall("unlink", path: path) { Glibc.unlink(path) }
    }

    public static func rmdir(_ path: String) throws(LinuxError) {
        _ = try sysCall("rmdir", path: path) { Glibc.rmdir(path) }
    }

    /// rm -rf of a directory that skiff itself created (the state dir); does not follow symlinks.
    public static func removeTree(_ path: String) throws(LinuxError) {
        let (_, err) = sysCallErrno { Glibc.rmdir(path) }
        if err == 0 || err == ENOENT { return }
        if err != ENOTEMPTY && err != EEXIST { throw LinuxError("rmdir", path: path, errno: err) }
        for (name, isDirectory) in try listEntries(path) {
            let child = path + "/" + name
            if isDirectory {
                try removeTree(child)
            } else {
                let (_, e) = sysCallErrno { Glibc.unlink(child) }
                if e != 0 && e != ENOENT { throw LinuxError("unlink", path: child, errno: e) }
            }
        }
        _ = try sysCall("rmdir", path: path) { Glibc.rmdir(path) }
    }

    public static func listDirectory(_ path: String) throws(LinuxError) -> [String] {
        try listEntries(path).map(\.name)
    }

    /// The names in a directory and whether each is a directory (not following symlinks),
    /// from readdir's d_type, so callers looking for subdirectories need no stat per entry;
    /// lstat only where the filesystem does not fill d_type in.
    public static func listEntries(_ path: String) throws(LinuxError) -> [(name: String, isDirectory: Bool)] {
        guard let dir = opendir(path) else { throw LinuxError("opendir", path: path, errno: currentErrno()) }
        defer { closedir(dir) }
        var entries: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                var st = Glibc.stat()
                isDirectory = lstat(path + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            }
            entries.append((name, isDirectory))
        }
        return entries
    }

    public static func realpath(_ path: String) throws(LinuxError) -> String {
        guard let resolved = Glibc.realpath(path, nil) else {
            throw LinuxError("realpath", path: path, errno: currentErrno())
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public static func currentDirectory() throws(LinuxError) -> String {
        guard let cwd = getcwd(nil, 0) else { throw LinuxError("getcwd", errno: currentErrno()) }
        defer { free(cwd) }
        return String(cString: cwd)
    }

    /// The filesystem's magic number (statfs f_type): whether `path` is, say, a resctrl mount.
    public static func filesystemType(_ path: String) throws(LinuxError) -> UInt {
        var fs = statfs()
        _ = try sysCall("statfs", path: path) { statfs(path, &fs) }
        return UInt(bitPattern: fs.f_type)
    }

    /// openat2(2) of `path` under `dir` with `resolve` (RESOLVE_* flags); `display` names it
    /// in errors.
    public static func openAt2(_ dir: OwnedFD, _ path: String, flags: Int32, mode: mode_t = 0, resolve: UInt64,
                               display: String) throws(LinuxError) -> OwnedFD {
        let openFlags = UInt64(UInt32(bitPattern: flags | O_CLOEXEC))
        return OwnedFD(try sysCall("openat2", path: display) {
            Int32(truncatingIfNeeded: skiff_openat2(dir.raw, path, openFlags, UInt64(mode), resolve))
        })
    }

    /// mkfifo(3), then chmod to `mode` whatever the umask.
    public static func makeFifo(_ path: String, mode: mode_t) throws(LinuxError) {
        _ = try sysCall("mkfifo", path: path) { mkfifo(path, mode) }
        try chmod(path, mode: mode)
    }

    public static func chmod(_ path: String, mode: mode_t) throws(LinuxError) {
        _ = try sysCall("chmod", path: path) { Glibc.chmod(path, mode) }
    }

    /// fchown(2) of an fd the caller does not own (stdio).
    public static func chown(fd: Int32, uid: uid_t, gid: gid_t, display: String) throws(LinuxError) {
        _ = try sysCall("fchown", path: display) { fchown(fd, uid, gid) }
    }

    /// mkdirat(2) of one name in `dir`.
    public static func mkdirAt(_ dir: OwnedFD, _ name: String, mode: mode_t, display: String) throws(LinuxError) {
        _ = try sysCall("mkdir", path: display) { mkdirat(dir.raw, name, mode) }
    }

    /// symlinkat(2): `name` in `dir` pointing at `target`.
    public static func symlinkAt(_ target: String, _ dir: OwnedFD, _ name: String, display: String) throws(LinuxError) {
        _ = try sysCall("symlink", path: display) { symlinkat(target, dir.raw, name) }
    }

    /// mknodat(2) of one name in `dir`.
    public static func mknodAt(_ dir: OwnedFD, _ name: String, mode: mode_t, device: dev_t,
                               display: String) throws(LinuxError) {
        _ = try sysCall("mknod", path: display) { mknodat(dir.raw, name, mode, device) }
    }

    /// fchownat(2) of one name in `dir`, not following a symlink there.
    public static func chownAt(_ dir: OwnedFD, _ name: String, uid: uid_t, gid: gid_t, display: String) throws(LinuxError) {
        _ = try sysCall("fchownat", path: display) { fchownat(dir.raw, name, uid, gid, Int32(AT_SYMLINK_NOFOLLOW)) }
    }

    /// unlinkat(2) of a non-directory; best effort, for replacing whatever is there.
    public static func tryUnlinkAt(_ dir: OwnedFD, _ name: String) {
        _ = unlinkat(dir.raw, name, 0)
    }

    /// makedev(3): a device number from its major and minor.
    public static func deviceNumber(major: UInt32, minor: UInt32) -> dev_t {
        dev_t(skiff_makedev(major, minor))
    }

    /// Copies all of `source` from its offset to the end into `destination` with sendfile.
    public static func copy(from source: OwnedFD, to destination: OwnedFD, operation: String) throws(LinuxError) {
        while true {
            let copied = try sysCall(operation) { sendfile(destination.raw, source.raw, nil, 1 << 30) }
            if copied == 0 { break }
        }
    }
}
