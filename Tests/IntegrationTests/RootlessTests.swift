import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Rootless containers (issue 6), driven as an unprivileged user drives them. The test runs as
// root only to prepare the world that user lives in, as CI on a fresh machine must: a system
// user with a subordinate id range in /etc/subuid and /etc/subgid, a binary and rootfs it can
// reach, a sandbox it owns. Every skiff command then runs as that user through
// `setpriv --reuid --regid --clear-groups`, which leaves it no capability at all.

/// The unprivileged user of the rootless suites, created when missing.
struct RootlessUser: Sendable {
    let name: String
    let uid: UInt32
    let gid: UInt32
    /// The first subordinate uid and gid and how many there are (0 when the user has none).
    let subuidStart: UInt32, subuidCount: UInt32
    let subgidStart: UInt32, subgidCount: UInt32

    /// Has a 65536-id range in /etc/subuid and /etc/subgid.
    static let main = Result { try RootlessUser.ensure("skiff-rootless", subordinateIDs: true) }
    /// Has no entry in /etc/subuid or /etc/subgid.
    static let withoutSubordinateIDs = Result { try RootlessUser.ensure("skiff-rootless-nosub", subordinateIDs: false) }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    static func ensure(_ name: String, subordinateIDs: Bool) throws -> RootlessUser {
        if getpwnam(name) == nil {
            // A system user gets no subordinate ids of its own from useradd, so both users
            // start the same way and only the ranges given below differ.
            let added = host("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                             "--shell", "/usr/sbin/nologin", name)
            // Another test process may have added it meanwhile.
            guard added.succeeded || getpwnam(name) != nil else { throw SetupError(description: "useradd \(name): \(added)") }
        }
        guard let entry = getpwnam(name) else { throw SetupError(description: "getpwnam \(name): no such user") }
        let uid = entry.pointee.pw_uid, gid = entry.pointee.pw_gid
        for file in ["/etc/subuid", "/etc/subgid"] where !FileManager.default.fileExists(atPath: file) {
            _ = FileManager.default.createFile(atPath: file, contents: nil, attributes: [.posixPermissions: 0o644])
        }
        if subordinateIDs, range(of: name, uid: uid, in: "/etc/subuid") == nil || range(of: name, uid: uid, in: "/etc/subgid") == nil {
            // After every range already given out, so no two users share an id.
            let start = max(freeStart("/etc/subuid"), freeStart("/etc/subgid"))
            let ids = "\(start)-\(start + 65535)"
            let modified = host("usermod", "--add-subuids", ids, "--add-subgids", ids, name)
            guard modified.succeeded else { throw SetupError(description: "usermod --add-subuids \(ids) \(name): \(modified)") }
        }
        let subuid = range(of: name, uid: uid, in: "/etc/subuid") ?? (0, 0)
        let subgid = range(of: name, uid: uid, in: "/etc/subgid") ?? (0, 0)
        if !subordinateIDs, subuid.count != 0 || subgid.count != 0 {
            throw SetupError(description: "\(name) should have no entry in /etc/subuid or /etc/subgid")
        }
        return RootlessUser(name: name, uid: uid, gid: gid, subuidStart: subuid.start, subuidCount: subuid.count,
                            subgidStart: subgid.start, subgidCount: subgid.count)
    }

    /// The user's first range in a subordinate id file (lines `name-or-uid:start:count`).
    static func range(of name: String, uid: UInt32, in file: String) -> (start: UInt32, count: UInt32)? {
        for line in (readFile(file) ?? "").split(separator: "\n") {
            let fields = line.split(separator: ":")
            guard fields.count == 3, fields[0] == name || fields[0] == "\(uid)",
                  let start = UInt32(fields[1]), let count = UInt32(fields[2]), count > 0 else { continue }
            return (start, count)
        }
        return nil
    }

    /// The first id after every range of `file`, at least 100000 (useradd's SUB_UID_MIN).
    static func freeStart(_ file: String) -> UInt32 {
        var end: UInt32 = 100_000
        for line in (readFile(file) ?? "").split(separator: "\n") {
            let fields = line.split(separator: ":")
            if fields.count == 3, let start = UInt32(fields[1]), let count = UInt32(fields[2]) {
                end = max(end, start + count)
            }
        }
        return (end + 65535) / 65536 * 65536
    }

    /// Whether `path` can be read (and, for a file, run) by this user: every directory on the
    /// way must let it through, which a clone under /root does not.
    func canReach(_ path: String) -> Bool {
        execute("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--", "/usr/bin/test", "-r", path]).succeeded
    }

