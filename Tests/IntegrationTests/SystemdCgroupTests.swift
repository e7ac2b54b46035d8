import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

// --systemd-cgroup against a real systemd (252, Debian's): PID 1 of its own pid, mount and
// cgroup namespaces, on a cgroup of its own below the cgroup2 root, as systemd runs in a
// container (`container=` set). It reaches no other cgroup, so the cgroup tests running
// beside these are left alone. Its bus is the private socket /run/systemd/private (no
// D-Bus broker), which skiff, as root, uses as systemctl does. skiff and systemctl run in its
// namespaces (nsenter): the pid in StartTransientUnit is read in systemd's pid namespace.
// Only a pure cgroup v2 host runs these (`make test-cgroup2`'s guest): on this project's hybrid
// CI host a systemd would take over the v1 hierarchies.

/// One private systemd, stopped (its pid namespace killed, its cgroups removed) by `stop`.
final class PrivateSystemd {
    let holder: Launched
    /// systemd's pid as the test sees it.
    let pid: Int32
    /// Its cgroup root, as the test sees it ("/sys/fs/cgroup/skiff-systemd-…").
    let cgroupRoot: String

    static let binary = "/lib/systemd/systemd"
    static var available: Bool {
        isRoot && CgroupHost.pureV2 && FileManager.default.isExecutableFile(atPath: binary)
    }

    init(sandbox: Sandbox) throws {
        cgroupRoot = "/sys/fs/cgroup/skiff-systemd-\(UUID().uuidString.prefix(8).lowercased())"
        try #require(mkdir(cgroupRoot, 0o755) == 0, "mkdir \(cgroupRoot): \(String(cString: strerror(errno)))")
        // The shell joins the new cgroup, so everything it starts is born there; systemd boots
        // only an empty target (no getty, no dbus), enough for transient units. dbus (for the
        // podman test and the user manager) and logind (which user-runtime-dir@.service asks over
        // the system bus for /run/user/<uid>'s size) come without their default dependencies:
        // sysinit.target would run systemd-tmpfiles, which empties the guest's /tmp under every
        // other test. Once unshare has forked systemd, unshare and the shell leave for the root
        // cgroup: a cgroup with processes of its own cannot enable controllers for its children
        // (cgroup v2's "no internal processes"), and this one is systemd's root.
        let script = """
            echo $$ > \(cgroupRoot)/cgroup.procs
            unshare --pid --fork --mount --cgroup --propagation private sh -c '
              mount -t proc proc /proc
              umount -l /sys/fs/cgroup
              mount -t cgroup2 cgroup2 /sys/fs/cgroup
              mount -t tmpfs tmpfs /run
              mkdir -p /run/systemd/system
              printf "[Unit]\\nDescription=skiff tests\\n" > /run/systemd/system/boot-test.target
              for unit in dbus.socket dbus.service systemd-logind.service; do
                mkdir -p /run/systemd/system/$unit.d
                printf "[Unit]\\nDefaultDependencies=no\\n" > /run/systemd/system/$unit.d/skiff-test.conf
              done
              exec env container=skiff-test \(Self.binary) --unit=boot-test.target --log-target=console --log-level=notice' &
            unshare=$!
            while [ -z "$(cat /proc/$unshare/task/$unshare/children 2>/dev/null)" ]; do sleep 0.02; done
            echo $unshare > /sys/fs/cgroup/cgroup.procs
            echo $$ > /sys/fs/cgroup/cgroup.procs
            wait $unshare
            """
        let launched = try Launched("/bin/sh", ["-c", script], fds: Self.stdio(sandbox.path("systemd.out"), sandbox.path("systemd.err")))
        holder = launched
        var found: Int32 = 0
        let root = cgroupRoot
        let up = poll(timeout: slow, interval: 0.1) {
            guard launched.isRunning else { return true }
            guard let procs = readFile(root + "/init.scope/cgroup.procs"),
                  let first = procs.split(separator: "\n").first.flatMap({ Int32($0) }) else { return false }
            found = first
            return FileManager.default.fileExists(atPath: "/proc/\(first)/root/run/systemd/private")
        }
        pid = found
        let started = up && launched.isRunning
        if !started { stop() }
        try #require(started, "systemd did not start: \(readFile(sandbox.path("systemd.out")) ?? "")\(readFile(sandbox.path("systemd.err")) ?? "")")
    }

