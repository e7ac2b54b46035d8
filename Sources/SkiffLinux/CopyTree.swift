#if canImport(Glibc)
import Glibc
#endif
import CShims

extension Files {
    /// Copies the contents of the directory `source` into the directory `target`, keeping each
    /// entry's type, mode, owner and symlink text (the `tmpcopyup` mount option: what the image
    /// had under a tmpfs destination shows through in the new tmpfs, as in runc). Everything is
    /// reached through fds with O_NOFOLLOW, so a symlink in the image is copied, never followed.
    /// `display` names the destination in errors.
    public static func copyTree(from source: OwnedFD, to target: OwnedFD, display: String) throws(LinuxError) {
        let listing = try source.duplicate()
        guard let dir = fdopendir(listing.release()) else {
            throw LinuxError("fdopendir", path: display, errno: currentErrno())
        }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let path = display + "/" + name
            var st = stat()
            _ = try sysCall("fstatat", path: path) { fstatat(source.raw, name, &st, AT_SYMLINK_NOFOLLOW) }
            let mode = st.st_mode & 0o7777
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                _ = try sysCall("mkdirat", path: path) { mkdirat(target.raw, name, 0o700) }
                let from = try openAt(source, name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, display: path)
                let to = try openAt(target, name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, display: path)
                try copyTree(from: from, to: to, display: path)
                _ = try sysCall("fchown", path: path) { fchown(to.raw, st.st_uid, st.st_gid) }
                _ = try sysCall("fchmod", path: path) { fchmod(to.raw, mode) }
            case S_IFREG:
                let from = try openAt(source, name, flags: O_RDONLY | O_NOFOLLOW, display: path)
                let to = try openAt(target, name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: path)
                var buffer = [UInt8](repeating: 0, count: 64 << 10)
                while true {
                    let (count, failure) = buffer.withUnsafeMutableBytes { bytes in
                        sysCallErrno { Glibc.read(from.raw, bytes.baseAddress, bytes.count) }
                    }
                    if failure != 0 { throw LinuxError("read", path: path, errno: failure) }
                    if count == 0 { break }
                    try to.writeAll(Array(buffer[0..<count]), path: path)
                }
                _ = try sysCall("fchown", path: path) { fchown(to.raw, st.st_uid, st.st_gid) }
                _ = try sysCall("fchmod", path: path) { fchmod(to.raw, mode) }
            case S_IFLNK:
                var text = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let length = try sysCall("readlinkat", path: path) { readlinkat(source.raw, name, &text, Int(PATH_MAX)) }
                text[length] = 0
                _ = try sysCall("symlinkat", path: path) { symlinkat(text, target.raw, name) }
                _ = try sysCall("fchownat", path: path) { fchownat(target.raw, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) }
            default:
                // Device nodes, fifos and sockets: the node itself, as cp -a makes it.
                _ = try sysCall("mknodat", path: path) { mknodat(target.raw, name, st.st_mode, st.st_rdev) }
                _ = try sysCall("fchownat", path: path) { fchownat(target.raw, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) }
                _ = try sysCall("fchmodat", path: path) { fchmodat(target.raw, name, mode, 0) }
            }
        }
    }
}