    /// The ids a process of this user or of its containers runs with on the host.
    func owns(uid other: UInt32) -> Bool {
        other == uid || (other >= subuidStart && other < subuidStart + subuidCount)
    }
}

/// The skiff binary and busybox rootfs where the test user can reach them: in place when every
/// directory above them lets it through, else copies in a directory of their own (removed when
/// the test process exits).
enum RootlessPaths {
    struct Resolved: Sendable {
        let binary: String
        let rootfs: String
    }

    static let resolved = Result { () throws -> Resolved in
        let user = try RootlessUser.main.get()
        if user.canReach(Paths.binary) && user.canReach(Paths.rootfs + "/bin/busybox") {
            return Resolved(binary: Paths.binary, rootfs: Paths.rootfs)
        }
        var template = Array((NSTemporaryDirectory() + "skiff-rootless-bin-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) }) else {
            throw RootlessUser.SetupError(description: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        chmod(made, 0o755)
        copiedDirectory = made
        atexit { if let directory = RootlessPaths.copiedDirectory { _ = host("rm", "-rf", "--one-file-system", directory) } }
        for (source, target) in [(Paths.binary, made + "/skiff"), (Paths.rootfs, made + "/rootfs")] {
            let copied = host("cp", "-a", source, target)
            guard copied.succeeded else { throw RootlessUser.SetupError(description: "cp \(source): \(copied)") }
        }
        let resolved = Resolved(binary: made + "/skiff", rootfs: made + "/rootfs")
        guard user.canReach(resolved.binary), user.canReach(resolved.rootfs + "/bin/busybox") else {
            throw RootlessUser.SetupError(description: "\(user.name) cannot reach \(made)")
        }
        return resolved
    }

    nonisolated(unsafe) static var copiedDirectory: String?
}

/// A sandbox owned by the test user: bundles, a state root under its XDG_RUNTIME_DIR, and
/// skiff run as that user. `cleanup()` deletes the containers as the user, then the sandbox.
extension RootlessSandbox: SkiffRunner {
    func skiffCommand(_ arguments: [String]) -> Outcome { skiff(arguments) }
}

final class RootlessSandbox {
    let sandbox: Sandbox
    let user: RootlessUser
    let binary: String
    let rootfs: String
    /// The user's XDG_RUNTIME_DIR: skiff's default state root is `<runtimeDir>/skiff`.
    let runtimeDir: String
    var stateRoot: String { runtimeDir + "/skiff" }
    /// Wraps every command run as the user (the cgroup suite puts it into a cgroup first).
    var launcher: [String] = []
    /// Runs skiff under this, as the user (`unshare --user --map-root-user`: root of its own
    /// user namespace, the way rootless podman runs its runtime).
    var inner: [String] = []
    private var ids: [String] = []

    init(user: RootlessUser? = nil) throws {
        self.user = try user ?? RootlessUser.main.get()
        let paths = try RootlessPaths.resolved.get()
        binary = paths.binary
        rootfs = paths.rootfs
        sandbox = try Sandbox()
        runtimeDir = sandbox.path("xdg")
        try FileManager.default.createDirectory(atPath: runtimeDir, withIntermediateDirectories: true)
        chmod(runtimeDir, 0o700)
        for path in [sandbox.directory, runtimeDir] {
            try #require(chown(path, self.user.uid, self.user.gid) == 0, "chown \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func with<T>(user: RootlessUser? = nil, _ body: (RootlessSandbox) throws -> T) throws -> T {
        let sandbox = try RootlessSandbox(user: user)
        defer { sandbox.cleanup() }
        return try body(sandbox)
    }

    func id(_ name: String) -> String {
        let id = "rl-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
        ids.append(id)
        return id
    }

    func path(_ name: String) -> String { sandbox.path(name) }

    /// A directory of the sandbox that the user owns (for bind mounts it writes through).
    func userDirectory(_ name: String, mode: mode_t = 0o755) throws -> String {
        let path = sandbox.path(name)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, mode)
        try #require(chown(path, user.uid, user.gid) == 0, "chown \(path): \(String(cString: strerror(errno)))")
        return path
    }

    /// What `skiff spec --rootless` writes for this user, running `args` on the reachable rootfs
    /// without a terminal.
    func spec(args: [String]) -> Spec {
        var spec = Spec.rootlessDefault(uid: user.uid, gid: user.gid)
        spec.root = Root(path: rootfs, readonly: true)
        spec.process?.terminal = false
        spec.process?.args = args
        return spec
    }

    /// Maps container ids 1…65536 to the user's subordinate range, root to the user.
    func mapSubordinateIDs(_ spec: inout Spec) {
        spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: user.uid, size: 1),
                                   LinuxIDMapping(containerID: 1, hostID: user.subuidStart, size: 65536)]
        spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: user.gid, size: 1),
                                   LinuxIDMapping(containerID: 1, hostID: user.subgidStart, size: 65536)]
    }

    func bundle(_ name: String = "bundle", args: [String], configure: (inout Spec) throws -> Void = { _ in }) throws -> String {
        var spec = spec(args: args)
        try configure(&spec)
        return try sandbox.bundle(name, config: try spec.jsonData())
    }

    /// The environment of the user's shell: a PATH, its runtime dir, a home.
    var environment: [String] {
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "XDG_RUNTIME_DIR=\(runtimeDir)",
         "HOME=\(sandbox.directory)", "LANG=C"]
    }

    /// The command line that runs skiff as the user with `environment` changed by `env`.
    func commandLine(_ arguments: [String], env: [String] = [], unset: [String] = []) -> (String, [String]) {
        let environment = environment.filter { line in !unset.contains { line.hasPrefix($0 + "=") } } + env
        let command = ["/usr/bin/setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", "--",
                       "/usr/bin/env", "-i"] + environment + inner + [binary] + arguments
        let full = launcher + command
        return (full[0], Array(full.dropFirst()))
    }

    /// Runs `skiff arguments…` as the user to completion.
    func skiff(_ arguments: String..., env: [String] = [], unset: [String] = [], timeout: Double = 20) -> Outcome {
        skiff(arguments, env: env, unset: unset, timeout: timeout)
    }

    func skiff(_ arguments: [String], env: [String] = [], unset: [String] = [], timeout: Double = 20) -> Outcome {
        let (executable, rest) = commandLine(arguments, env: env, unset: unset)
        return execute(executable, rest, currentDirectory: sandbox.directory, timeout: timeout)
    }

    /// `run --detach` of `sleep 1000` as the user: the container's id and its process's pid.
    func runningContainer(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (id: String, pid: Int) {
        let id = self.id(name)
        let started = skiff("run", "--detach", "--bundle", try bundle(args: ["sleep", "1000"]), id)
        try #require(started.succeeded, "\(started)", sourceLocation: sourceLocation)
        return (id, try #require(state(id)?["pid"] as? Int, sourceLocation: sourceLocation))
    }

    /// Starts `skiff arguments…` as the user in the background.
    func spawn(_ arguments: [String]) throws -> Spawned {
        let (executable, rest) = commandLine(arguments)
        let name = UUID().uuidString
        return try Spawned(rest, stdoutPath: path("\(name).out"), stderrPath: path("\(name).err"),
                           executable: executable, currentDirectory: sandbox.directory)
    }

    /// The state root's entries: nothing a failed create may keep.
    var stateEntries: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: stateRoot)) ?? []).sorted()
    }

    /// Live processes running as the user or one of its subordinate ids: none may outlive a
    /// deleted or failed container (the rootless suites run one test at a time).
    var userProcesses: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int(entry), isAlive(pid), let status = readFile("/proc/\(entry)/status"),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") }),
                  let real = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap({ UInt32($0) }),
                  user.owns(uid: real) else { return nil }
            let command = (readFile("/proc/\(entry)/cmdline") ?? "").replacingOccurrences(of: "\0", with: " ")
            return "\(pid) uid \(real): \(command)"
        }
    }

    func cleanup() {
        for id in ids { _ = skiff("delete", "--force", id) }
        sandbox.cleanup()
    }
}