    /// Runs a command in systemd's namespaces, from a cgroup inside its tree: with nsdelegate
    /// (the cgroup2 mount option of the guest) a manager in a cgroup namespace may move only
    /// processes that are inside it, so StartTransientUnit could not take a stage 0 born
    /// outside.
    /// stdin /dev/null, stdout and stderr to files, and no other fd of the test. Every daemon
    /// of the private systemd is started through these (posix_spawn, every fd from 3 on closed
    /// in the child), not Foundation's Process: Process learns that a child exited from a
    /// socketpair made without SOCK_CLOEXEC, which the child and whatever it starts inherit.
    /// podman's conmon, which keeps what it inherits, held one open after `podman run -d`
    /// exited: Process never saw the exit and waitUntilExit never returned (`make
    /// test-cgroup2` hung after the podman test).
    static func stdio(_ stdoutPath: String, _ stderrPath: String) -> [Int32: Launched.Source] {
        [0: .path("/dev/null", O_RDONLY), 1: .path(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC),
         2: .path(stderrPath, O_WRONLY | O_CREAT | O_TRUNC)]
    }

    /// Runs a command to completion as `stdio` describes, killed after `timeout` seconds.
    static func launch(_ executable: String, _ arguments: [String], timeout: Double) -> Outcome {
        let directory = NSTemporaryDirectory() + "skiff-it-out-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let launched = try Launched(executable, arguments, fds: stdio(directory + "/stdout", directory + "/stderr"))
            return launched.wait(timeout: timeout, stdoutPath: directory + "/stdout", stderrPath: directory + "/stderr")
        } catch {
            return Outcome(status: -1, signaled: false, stdout: "", stderr: "spawn failed: \(error)", timedOut: false)
        }
    }

    /// Each command has a cgroup of its own there: when it times out, killing nsenter would
    /// leave its child (in systemd's pid namespace) running, so the whole cgroup is killed.
    /// `callers`: the cgroup below which each command gets its own (a user's, for its user
    /// manager: see UserManager).
    func run(_ arguments: [String], environment: [String] = [], timeout: Double = slow, callers: String? = nil) -> Outcome {
        let callers = callers ?? cgroupRoot + "/skiff-test-callers"
        _ = mkdir(callers, 0o755)
        let caller = callers + "/" + UUID().uuidString.prefix(8).lowercased()
        _ = mkdir(caller, 0o755)
        var outcome = Self.launch("/bin/sh", ["-c", #"echo $$ > "$1/cgroup.procs" && shift && exec "$@""#, "sh", caller,
                                              "/usr/bin/nsenter", "-t", String(pid), "-m", "-p", "-C", "--", "/usr/bin/env"]
                                  + environment + arguments, timeout: timeout)
        if outcome.timedOut {
            let killed = Self.killCgroup(caller)
            outcome.stderr += "\n(\(arguments.joined(separator: " ")) timed out after \(Int(timeout)) s; its cgroup \(killed ? "killed" : "still holds processes"))"
        }
        _ = rmdir(caller)  // fails while something it started (and systemd did not move) runs
        return outcome
    }

    /// cgroup v2's cgroup.kill (SIGKILL to the whole subtree), then waits until it is empty;
    /// whether it emptied.
    static func killCgroup(_ path: String) -> Bool {
        let fd = open(path + "/cgroup.kill", O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = write(fd, "1", 1)
            close(fd)
        }
        return poll(timeout: slow, interval: 0.05) { readFile(path + "/cgroup.events")?.contains("populated 0") ?? true }
    }

    /// `skiff --root <sandbox root> --systemd-cgroup arguments…` in systemd's namespaces.
    func skiff(_ sandbox: Sandbox, _ arguments: [String], environment: [String] = []) -> Outcome {
        run([Paths.binary, "--root", sandbox.root, "--systemd-cgroup"] + arguments, environment: environment)
    }

    /// `systemctl show UNIT -p …` as a dictionary.
    func show(_ unit: String, _ properties: [String]) -> [String: String] {
        Self.properties(run(["systemctl", "show", unit] + properties.flatMap { ["-p", $0] }))
    }

    /// `NAME=value` lines as a dictionary.
    static func properties(_ outcome: Outcome) -> [String: String] {
        var values: [String: String] = [:]
        for line in outcome.lines {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }

    /// The units whose name starts with `prefix`, loaded in any state.
    func units(_ prefix: String) -> [String] {
        Self.unitNames(run(["systemctl", "list-units", "--all", "--plain", "--no-legend", prefix + "*"]))
    }

    static func unitNames(_ outcome: Outcome) -> [String] {
        outcome.lines.compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    /// A file of a unit's cgroup, trimmed; nil when missing.
    func cgroupFile(_ cgroup: String, _ file: String) -> String? {
        readFile(cgroupRoot + cgroup + "/" + file)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops systemd by its pid (PID 1 of its namespace: the kernel kills every process of
    /// it, dbus-daemon, conmon and the containers too), then kills whatever its cgroup tree
    /// still holds (a systemd that started but was never found), waits for the tree to empty
    /// and for the shell that started it, and removes the tree. Every wait is bounded; what
    /// is left is a test failure naming it.
    func stop() {
        if pid > 0 { kill(pid, SIGKILL) }
        let emptied = Self.killCgroup(cgroupRoot)
        kill(holder.pid, SIGKILL)
        let holderExit = holder.wait(timeout: slow)
        let left = emptied ? "" : host("find", cgroupRoot, "-name", "cgroup.procs", "-exec", "cat", "{}", "+").stdout
        host("find", cgroupRoot, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";")
        #expect(emptied, "the private systemd's cgroup \(cgroupRoot) still holds \(left) \(Int(slow)) s after SIGKILL")
        #expect(!holderExit.timedOut, "the shell that started systemd did not exit: \(holderExit)")
        #expect(!FileManager.default.fileExists(atPath: cgroupRoot), "\(cgroupRoot) is left")
    }

    static func with(_ body: (Sandbox, PrivateSystemd) throws -> Void) throws {
        try Sandbox.with { sandbox in
            let systemd = try PrivateSystemd(sandbox: sandbox)
            defer {
                for id in sandbox.ids { _ = systemd.skiff(sandbox, ["delete", "--force", id]) }
                systemd.stop()
            }
            try body(sandbox, systemd)
        }
    }
}

/// A real user manager in the private systemd: `systemctl start user@<uid>.service` for the
/// rootless suites' user, as logind starts it at a login. user-runtime-dir@<uid>.service mounts
/// /run/user/<uid> (it asks logind, over the system bus, for the size: both are started),
/// then `systemd --user` runs in user@<uid>.service's cgroup, delegated to the user (pids,
/// memory and cpu in Debian's unit), and starts dbus-user-session's dbus.socket:
/// /run/user/<uid>/bus, the session bus runc's rootless driver and skiff talk to.
///
/// The user's commands run from a cgroup of the user's inside user@<uid>.service, as a
/// terminal's do on a desktop (app-….scope): the user manager moves a pid into a scope by
/// writing cgroup.procs as the user, which only works within its own delegated tree. (From a
/// root-owned cgroup outside it, as `ssh` sessions are, it asks the system manager over the
/// system bus instead; `systemd-run --user --scope` from the test's own cgroup fails here
/// with "Couldn't move process … (directly or via the system bus): No such file or
/// directory", since that cgroup belongs to no unit of the system manager.)
final class UserManager {
    let systemd: PrivateSystemd
    let user: RootlessUser
    var runtimeDir: String { "/run/user/\(user.uid)" }
    /// user@<uid>.service's cgroup, in the private systemd's cgroup namespace.
    var cgroup: String { "/user.slice/user-\(user.uid).slice/user@\(user.uid).service" }
    /// Where the user's commands run (each in a cgroup of its own below).
    var callers: String { systemd.cgroupRoot + cgroup + "/skiff-test-callers" }

    init(systemd: PrivateSystemd, user: RootlessUser) throws {
        self.systemd = systemd
        self.user = user
        try #require(FileManager.default.fileExists(atPath: "/usr/lib/systemd/user/dbus.socket"),
                     "no /usr/lib/systemd/user/dbus.socket: dbus-user-session is not installed (make deps-test installs it)")
        let started = systemd.run(["systemctl", "start", "dbus.socket", "dbus.service", "user@\(user.uid).service"], timeout: 3 * slow)
        try #require(started.succeeded, "user@\(user.uid).service: \(started) \(systemd.run(["systemctl", "status", "--no-pager", "user@\(user.uid).service", "user-runtime-dir@\(user.uid).service"]))")
        let callers = callers
        try #require(mkdir(callers, 0o755) == 0 || errno == EEXIST, "mkdir \(callers): \(String(cString: strerror(errno)))")
        for path in [callers, callers + "/cgroup.procs"] {
            try #require(chown(path, user.uid, user.gid) == 0, "chown \(path): \(String(cString: strerror(errno)))")
        }
        let socket = "/proc/\(systemd.pid)/root\(runtimeDir)/bus"
        try #require(poll(timeout: slow, interval: 0.1) { FileManager.default.fileExists(atPath: socket) }, "no \(runtimeDir)/bus")
    }

    /// The user's login environment: its runtime dir, nothing else of the test's.
    var environment: [String] {
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "XDG_RUNTIME_DIR=\(runtimeDir)", "LANG=C"]
    }

    /// Runs a command as the user (no capability left: setpriv), from its cgroup in the user
    /// manager's tree, in the private systemd's namespaces. `unset`: environment names left out.
    func run(_ arguments: [String], env: [String] = [], unset: [String] = [], timeout: Double = slow) -> Outcome {
        let environment = environment.filter { line in !unset.contains { line.hasPrefix($0 + "=") } } + env
        return systemd.run(["/usr/bin/setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", "--",
                            "/usr/bin/env", "-i"] + environment + arguments, timeout: timeout, callers: callers)
    }

    /// `systemctl --user show UNIT -p …` as the user.
    func show(_ unit: String, _ properties: [String]) -> [String: String] {
        PrivateSystemd.properties(run(["systemctl", "--user", "show", unit] + properties.flatMap { ["-p", $0] }))
    }

    /// The user manager's units whose name starts with `prefix`, in any state.
    func units(_ prefix: String) -> [String] {
        PrivateSystemd.unitNames(run(["systemctl", "--user", "list-units", "--all", "--plain", "--no-legend", prefix + "*"]))
    }
}

@Suite(.serialized, .enabled(if: PrivateSystemd.available,
                             "needs root, a pure cgroup v2 host (make test-cgroup2's guest) and /lib/systemd/systemd"))
struct SystemdCgroupTests {
    /// The scope exists in its slice with the limits as unit properties and in its cgroup's
    /// files; exec joins it; update changes both; delete stops the unit and its cgroup goes.
    @Test func scopeHoldsTheLimitsUpdateChangesThemDeleteRemovesIt() throws {
        try PrivateSystemd.with { sandbox, systemd in
            let id = sandbox.id("sd")
            let unit = "skiff-\(id).scope"
            let bundle = try sandbox.bundle(id, args: ["sleep", "1000"]) {
                $0.linux?.cgroupsPath = "system.slice:skiff:\(id)"
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 64 << 20), cpu: LinuxCPU(shares: 512, quota: 50_000, period: 100_000),
                                                     pids: LinuxPids(limit: 50))
                // podman's kind of annotation: an extra unit property, passed on as runc does.
                $0.annotations = ["org.systemd.property.TimeoutStopUSec": "uint64 7000000"]
            }
            let created = systemd.skiff(sandbox, ["create", "--bundle", bundle, id])
            try #require(created.succeeded, "create: \(created)")
            let shown = systemd.show(unit, ["ActiveState", "Slice", "Delegate", "ControlGroup", "MemoryMax", "TasksMax",
                                            "CPUQuotaPerSecUSec", "CPUWeight", "TimeoutStopUSec"])
            #expect(shown["ActiveState"] == "active")
            #expect(shown["Slice"] == "system.slice")
            #expect(shown["Delegate"] == "yes")
            #expect(shown["MemoryMax"] == "67108864")
            #expect(shown["TasksMax"] == "50")
            #expect(shown["CPUQuotaPerSecUSec"] == "500ms")
            #expect(shown["CPUWeight"] == "59")
            #expect(shown["TimeoutStopUSec"] == "7s")
            let cgroup = try #require(shown["ControlGroup"])
            #expect(cgroup == "/system.slice/\(unit)")
            #expect(systemd.cgroupFile(cgroup, "memory.max") == "67108864")
            #expect(systemd.cgroupFile(cgroup, "pids.max") == "50")
            #expect(systemd.cgroupFile(cgroup, "cpu.max") == "50000 100000")
            #expect(systemd.cgroupFile(cgroup, "cpu.weight") == "59")
            let before = systemd.cgroupFile(cgroup, "cgroup.procs")?.split(separator: "\n").count ?? 0
            #expect(before == 1, "the container's init, alone in the scope")

            #expect(systemd.skiff(sandbox, ["start", id]).succeeded)
            let exec = systemd.skiff(sandbox, ["exec", "--detach", id, "sleep", "1000"])
            #expect(exec.succeeded, "exec: \(exec)")
            #expect(systemd.cgroupFile(cgroup, "cgroup.procs")?.split(separator: "\n").count == 2, "exec joins the scope")

            let update = systemd.skiff(sandbox, ["update", "--memory", "128m", "--pids-limit", "70", "--cpu-quota", "20000", id])
            #expect(update.succeeded, "update: \(update)")
            let updated = systemd.show(unit, ["MemoryMax", "TasksMax", "CPUQuotaPerSecUSec"])
            #expect(updated["MemoryMax"] == "134217728")
            #expect(updated["TasksMax"] == "70")
            #expect(updated["CPUQuotaPerSecUSec"] == "200ms")
            #expect(systemd.cgroupFile(cgroup, "memory.max") == "134217728")
            #expect(systemd.cgroupFile(cgroup, "pids.max") == "70")
            #expect(systemd.cgroupFile(cgroup, "cpu.max") == "20000 100000")

            let deleted = systemd.skiff(sandbox, ["delete", "--force", id])
            #expect(deleted.succeeded, "delete: \(deleted)")
            #expect(systemd.units("skiff-it-").isEmpty)
            #expect(systemd.show(unit, ["LoadState"])["LoadState"] == "not-found")
            #expect(!FileManager.default.fileExists(atPath: systemd.cgroupRoot + cgroup))
        }
    }

    /// No cgroupsPath: runc's default with skiff's prefix, system.slice:skiff:<id>. A slice
    /// that does not exist yet is made by systemd (as under runc); `run` leaves no unit.
    @Test func defaultPathAndANewSlice() throws {
        try PrivateSystemd.with { sandbox, systemd in
            let id = sandbox.id("sddef")
            let bundle = try sandbox.bundle(id, args: ["sleep", "1000"]) { $0.linux?.cgroupsPath = nil }
            try #require(systemd.skiff(sandbox, ["create", "--bundle", bundle, id]).succeeded)
            let shown = systemd.show("skiff-\(id).scope", ["ActiveState", "ControlGroup"])
            #expect(shown["ActiveState"] == "active")
            #expect(shown["ControlGroup"] == "/system.slice/skiff-\(id).scope")
            #expect(systemd.skiff(sandbox, ["delete", id]).succeeded)

            let other = sandbox.id("sdnew")
            let fresh = try sandbox.bundle(other, args: ["true"]) { $0.linux?.cgroupsPath = "skifftest-new.slice:t:\(other)" }
            let run = systemd.skiff(sandbox, ["run", "--bundle", fresh, other])
            #expect(run.succeeded, "run: \(run)")
            #expect(systemd.show("skifftest-new.slice", ["LoadState"])["LoadState"] == "loaded")
            #expect(systemd.units("t-").isEmpty, "run deleted its scope")
        }
    }

    /// Bad input: one line naming the field or the socket, exit ≠ 0, and no unit, no cgroup,
    /// no container left; also when the unit had started (a resource its cgroup refuses).
    @Test func badInputLeavesNoUnitNoCgroup() throws {
        try PrivateSystemd.with { sandbox, systemd in
            let cases: [(String, String?, [String], String)] = [
                ("malformed", "system.slice/skiff", [], "linux.cgroupsPath: \"system.slice/skiff\" is not \"slice:prefix:name\""),
                ("slice", "a--b.slice:skiff:x", [], "invalid slice name \"a--b.slice\""),
                ("nobus", nil, ["DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/nonexistent.sock"], "connect \"unix:path=/run/nonexistent.sock\": no such file or directory"),
                ("refused", nil, [], "linux.resources.unified"),
            ]
            for (name, path, environment, message) in cases {
                let id = sandbox.id(name)
                let bundle = try sandbox.bundle(id, args: ["true"]) {
                    $0.linux?.cgroupsPath = path
                    if name == "refused" { $0.linux?.resources = LinuxResources(unified: ["memory.nonexistent": "1"]) }
                }
                let created = systemd.skiff(sandbox, ["create", "--bundle", bundle, id], environment: environment)
                #expect(!created.succeeded, "\(name): \(created)")
                #expect(created.stderrLines.count == 1 && created.stderr.contains(message), "\(name): \(created)")
                #expect(systemd.units("skiff-it-").isEmpty, "\(name) left a unit")
                #expect(!FileManager.default.fileExists(atPath: systemd.cgroupRoot + "/system.slice/skiff-\(id).scope"))
                #expect(systemd.skiff(sandbox, ["list", "-q"]).lines.isEmpty, "\(name) left a container")
            }
        }
    }

    /// delete --force of a container whose state.json is unreadable still stops its scope and
    /// kills what runs in it: the scope a damaged record still names (a field of the right
    /// type), else, when nothing parses, the one described as this container's, whatever its
    /// name. Another container's scope is left alone.
    @Test func deleteForceOfACorruptStateStopsTheScope() throws {
        try PrivateSystemd.with { sandbox, systemd in
            let named = sandbox.id("sdnamed")
            let garbled = sandbox.id("sdgarbled")
            let bystander = sandbox.id("sdby")
            // The garbled one's unit does not hold its id: only the description finds it.
            let units = [named: "custom-\(named).scope", garbled: "other-c\(UUID().uuidString.prefix(8).lowercased()).scope",
                         bystander: "skiff-\(bystander).scope"]
            for id in [named, garbled, bystander] {
                let unit = try #require(units[id])
                let name = unit.dropLast(".scope".count).split(separator: "-", maxSplits: 1)
                let bundle = try sandbox.bundle(id, args: ["sleep", "1000"]) {
                    $0.linux?.cgroupsPath = "system.slice:\(name[0]):\(name[1])"
                }
                let created = systemd.skiff(sandbox, ["create", "--bundle", bundle, id])
                try #require(created.succeeded, "create \(id): \(created)")
                #expect(systemd.skiff(sandbox, ["start", id]).succeeded)
                #expect(systemd.show(unit, ["ActiveState"])["ActiveState"] == "active")
            }
            let state = { (id: String) in sandbox.root + "/" + id + "/state.json" }
            // A record that no longer decodes (pid has the wrong type), its unit still readable;
            // and one of which nothing parses.
            try #"{"id": 7, "pid": "x", "systemdUnit": "\#(units[named]!)"}"#.write(toFile: state(named), atomically: true, encoding: .utf8)
            try "{not json".write(toFile: state(garbled), atomically: true, encoding: .utf8)
            for id in [named, garbled] {
                let unit = try #require(units[id])
                let cgroup = "/system.slice/" + unit
                let pids = (systemd.cgroupFile(cgroup, "cgroup.procs") ?? "").split(separator: "\n").compactMap { Int($0) }
                #expect(!pids.isEmpty, "\(id): the scope holds the container")
                let deleted = systemd.skiff(sandbox, ["delete", "--force", id])
                #expect(deleted.succeeded, "delete \(id): \(deleted)")
                #expect(systemd.show(unit, ["LoadState"])["LoadState"] == "not-found", "\(id): \(unit) stopped")
                #expect(!FileManager.default.fileExists(atPath: systemd.cgroupRoot + cgroup), "\(id): the scope's cgroup is gone")
                #expect(poll(timeout: slow) { pids.allSatisfy { !isAlive($0) } }, "\(id): the container's processes died")
                #expect(!FileManager.default.fileExists(atPath: sandbox.root + "/" + id), "\(id): the state is gone")
            }
            #expect(systemd.show(units[bystander]!, ["ActiveState"])["ActiveState"] == "active", "another container's scope stays")
            #expect(systemd.skiff(sandbox, ["delete", "--force", bystander]).succeeded)
        }
    }

    /// A real caller: rootful podman with `cgroup_manager = "systemd"` runs its containers
    /// through skiff --systemd-cgroup (podman puts them in machine.slice as libpod-ID.scope,
    /// and its conmon in a scope of its own, over D-Bus: a dbus-daemon is started from the
    /// private systemd's units for it).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/podman")
                   && FileManager.default.isExecutableFile(atPath: "/usr/bin/conmon"), "needs podman and conmon"))
    func podmanWithTheSystemdCgroupManagerRunsThroughSkiff() throws {
        try PrivateSystemd.with { sandbox, systemd in
            let dbus = systemd.run(["systemctl", "start", "dbus.socket", "dbus.service"])
            try #require(dbus.succeeded, "dbus: \(dbus)")
            let rootfs = sandbox.path("podman-rootfs")
            try #require(host("cp", "-a", Paths.rootfs, rootfs).succeeded)
            let conf = sandbox.path("containers.conf")
            try "[containers]\nnetns = \"none\"\n[engine]\ncgroup_manager = \"systemd\"\nevents_logger = \"file\"\n"
                .write(toFile: conf, atomically: true, encoding: .utf8)
            let podman = ["env", "CONTAINERS_CONF=" + conf, "podman", "--root", sandbox.path("storage"), "--runroot",
                          sandbox.path("runroot"), "--runtime", Paths.binary, "--cgroup-manager", "systemd"]
            let name = "sd-\(UUID().uuidString.prefix(8).lowercased())"
            let ran = systemd.run(podman + ["run", "-d", "--name", name, "--memory", "64m", "--rootfs", rootfs, "sleep", "1000"],
                                  timeout: 3 * slow)
            try #require(ran.succeeded, "podman run: \(ran)")
            let id = ran.lines.last ?? ""
            let shown = systemd.show("libpod-\(id).scope", ["ActiveState", "Slice", "MemoryMax", "Description"])
            #expect(shown["ActiveState"] == "active")
            #expect(shown["Slice"] == "machine.slice")
            #expect(shown["MemoryMax"] == "67108864")
            #expect(shown["Description"] == "skiff container \(id)", "the scope is skiff's")
            let inspected = systemd.run(podman + ["inspect", "--format", "{{.OCIRuntime}} {{.State.Status}}", name], timeout: 3 * slow)
            #expect(inspected.lines.last == "\(Paths.binary) running")
            let removed = systemd.run(podman + ["rm", "-f", "-t", "0", name], timeout: 3 * slow)
            #expect(removed.succeeded, "podman rm: \(removed)")
            #expect(systemd.units("libpod-\(id)").isEmpty)
        }
    }

    /// Rootless `--systemd-cgroup` against a real user manager (UserManager): skiff, run as
    /// the unprivileged user, reaches it on the session bus $XDG_RUNTIME_DIR/bus, reads its
    /// ControlGroup, and its scope lies in the user's user.slice below user@<uid>.service (runc's
    /// rootless default slice) with the limits user@.service delegates (memory, pids); exec
    /// joins it; update and delete go through the same manager; a create the cgroup refuses
    /// leaves no unit; a missing bus is one line naming the socket. The same as root of the
    /// user's own user namespace, as rootless podman runs its runtime: sd-bus (252) names
    /// geteuid(), 0 there, in its EXTERNAL authentication, where runc sends the host uid it
    /// reads from `busctl --user status`; Debian 12's dbus-daemon 1.14 lets it in all the same. runc,
    /// the reference, runs the same bundle under the same manager in the same test (it can).
    @Test func rootlessScopeInARealUserManager() throws {
        try RootlessSandbox.with { rootless in
            let systemd = try PrivateSystemd(sandbox: rootless.sandbox)
            defer { systemd.stop() }
            let manager = try UserManager(systemd: systemd, user: rootless.user)
            // The state under the user's runtime dir (skiff's rootless default root).
            let skiff = { (arguments: [String], env: [String], unset: [String]) in
                manager.run([rootless.binary, "--systemd-cgroup"] + arguments, env: env, unset: unset)
            }
            let id = rootless.id("sduser")
            var ids = [id]
            defer { for id in ids { _ = manager.run([rootless.binary, "delete", "--force", id]) } }
            let unit = "skiff-\(id).scope"
            let bundle = try rootless.bundle(args: ["sleep", "1000"]) {
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 64 << 20), pids: LinuxPids(limit: 50))
            }
            let created = skiff(["create", "--bundle", bundle, id], [], [])
            try #require(created.succeeded, "create: \(created)")
            let state = manager.run([rootless.binary, "state", id])
            let pid = try #require((try? JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any])?["pid"] as? Int,
                                   "state: \(state)")
            let shown = manager.show(unit, ["ActiveState", "Slice", "Delegate", "ControlGroup", "MemoryMax", "TasksMax", "Description"])
            #expect(shown["ActiveState"] == "active")
            #expect(shown["Slice"] == "user.slice")
            #expect(shown["Delegate"] == "yes")
            #expect(shown["MemoryMax"] == "67108864")
            #expect(shown["TasksMax"] == "50")
            #expect(shown["Description"] == "skiff container \(id)")
            let cgroup = manager.cgroup + "/user.slice/" + unit
            #expect(shown["ControlGroup"] == cgroup, "below user@\(rootless.user.uid).service, in the user's user.slice")
            #expect(systemd.units("skiff-").isEmpty, "nothing in the system manager")
            #expect(systemd.cgroupFile(cgroup, "memory.max") == "67108864")
            #expect(systemd.cgroupFile(cgroup, "pids.max") == "50")
            // Alone in the scope: the container's init (pid, as state says, in the private
            // systemd's pid namespace; the cgroup lists it as this namespace sees it).
            let procs = (systemd.cgroupFile(cgroup, "cgroup.procs") ?? "").split(separator: "\n")
            #expect(procs.count == 1, "\(procs)")
            let namespacePids = procs.first.flatMap { readFile("/proc/\($0)/status") }?.split(separator: "\n")
                .first { $0.hasPrefix("NSpid:") }?.split(whereSeparator: \.isWhitespace).dropFirst().map(String.init) ?? []
            #expect(namespacePids.contains("\(pid)"), "the scope holds \(procs), NSpid \(namespacePids), not \(pid)")
            let owner = try FileManager.default.attributesOfItem(atPath: systemd.cgroupRoot + cgroup)[.ownerAccountID] as? NSNumber
            #expect(owner?.uint32Value == rootless.user.uid, "the user manager made it")

            #expect(skiff(["start", id], [], []).succeeded)
            // The container's own view: its cgroup namespace's root is the scope, whose limits
            // its cgroup2 mount shows.
            let inside = skiff(["exec", id, "cat", "/proc/self/cgroup", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max"], [], [])
            #expect(inside.lines == ["0::/", "67108864", "50"], "exec: \(inside)")
            let detached = skiff(["exec", "--detach", id, "sleep", "1000"], [], [])
            #expect(detached.succeeded, "exec: \(detached)")
            #expect(systemd.cgroupFile(cgroup, "cgroup.procs")?.split(separator: "\n").count == 2, "exec joins the scope")

            let update = skiff(["update", "--memory", "128m", "--pids-limit", "70", id], [], [])
            #expect(update.succeeded, "update: \(update)")
            let updated = manager.show(unit, ["MemoryMax", "TasksMax"])
            #expect(updated["MemoryMax"] == "134217728")
            #expect(updated["TasksMax"] == "70")
            #expect(systemd.cgroupFile(cgroup, "memory.max") == "134217728")
            #expect(systemd.cgroupFile(cgroup, "pids.max") == "70")

            let deleted = skiff(["delete", "--force", id], [], [])
            #expect(deleted.succeeded, "delete: \(deleted)")
            #expect(manager.show(unit, ["LoadState"])["LoadState"] == "not-found")
            #expect(!FileManager.default.fileExists(atPath: systemd.cgroupRoot + cgroup))

            // A create whose cgroup refuses a resource: the unit had started; none is left.
            let refused = rootless.id("sdrefused")
            ids.append(refused)
            let refusedBundle = try rootless.bundle("refused", args: ["true"]) {
                $0.linux?.resources = LinuxResources(unified: ["memory.nonexistent": "1"])
            }
            let failed = skiff(["create", "--bundle", refusedBundle, refused], [], [])
            #expect(!failed.succeeded && failed.stderrLines.count == 1 && failed.stderr.contains("linux.resources.unified"), "\(failed)")
            // No bus: the socket named, nothing made.
            let socket = manager.runtimeDir + "/nonexistent-bus"
            let nobus = skiff(["create", "--bundle", bundle, refused], ["DBUS_SESSION_BUS_ADDRESS=unix:path=" + socket], [])
            #expect(!nobus.succeeded && nobus.stderrLines.count == 1
                    && nobus.stderr.contains("connect \"unix:path=\(socket)\": no such file or directory"), "\(nobus)")
            let noenv = skiff(["--root", manager.runtimeDir + "/skiff", "create", "--bundle", bundle, refused], [], ["XDG_RUNTIME_DIR"])
            #expect(!noenv.succeeded && noenv.stderrLines.count == 1
                    && noenv.stderr.contains("neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set"), "\(noenv)")
            #expect(manager.units("skiff-").isEmpty, "a failed create left a unit")
            #expect(manager.run([rootless.binary, "list", "-q"]).lines.isEmpty, "a failed create left a container")

            // As rootless podman runs its runtime: root of the user's own user namespace (held
            // by a pause process, so that exec sees the container's), a config without a user
            // namespace of its own. skiff still reaches the user's bus and manager.
            let pause = manager.run(["/bin/sh", "-c", "/usr/bin/unshare --user --map-root-user /bin/sleep 1000 </dev/null >/dev/null 2>&1 & echo $!"])
            let pausePid = try #require(pause.lines.last.flatMap { Int32($0) }, "pause: \(pause)")
            let inUserNamespace = ["/usr/bin/nsenter", "-t", "\(pausePid)", "-U", "--preserve-credentials", rootless.binary, "--systemd-cgroup"]
            let podmanLike = rootless.id("sduserns")
            ids.append(podmanLike)
            let podmanBundle = try RootlessTests.InAUserNamespace().bundle(rootless, name: "userns", args: ["sleep", "1000"]) {
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 64 << 20), pids: LinuxPids(limit: 50))
            }
            let nested = manager.run(inUserNamespace + ["run", "--detach", "--bundle", podmanBundle, podmanLike])
            #expect(nested.succeeded, "run in a user namespace: \(nested)")
            let nestedUnit = "skiff-\(podmanLike).scope"
            let nestedShown = manager.show(nestedUnit, ["ActiveState", "ControlGroup", "MemoryMax"])
            #expect(nestedShown["ActiveState"] == "active")
            #expect(nestedShown["ControlGroup"] == manager.cgroup + "/user.slice/" + nestedUnit)
            #expect(nestedShown["MemoryMax"] == "67108864")
            let nestedExec = manager.run(inUserNamespace + ["exec", "--detach", podmanLike, "sleep", "1000"])
            #expect(nestedExec.succeeded, "exec in a user namespace: \(nestedExec)")
            #expect(systemd.cgroupFile(manager.cgroup + "/user.slice/" + nestedUnit, "cgroup.procs")?.split(separator: "\n").count == 2,
                    "exec joins the scope")
            #expect(manager.run(inUserNamespace + ["delete", "--force", podmanLike]).succeeded)
            #expect(manager.units("skiff-").isEmpty)

            // runc, the reference: the same bundle, the same manager, the same place.
            if FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") {
                let reference = rootless.id("sdrunc")
                let runcRoot = manager.runtimeDir + "/runc-test"
                let runc = { (arguments: [String]) in manager.run(["/usr/sbin/runc", "--root", runcRoot] + arguments) }
                let ran = runc(["--systemd-cgroup", "run", "--detach", "--bundle", bundle, reference])
                #expect(ran.succeeded, "runc: \(ran)")
                let theirs = manager.show("runc-\(reference).scope", ["ActiveState", "ControlGroup", "MemoryMax", "TasksMax"])
                #expect(theirs["ActiveState"] == "active")
                #expect(theirs["ControlGroup"] == manager.cgroup + "/user.slice/runc-\(reference).scope", "runc's place is skiff's")
                #expect(theirs["MemoryMax"] == "67108864")
                #expect(theirs["TasksMax"] == "50")
                #expect(runc(["delete", "--force", reference]).succeeded)
                #expect(manager.units("runc-").isEmpty)
            }
        }
    }
}
