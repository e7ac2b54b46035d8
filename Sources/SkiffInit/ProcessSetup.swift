#if canImport(Glibc)
import Glibc
#endif
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// The last steps before execve, all inside the container: limits, identity, environment,
/// working directory and the executable's path. Kernel calls go through `kernel` (InitKernel),
/// so tests can record them.
struct ProcessSetup<Kernel: InitKernel> {
    let process: Process
    let setgroupsAllowed: Bool
    let kernel: Kernel
}

/// process.rlimits[].type → RLIMIT_* (a generic type cannot hold a static stored property).
private let processRlimitNames: [String: Int32] = [
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
]

extension ProcessSetup {
    func applyRlimits() throws {
        for limit in process.rlimits ?? [] {
            guard let resource = processRlimitNames[limit.type] else {
                throw SkiffError(.invalidArgument, "process.rlimits: unknown type \"\(limit.type)\"")
            }
            try kernel.setResourceLimit(resource, name: limit.type, soft: limit.soft, hard: limit.hard)
        }
    }

    /// Switches to the process's uid, gid and groups. Groups first, while still privileged.
    func switchUser() throws {
        let user = process.user
        if process.terminal == true { try giveTerminalToUser(user) }
        // Checked here too, after UserLookup may have read an id from the container's own
        // /etc/passwd: setresuid(-1) would silently keep uid 0.
        for id in [user.uid, user.gid] + (user.additionalGids ?? []) where id > User.maximumID {
            throw SkiffError(.invalidArgument, "process.user: \(id) is out of range: uids and gids must be in range 0-\(User.maximumID)")
        }
        if setgroupsAllowed {
            let groups = (user.additionalGids ?? []).map { gid_t($0) }
            try kernel.setGroups(groups)
        }
        try kernel.setGID(user.gid)
        try kernel.setUID(user.uid)
        _ = kernel.setUmask(mode_t(user.umask ?? 0o022))
    }

    /// The pty on stdio (init made it, it is the process's own) belongs to the process's uid,
    /// keeping its group (tty), as runc's fixStdioPermissions leaves it: a shell as uid 1000
    /// may then chmod it or hand it to `su`. An id the user namespace does not map (EINVAL) or
    /// a read-only /dev (EROFS) leaves it as it was, as runc does.
    private func giveTerminalToUser(_ user: User) throws {
        guard let st = try? kernel.status(ofRaw: 0), (st.st_mode & S_IFMT) == S_IFCHR, st.st_uid != user.uid else { return }
        let chowned = Result { () throws(LinuxError) in
            try kernel.chown(fd: 0, uid: user.uid, gid: st.st_gid, display: "/dev/pts (the process's terminal)")
        }
        if case .failure(let error) = chowned, ![EINVAL, EPERM, EROFS].contains(error.code) { throw error }
    }

    /// The environment for execve: process.env, with HOME added from the container's
    /// /etc/passwd when missing, as runc does.
    func environment() -> [String] {
        var env = process.env ?? []
        if !env.contains(where: { $0.hasPrefix("HOME=") }) {
            env.append("HOME=" + homeDirectory(uid: process.user.uid))
        }
        return env
    }

    private func homeDirectory(uid: UInt32) -> String {
        guard let passwd = try? kernel.readFile("/etc/passwd") else { return "/" }
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count >= 6, UInt32(fields[2]) == uid { return String(fields[5]) }
        }
        return "/"
    }

    /// chdir to process.cwd while init is still root, as runc does first: the process's user
    /// may be unable to reach a directory it may use once inside (`exec --user 1000 --cwd
    /// /root`). Returns false when this failed for lack of permission; `enterWorkingDirectory`
    /// then tries again as the user.
    func enterWorkingDirectoryEarly() throws -> Bool {
        let cwd = process.cwd
        switch Result(catching: { () throws(LinuxError) in try kernel.changeDirectory(cwd) }) {
        case .success: return true
        case .failure(let error) where error.code == EACCES || error.code == EPERM: return false
        case .failure(let error): throw error
        }
    }

    /// chdir to process.cwd (unless done early) and check the result lies inside the
    /// container: a cwd reached through a leaked host fd reads "(unreachable)/…" (runc
    /// CVE-2024-21626).
    func enterWorkingDirectory(enteredEarly: Bool) throws {
        let cwd = process.cwd
        if !enteredEarly { try kernel.changeDirectory(cwd) }
        let actual = try kernel.currentDirectory()
        if !actual.hasPrefix("/") {
            throw SkiffError(.system, "chdir \"\(cwd)\": current working directory is outside of container mount namespace root")
        }
    }

    /// Resolves args[0] as execvp would, on the container's PATH, with runc's error text
    /// (podman matches "executable file not found").
    func resolveExecutable(environment: [String]) throws -> String {
        guard let name = process.args?.first, !name.isEmpty else {
            throw SkiffError(.invalidArgument, "process.args: must not be empty")
        }
        if name.contains("/") {
            try checkExecutable(name, name: name)
            return name
        }
        let path = environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) } ?? ""
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            if let st = try? kernel.status(ofPath: candidate), (st.st_mode & S_IFMT) == S_IFREG,
               kernel.access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw SkiffError(.notFound, "exec: \"\(name)\": executable file not found in $PATH")
    }

    private func checkExecutable(_ path: String, name: String) throws {
        let st: Glibc.stat
        switch Result(catching: { () throws(LinuxError) in try kernel.status(ofPath: path) }) {
        case .success(let found): st = found
        case .failure(let error):
            throw SkiffError(.notFound, "exec: \"\(name)\": stat \(path): \(LinuxError.text(error.code))", cause: error)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw SkiffError(.invalidArgument, "exec: \"\(name)\": is a directory")
        }
        let denied = kernel.access(path, X_OK)
        if denied != 0 {
            throw SkiffError(.invalidArgument, "exec: \"\(name)\": \(LinuxError.text(denied))",
                             cause: LinuxError("access", path: path, errno: denied))
        }
    }
}