/// A rootless command that must fail: one line on stderr naming `words`, and nothing left:
/// no state, no process, no mount.
func expectRootlessRejected(
    _ outcome: Outcome, mentioning words: [String], in sandbox: RootlessSandbox, id: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectRejected(outcome, mentioning: words, in: sandbox.sandbox, id: id, sourceLocation: sourceLocation)
    #expect(sandbox.stateEntries == [], sourceLocation: sourceLocation)
    #expect(sandbox.userProcesses == [], sourceLocation: sourceLocation)
}

/// Every rootless suite, one test at a time: each checks that no process of the test user
/// is left, which a neighbour's container would spoil.
@Suite(.serialized, .enabled(if: isRoot, "needs root to create the unprivileged test user and hand it a sandbox"))
struct RootlessTests {
    // MARK: identity

    @Test func containerRootIsTheCallingUser() throws {
        try RootlessSandbox.with { rootless in
            let id = rootless.id("owner")
            let data = try rootless.userDirectory("data")
            let bundle = try rootless.bundle(args: sh("id -u; cat /proc/self/uid_map /proc/self/gid_map; touch /run/made-inside")) {
                $0.mounts?.append(Mount(destination: "/run", type: "bind", source: data, options: ["rbind", "rw"]))
            }
            let outcome = rootless.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            let words = outcome.lines.map { $0.split(separator: " ").map(String.init) }
            #expect(words == [["0"], ["0", "\(rootless.user.uid)", "1"], ["0", "\(rootless.user.gid)", "1"]], "\(outcome)")
            // Root inside is the user outside: the file it made belongs to the user.
            let attributes = try FileManager.default.attributesOfItem(atPath: data + "/made-inside")
            #expect((attributes[.ownerAccountID] as? NSNumber)?.uint32Value == rootless.user.uid)
            #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value == rootless.user.gid)
            #expect(rootless.stateEntries == [])
            #expect(rootless.userProcesses == [])
        }
    }

    @Test func severalRangesPutContainerIDsAtTheSubordinateIDs() throws {
        try RootlessSandbox.with { rootless in
            let user = rootless.user
            let id = rootless.id("subids")
            let data = try rootless.userDirectory("data", mode: 0o1777)
            let bundle = try rootless.bundle(args: sh("id -u; id -g; touch /run/by-1000")) {
                rootless.mapSubordinateIDs(&$0)
                $0.process?.user = User(uid: 1000, gid: 1000)
                $0.mounts?.append(Mount(destination: "/run", type: "bind", source: data, options: ["rbind", "rw"]))
            }
            let outcome = rootless.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["1000", "1000"], "\(outcome)")
            // Container id 1 is the range's first id, so 1000 is start + 999.
            let attributes = try FileManager.default.attributesOfItem(atPath: data + "/by-1000")
            #expect((attributes[.ownerAccountID] as? NSNumber)?.uint32Value == user.subuidStart + 1000 - 1)
            #expect((attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value == user.subgidStart + 1000 - 1)
            #expect(rootless.userProcesses == [])
        }
    }

    /// What a user types: `skiff spec --rootless` in a bundle, the rootfs filled in, `run`.
    @Test func generatedRootlessSpecRuns() throws {
        try RootlessSandbox.with { rootless in
            let id = rootless.id("spec")
            let bundle = try rootless.userDirectory("spec-bundle")
            let generated = rootless.skiff("spec", "--rootless", "--bundle", bundle)
            try #require(generated.succeeded, "\(generated)")
            var spec = try Spec.decode(try Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json")))
            spec.root = Root(path: rootless.rootfs, readonly: true)
            spec.process?.terminal = false
            spec.process?.args = sh("cat /proc/self/uid_map; ls /sys/fs | grep -c cgroup")
            try spec.jsonData().write(to: URL(fileURLWithPath: bundle + "/config.json"))
            let outcome = rootless.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines.first?.split(separator: " ") == ["0", "\(rootless.user.uid)", "1"], "\(outcome)")
        }
    }

    // MARK: lifecycle

    @Test func createStartStateListPsExecKillDelete() throws {
        try RootlessSandbox.with { rootless in
            let id = rootless.id("life")
            let bundle = try rootless.bundle(args: sh("sleep 1000 & sleep 1000 & wait")) { rootless.mapSubordinateIDs(&$0) }
            let created = rootless.skiff("create", "--bundle", bundle, id)
            try #require(created.succeeded, "\(created)")
            #expect(rootless.status(id) == "created")
            #expect(rootless.stateEntries == [id], "the default state root is $XDG_RUNTIME_DIR/skiff")

            #expect(rootless.skiff("start", id).succeeded)
            #expect(rootless.waitFor(id, status: "running"))
            let pid = try #require(rootless.state(id)?["pid"] as? Int)

            let list = rootless.skiff("list")
            let row = list.lines.first { $0.hasPrefix(id + " ") }?.split(separator: " ").map(String.init) ?? []
            #expect(row.count == 6 && row[1] == "\(pid)" && row[2] == "running" && row[5] == rootless.user.name, "\(list)")

            let exec = rootless.skiff("exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map | wc -l")
            #expect(exec.succeeded && exec.lines == ["0", "2"], "\(exec)")

            // No cgroup is delegated here: ps finds the processes through the pid namespace.
            var pids: [Int] = []
            poll { () -> Bool in
                let ps = rootless.skiff("ps", "--format", "json", id)
                pids = (try? JSONSerialization.jsonObject(with: Data(ps.stdout.utf8))) as? [Int] ?? []
                return pids.count == 3
            }
            #expect(pids.count == 3 && pids.contains(pid), "\(pids)")
            let table = rootless.skiff("ps", id)
            #expect(table.succeeded && table.lines.count == 4, "\(table)")

            // The container's init (a shell) ignores SIGTERM from outside its pid namespace;
            // kill --all also reaches its children, whose end ends the shell's `wait`.
            #expect(rootless.skiff("kill", id, "TERM").succeeded)
            usleep(200_000)
            #expect(rootless.status(id) == "running" && pids.allSatisfy { isAlive($0) })
            #expect(rootless.skiff("kill", "--all", id, "TERM").succeeded)
            #expect(rootless.waitFor(id, status: "stopped"), "status: \(rootless.status(id) ?? "none")")
            #expect(poll { pids.allSatisfy { !isAlive($0) } }, "processes survived kill --all: \(pids)")
            let deleted = rootless.skiff("delete", id)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(rootless.stateEntries == [])
            #expect(rootless.userProcesses == [])
            #expect(rootless.sandbox.leftovers(id: id) == [])
        }
    }

    @Test func forcedDeleteOfARunningContainer() throws {
        try RootlessSandbox.with { rootless in
            let (id, _) = try rootless.runningContainer("force")
            let refused = rootless.skiff("delete", id)
            #expect(!refused.succeeded && refused.stderr.contains("not stopped"), "\(refused)")
            #expect(rootless.skiff("delete", "--force", id).succeeded)
            #expect(rootless.stateEntries == [])
            #expect(rootless.userProcesses == [])
        }
    }

    /// Where pidfd_open is refused (a seccomp profile older than the call, as skiff meets when
    /// it runs inside a container; no fd left), `delete --force` skipped the kill: with no
    /// cgroup to empty (rootless on v1), it removed the record and the container's process
    /// ran on. The filter here makes pidfd_open fail with ENOSYS for the delete only.
    @Test func forcedDeleteWithoutPidfdKillsTheProcess() throws {
        try RootlessSandbox.with { rootless in
            let (id, pid) = try rootless.runningContainer("nopidfd")
            let filter = rootless.path("no-pidfd-open.py")
            try Data(Self.noPidfdOpen.utf8).write(to: URL(fileURLWithPath: filter))
            let (executable, rest) = rootless.commandLine(["delete", "--force", id])
            let binaryIndex = try #require(rest.lastIndex(of: rootless.binary))
            var wrapped = rest
            wrapped.insert(contentsOf: ["/usr/bin/python3", filter], at: binaryIndex)
            let deleted = execute(executable, wrapped, currentDirectory: rootless.sandbox.directory)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(poll { !isAlive(pid) }, "the container's process outlived delete --force")
            #expect(rootless.stateEntries == [])
            #expect(rootless.userProcesses == [])
        }
    }

    /// Runs argv[1:] with a seccomp filter that fails pidfd_open (434 on x86_64) with ENOSYS.
    static let noPidfdOpen = """
        import ctypes, os, struct, sys
        libc = ctypes.CDLL(None, use_errno=True)
        ins = lambda code, jt, jf, k: struct.pack("HBBI", code, jt, jf, k)
        prog = ins(0x20, 0, 0, 0) + ins(0x15, 0, 1, 434) + ins(0x06, 0, 0, 0x00050000 | 38) + ins(0x06, 0, 0, 0x7FFF0000)
        buf = ctypes.create_string_buffer(prog, len(prog))
        class Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        fprog = Fprog(4, ctypes.addressof(buf))
        assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
        assert libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        os.execv(sys.argv[1], sys.argv[1:])
        """

    @Test func exitCodeOfAForegroundRun() throws {
        try RootlessSandbox.with { rootless in
            let id = rootless.id("exit")
            let bundle = try rootless.bundle(args: sh("exit 7"))
            let outcome = rootless.skiff("run", "--bundle", bundle, id)
            #expect(outcome.status == 7 && !outcome.signaled, "\(outcome)")
            #expect(rootless.stateEntries == [])
        }
    }

    // MARK: terminals

    @Test func terminalThroughAConsoleSocket() throws {
        try RootlessSandbox.with { rootless in
            let id = rootless.id("tty")
            let socket = try ConsoleSocket(path: rootless.path("console.sock"))
            // The user must be able to connect to the listener's socket.
            try #require(chown(socket.path, rootless.user.uid, rootless.user.gid) == 0)
            let bundle = try rootless.bundle(args: ["sh"]) { $0.process?.terminal = true }
            let create = try rootless.spawn(["create", "--console-socket", socket.path, "--bundle", bundle, id])
            let (fd, message) = try socket.receive()
            let master = TerminalMaster(fd: fd)
            #expect(message == "/dev/ptmx")
            let created = create.wait()
            try #require(created.succeeded, "\(created)")
            #expect(rootless.skiff("start", id).succeeded)
            master.type(typedCommand)
            #expect(master.read { $0.hasLine("42") && $0.hasLine("/dev/pts/0") }, "output: \(master.output.debugDescription)")
            #expect(rootless.waitFor(id, status: "stopped"))
            #expect(rootless.skiff("delete", id).succeeded)
            #expect(rootless.userProcesses == [])
        }
    }

    @Test func execWithATerminal() throws {
        try RootlessSandbox.with { rootless in
            let id = rootless.id("exectty")
            let bundle = try rootless.bundle(args: ["sleep", "1000"]) { rootless.mapSubordinateIDs(&$0) }
            try #require(rootless.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            let socket = try ConsoleSocket(path: rootless.path("exec.sock"))
            try #require(chown(socket.path, rootless.user.uid, rootless.user.gid) == 0)
            let exec = try rootless.spawn(["exec", "-t", "--console-socket", socket.path, id, "sh"])
            let master = TerminalMaster(fd: try socket.receive().fd)
            master.type("echo $((6*7)); tty; exit 5\n")
            #expect(master.read { $0.hasLine("42") && $0.hasLine("/dev/pts/0") }, "output: \(master.output.debugDescription)")
            let outcome = exec.wait()
            #expect(outcome.status == 5 && !outcome.signaled, "\(outcome)")
        }
    }

    // MARK: mounts and devices without privilege

    @Test func devicesSysAndReadOnlyRemountsWork() throws {
        try RootlessSandbox.with { rootless in
            let id = rootless.id("mounts")
            // A host mount with nosuid, nodev and noexec: in a user namespace those flags are
            // locked, and a read-only remount of a bind that dropped them fails with EPERM.
            let locked = try rootless.userDirectory("locked")
            try rootless.sandbox.mountOnHost(["-t", "tmpfs", "-o", "nosuid,nodev,noexec,mode=0777", "tmpfs"], target: locked)
            // /dev/null and friends are binds of the host's nodes; /sys is the host's, read-only.
            let script = "echo x > /dev/null && head -c 4 /dev/zero | wc -c; test -d /sys/kernel && echo sys;"
                + " touch /var/tmp/x 2>/dev/null || echo ro;"
                + " grep ' /var/tmp ' /proc/self/mountinfo | cut -d ' ' -f 6 | tr , '\\n' | grep -E '^(ro|nosuid|nodev|noexec)$' | sort"
            let bundle = try rootless.bundle(args: sh(script)) {
                $0.mounts?.append(Mount(destination: "/var/tmp", type: "bind", source: locked, options: ["bind", "ro"]))
            }
            let outcome = rootless.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["4", "sys", "ro", "nodev", "noexec", "nosuid", "ro"], "\(outcome)")
        }
    }
}
