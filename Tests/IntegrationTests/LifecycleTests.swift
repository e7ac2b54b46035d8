import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A host dir bind-mounted at /tmp/ctl, through which a test tells the container to go on
/// (`/tmp/ctl/go`) and the container reports back.
struct Control {
    let hostPath: String

    init(_ sandbox: Sandbox) throws {
        hostPath = sandbox.path("ctl")
        try FileManager.default.createDirectory(atPath: hostPath, withIntermediateDirectories: true)
    }

    var mount: Mount { Mount(destination: "/tmp/ctl", type: "bind", source: hostPath, options: ["rbind", "rw"]) }

    /// A script fragment that blocks until the test calls `release()`.
    static let waitForGo = "while [ ! -e /tmp/ctl/go ]; do usleep 5000; done"

    func release() { _ = FileManager.default.createFile(atPath: hostPath + "/go", contents: nil) }

    func read(_ name: String) -> String? { readFile(hostPath + "/" + name) }
}

/// create, start, state, kill, delete, run and list, as the runtime spec's lifecycle describes.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct LifecycleTests {
    @Test func exitCodeOfTheProcessIsRunsExitCode() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("exit")
            let bundle = try sandbox.bundle(args: sh("echo bye; exit 42"))
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.status == 42 && !outcome.signaled, "\(outcome)")
            #expect(outcome.stdout == "bye\n")
            #expect(outcome.stderr == "")
            // Without --keep, run deletes the container.
            #expect(sandbox.state(id) == nil)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func runKeepLeavesAStoppedContainer() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("keep")
            let bundle = try sandbox.bundle(args: ["true"])
            let outcome = sandbox.skiff("run", "--keep", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(sandbox.status(id) == "stopped")
            let deleted = sandbox.skiff("delete", id)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func stateFollowsTheLifecycle() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("life")
            let control = try Control(sandbox)
            let bundle = try sandbox.bundle(args: sh("echo started; \(Control.waitForGo); echo done")) {
                $0.mounts?.append(control.mount)
                $0.annotations = ["org.example.key": "value"]
            }
            let pidFile = sandbox.path("init.pid")
            let create = try sandbox.spawn(["create", "--bundle", bundle, "--pid-file", pidFile, id])
            let created = create.wait()
            #expect(created.succeeded, "\(created)")

            let state = try #require(sandbox.state(id), "state after create")
            #expect(state["status"] as? String == "created")
            #expect(state["id"] as? String == id)
            #expect(state["bundle"] as? String == bundle)
            #expect((state["ociVersion"] as? String)?.isEmpty == false)
            #expect(state["annotations"] as? [String: String] == ["org.example.key": "value"])
            let pid = try #require(state["pid"] as? Int, "pid in \(state)")
            #expect(pid > 0)
            #expect(readFile(pidFile)?.trimmingCharacters(in: .whitespacesAndNewlines) == String(pid))
            // The user's process has not run yet.
            #expect(create.stdout == "")
            // The init waits in the container's cgroup, in every hierarchy.
            let cgroups = (readFile("/proc/\(pid)/cgroup") ?? "").split(separator: "\n")
            #expect(!cgroups.isEmpty)
            for line in cgroups {
                #expect(line.hasSuffix(":/skiff/\(id)"), "init's cgroup: \(line)")
            }

            let start = sandbox.skiff("start", id)
            #expect(start.succeeded, "\(start)")
            #expect(sandbox.status(id) == "running")
            #expect(poll { create.stdout == "started\n" }, "output: \(create.stdout.debugDescription)")

            control.release()
            #expect(sandbox.waitFor(id, status: "stopped"), "status: \(sandbox.status(id) ?? "none")")
            #expect(create.stdout == "started\ndone\n")

            let deleted = sandbox.skiff("delete", id)
            #expect(deleted.succeeded, "\(deleted)")
            let gone = sandbox.skiff("state", id)
            #expect(!gone.succeeded)
            #expect(gone.stderrLines == ["container does not exist: \(id)"], "\(gone)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func killStopsADetachedContainer() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("kill")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            let detached = sandbox.skiff("run", "--detach", "--bundle", bundle, id)
            #expect(detached.succeeded, "\(detached)")
            #expect(sandbox.status(id) == "running")
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)

            let killed = sandbox.skiff("kill", id, "KILL")
            #expect(killed.succeeded, "\(killed)")
            #expect(sandbox.waitFor(id, status: "stopped"), "status: \(sandbox.status(id) ?? "none")")
            #expect(poll { !isAlive(pid) }, "init \(pid) still exists")

            let deleted = sandbox.skiff("delete", id)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func killSendsSigtermByDefault() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("term")
            let control = try Control(sandbox)
            let script = "trap 'echo TERM > /tmp/ctl/got; exit 3' TERM; echo > /tmp/ctl/ready; while :; do usleep 5000; done"
            let bundle = try sandbox.bundle(args: sh(script)) { $0.mounts?.append(control.mount) }
            let detached = sandbox.skiff("run", "--detach", "--bundle", bundle, id)
            #expect(detached.succeeded, "\(detached)")
            try #require(poll { control.read("ready") != nil }, "the container never became ready")

            let killed = sandbox.skiff("kill", id)
            #expect(killed.succeeded, "\(killed)")
            #expect(sandbox.waitFor(id, status: "stopped"))
            #expect(control.read("got") == "TERM\n")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test(arguments: [(SIGTERM, "TERM"), (SIGINT, "INT"), (SIGHUP, "HUP"), (SIGUSR1, "USR1")])
    func foregroundRunForwardsSignalsToTheContainer(_ signal: Int32, _ name: String) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("fwd")
            let bundle = try sandbox.bundle(args: sh("trap 'exit 7' \(name); echo ready; sleep 1000 & wait"))
            let run = try sandbox.spawn(["run", "--bundle", bundle, id])
            try #require(poll { run.stdout == "ready\n" }, "the container never became ready: \(run.stdout)")
            kill(run.pid, signal)
            let outcome = run.wait(timeout: 10)
            #expect(outcome.status == 7 && !outcome.signaled, "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func killAllReachesEveryProcess() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("killall")
            let control = try Control(sandbox)
            // The init handles USR1 and lives on; its two sleeping children die of it.
            let script = """
                trap 'echo USR1 >> /tmp/ctl/init-got' USR1; sleep 1001 & sleep 1002 & echo > /tmp/ctl/ready
                while :; do usleep 20000; done
                """
            let bundle = try sandbox.bundle(args: sh(script)) { $0.mounts?.append(control.mount) }
            #expect(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            try #require(poll { control.read("ready") != nil }, "the container never became ready")
            func sleepers() -> [String] {
                let procs = readFile("/sys/fs/cgroup/pids/skiff/\(id)/cgroup.procs") ?? ""
                return procs.split(separator: "\n").compactMap { readFile("/proc/\($0)/cmdline") }
                    .filter { $0.hasPrefix("sleep\u{0}100") }
            }
            #expect(poll { sleepers().count == 2 }, "\(sleepers())")

            let killed = sandbox.skiff("kill", "--all", id, "USR1")
            #expect(killed.succeeded, "\(killed)")
            #expect(poll { sleepers().isEmpty }, "the children outlived kill --all: \(sleepers())")
            #expect(poll { control.read("init-got") == "USR1\n" }, "init-got: \(control.read("init-got") ?? "nothing")")
            #expect(sandbox.status(id) == "running")
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func foregroundRunOfAKilledProcessExits128PlusSignal() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("sig")
            let bundle = try sandbox.bundle(args: sh("echo ready; sleep 1000"))
            let run = try sandbox.spawn(["run", "--bundle", bundle, id])
            try #require(poll { run.stdout == "ready\n" }, "the container never became ready: \(run.stdout)")
            let killed = sandbox.skiff("kill", id, "9")
            #expect(killed.succeeded, "\(killed)")
            let outcome = run.wait(timeout: 10)
            #expect(outcome.status == 137 && !outcome.signaled, "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func listShowsEveryContainer() throws {
        try Sandbox.with { sandbox in
            let created = sandbox.id("list-a")
            let running = sandbox.id("list-b")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            #expect(sandbox.skiff("create", "--bundle", bundle, created).succeeded)
            #expect(sandbox.skiff("run", "--detach", "--bundle", bundle, running).succeeded)

            let table = sandbox.skiff("list")
            #expect(table.succeeded, "\(table)")
            let rows = table.lines.map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(rows.first?.prefix(3) == ["ID", "PID", "STATUS"])
            let statuses = Dictionary(rows.dropFirst().map { ($0.first ?? "", $0.count > 2 ? $0[2] : "") }) { a, _ in a }
            #expect(statuses == [created: "created", running: "running"], "\(table.stdout)")

            let quiet = sandbox.skiff("list", "-q")
            #expect(quiet.succeeded, "\(quiet)")
            #expect(quiet.lines.sorted() == [created, running].sorted())

            let json = sandbox.skiff("list", "--format", "json")
            #expect(json.succeeded, "\(json)")
            let entries = try #require(
                try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], "\(json)")
            let byID = Dictionary(entries.map { ($0["id"] as? String ?? "", $0) }) { a, _ in a }
            #expect(Set(byID.keys) == [created, running])
            #expect(byID[created]?["status"] as? String == "created")
            #expect(byID[running]?["status"] as? String == "running")
            #expect(byID[running]?["bundle"] as? String == bundle)
            // runc's fields: the spec version, the rootfs, and the owner by name.
            #expect(byID[running]?["ociVersion"] as? String != nil)
            #expect((byID[running]?["rootfs"] as? String)?.hasSuffix("rootfs") == true)
            #expect(byID[running]?["owner"] as? String == "root")
            let firstKey = json.stdout.drop { $0 != "{" }.dropFirst().prefix { $0 != ":" }
            #expect(firstKey == "\"ociVersion\"", "\(json.stdout)")
            #expect((byID[running]?["pid"] as? Int ?? 0) > 0)

            // runc: -q wins over --format.
            let both = sandbox.skiff("list", "--format", "json", "-q")
            #expect(both.succeeded, "\(both)")
            #expect(both.lines.sorted() == [created, running].sorted())

            for id in [created, running] {
                #expect(sandbox.skiff("delete", "--force", id).succeeded)
                #expect(sandbox.leftovers(id: id) == [])
            }
            let empty = sandbox.skiff("list", "-q")
            #expect(empty.succeeded && empty.stdout == "", "\(empty)")
        }
    }

    @Test func deleteOfACreatedContainerKillsItsInit() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("delcreated")
            let bundle = try sandbox.bundle(args: sh("echo must-not-run"))
            let create = try sandbox.spawn(["create", "--bundle", bundle, id])
            #expect(create.wait().succeeded)
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)

            let deleted = sandbox.skiff("delete", id)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(poll { !isAlive(pid) }, "init \(pid) still exists")
            #expect(create.stdout == "")
            #expect(sandbox.state(id) == nil)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func deleteOfARunningContainerNeedsForce() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("delrunning")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            #expect(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)

            let refused = sandbox.skiff("delete", id)
            #expect(refused.status != 0, "\(refused)")
            #expect(refused.stderrLines.count == 1 && refused.stderr.contains(id), "\(refused)")
            #expect(sandbox.status(id) == "running")

            let forced = sandbox.skiff("delete", "--force", id)
            #expect(forced.succeeded, "\(forced)")
            #expect(sandbox.state(id) == nil)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func forcedDeleteOfAnUnknownIdSucceeds() throws {
        try Sandbox.with { sandbox in
            let outcome = sandbox.skiff("delete", "--force", "it-never-created")
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stderr == "")
        }
    }

    @Test func noPivotRunsInTheRootfs() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("nopivot")
            let bundle = try sandbox.bundle(args: sh("echo $$; cat /etc/hostname; ls /; test -e \(Paths.repository) && echo host-visible; true"))
            let outcome = sandbox.skiff("run", "--no-pivot", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            let expected = try FileManager.default.contentsOfDirectory(atPath: Paths.rootfs).sorted()
            #expect(outcome.lines.first == "1")
            #expect(outcome.lines.dropFirst().first == "skiff")
            #expect(Array(outcome.lines.dropFirst(2)) == expected)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func cgroupNamespaceHidesTheHostPath() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cgns")
            let bundle = try sandbox.bundle(args: ["cat", "/proc/self/cgroup"])
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(!outcome.lines.isEmpty)
            for line in outcome.lines {
                #expect(line.hasSuffix(":/"), "cgroup seen inside: \(line)")
            }
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func bundleDefaultsToTheCurrentDirectory() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cwdbundle")
            let bundle = try sandbox.bundle(args: ["true"])
            let outcome = sandbox.skiff(["create", id], in: bundle)
            #expect(outcome.succeeded, "\(outcome)")
            // The state records the bundle as an absolute path, as runc does.
            #expect(sandbox.state(id)?["bundle"] as? String == bundle)
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func rootPathIsRelativeToTheBundle() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("relroot")
            let bundle = try sandbox.bundle(args: ["cat", "/etc/hostname"]) { $0.root = Root(path: "rootfs", readonly: true) }
            try FileManager.default.createSymbolicLink(atPath: bundle + "/rootfs", withDestinationPath: Paths.rootfs)
            // Run from elsewhere: "rootfs" must not be taken relative to skiff's cwd.
            let outcome = sandbox.skiff(["run", "--bundle", bundle, id], in: "/")
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "skiff\n")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func initKilledFromOutsideShowsStopped() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("extkill")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            #expect(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)
            kill(pid_t(pid), SIGKILL)
            #expect(sandbox.waitFor(id, status: "stopped"), "status: \(sandbox.status(id) ?? "none")")
            let deleted = sandbox.skiff("delete", id)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func killOfACreatedContainerStopsIt() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("killcreated")
            let bundle = try sandbox.bundle(args: sh("echo must-not-run"))
            let create = try sandbox.spawn(["create", "--bundle", bundle, id])
            #expect(create.wait().succeeded)
            let killed = sandbox.skiff("kill", id, "SIGKILL")
            #expect(killed.succeeded, "\(killed)")
            #expect(sandbox.waitFor(id, status: "stopped"), "status: \(sandbox.status(id) ?? "none")")
            let started = sandbox.skiff("start", id)
            #expect(started.status != 0, "start of a stopped container: \(started)")
            #expect(create.stdout == "")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func concurrentCreatesOfOneIdLetExactlyOneWin() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("race")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            let racers = try (0..<3).map { _ in try sandbox.spawn(["create", "--bundle", bundle, id]) }
            let outcomes = racers.map { $0.wait() }
            #expect(outcomes.filter(\.succeeded).count == 1, "\(outcomes)")
            for outcome in outcomes where !outcome.succeeded {
                #expect(outcome.stderrLines.count == 1 && outcome.stderr.contains(id), "\(outcome)")
            }
            #expect(sandbox.status(id) == "created")
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)
            #expect(isAlive(pid))
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func customCgroupsPathIsUsedAndRemoved() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cgpath")
            let parent = "/skiff-it-\(UUID().uuidString.prefix(8).lowercased())"
            let cgroup = parent + "/" + id
            let bundle = try sandbox.bundle(args: ["sleep", "1000"]) { $0.linux?.cgroupsPath = cgroup }
            defer {
                for mount in MountInfo.host() where mount.fsType.hasPrefix("cgroup") {
                    rmdir(mount.mountPoint + parent)
                }
            }
            #expect(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)
            let lines = (readFile("/proc/\(pid)/cgroup") ?? "").split(separator: "\n")
            #expect(!lines.isEmpty)
            for line in lines {
                #expect(line.hasSuffix(":" + cgroup), "init's cgroup: \(line)")
            }
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id, cgroup: cgroup) == [])
        }
    }

    @Test func errorsAreLoggedAsJSONForShims() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("log")
            let log = sandbox.path("log.json")
            var spec = try Sandbox.baseSpec()
            spec.process?.args = ["true"]
            var tree = try JSONSerialization.jsonObject(with: try spec.jsonData())
            tree = editJSON(tree, ["process", "cwd"], nil)
            let bundle = try sandbox.bundle(config: try JSONSerialization.data(withJSONObject: tree))
            let outcome = sandbox.skiff("--log", log, "--log-format", "json", "create", "--bundle", bundle, id)
            #expect(outcome.status == 1, "\(outcome)")
            #expect(outcome.stderrLines.count == 1 && outcome.stderr.contains("process.cwd"), "\(outcome)")
            // containerd's shim shows the msg of the last error entry.
            let last = try #require(readFile(log)?.split(separator: "\n").last, "no log written")
            let entry = try #require(
                try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "not JSON: \(last)")
            #expect(entry["level"] as? String == "error")
            #expect((entry["msg"] as? String)?.contains("process.cwd") == true, "\(entry)")
            #expect(entry["time"] is String, "\(entry)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func detachedRunWritesARelativePidFile() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("pidfile")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            // Relative to skiff's cwd, as runc takes it.
            let outcome = sandbox.skiff(["run", "--detach", "--pid-file", "run.pid", "--bundle", bundle, id], in: sandbox.directory)
            #expect(outcome.succeeded, "\(outcome)")
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)
            #expect(readFile(sandbox.path("run.pid"))?.trimmingCharacters(in: .whitespacesAndNewlines) == String(pid))
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// Without a pid namespace of its own a container's processes outlive its init: run's
    /// delete finds the cgroup busy, kills what is left and removes it all, as runc run does
    /// (runc beside it: its left-behind sleep is gone too).
    @Test func processesLeftWithoutAPidNamespaceAreKilledByRunsDelete() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("nopidns")
            let bundle = try sandbox.bundle(args: sh("sleep 1000 & echo started")) {
                $0.linux?.namespaces?.removeAll { $0.type == .pid }
            }
            let outcome = sandbox.skiff(["run", "--bundle", bundle, id], timeout: slow)
            #expect(outcome.succeeded && outcome.stdout == "started\n", "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])

            let runc = try runcRun(sandbox, bundle: bundle, id: id)
            #expect(runc.succeeded && runc.stdout == "started\n", "runc: \(runc)")
            #expect(sandbox.leftovers(id: id + "-runc", cgroup: "/" + id + "-runc") == [], "runc left its container's processes")
        }
    }

    /// The pid file is written with init's records, before init is ready (so "committed" can
    /// go with them): a create that then fails inside init (a bind source that does not
    /// exist) removes it again and leaves nothing, as runc, which writes it only after a
    /// create that succeeded, leaves none either.
    @Test func aCreateThatFailsInInitLeavesNoPidFile() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("pidfail")
            let bundle = try sandbox.bundle(args: ["true"]) {
                $0.mounts?.append(Mount(destination: "/mnt/missing", type: "bind", source: sandbox.path("missing"),
                                        options: ["bind"]))
            }
            let pidFile = sandbox.path("create.pid")
            let create = sandbox.skiff("create", "--pid-file", pidFile, "--bundle", bundle, id)
            #expect(!create.succeeded && create.stderr.contains("missing"), "\(create)")
            #expect(!FileManager.default.fileExists(atPath: pidFile), "skiff left its pid file")
            #expect(sandbox.leftovers(id: id) == [])

            let runcPidFile = sandbox.path("runc.pid")
            let runc = execute("/usr/sbin/runc", ["--root", sandbox.path("runc-root"), "create", "--pid-file", runcPidFile,
                                                  "--bundle", bundle, id + "-runc"])
            #expect(!runc.succeeded, "runc: \(runc)")
            #expect(!FileManager.default.fileExists(atPath: runcPidFile), "runc left its pid file")
            _ = execute("/usr/sbin/runc", ["--root", sandbox.path("runc-root"), "delete", "--force", id + "-runc"])
        }
    }

    @Test(arguments: [0, 1, 126, 255])
    func exitCodesPassThrough(_ code: Int) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("code")
            let bundle = try sandbox.bundle(args: sh("exit \(code)"))
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.status == Int32(code) && !outcome.signaled, "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func parallelRunsInOneRoot() throws {
        try Sandbox.with { sandbox in
            let bundle = try sandbox.bundle(args: sh("echo $$"))
            let ids = (0..<8).map { sandbox.id("par\($0)") }
            let runs = try ids.map { try sandbox.spawn(["run", "--bundle", bundle, $0]) }
            let outcomes = runs.map { $0.wait() }
            for outcome in outcomes {
                #expect(outcome.succeeded && outcome.stdout == "1\n", "\(outcome)")
            }
            let list = sandbox.skiff("list", "-q")
            #expect(list.succeeded && list.stdout == "", "\(list)")
            for id in ids {
                #expect(sandbox.leftovers(id: id) == [])
            }
        }
    }

    @Test func missingStateRootIsCreated() throws {
        try Sandbox.with { sandbox in
            let root = sandbox.path("nested/state/root")
            let id = sandbox.id("newroot")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            let created = execute(Paths.binary, ["--root", root, "create", "--bundle", bundle, id])
            #expect(created.succeeded, "\(created)")
            let state = execute(Paths.binary, ["--root", root, "state", id])
            #expect(state.succeeded && state.stdout.contains("\"created\""), "\(state)")
            let deleted = execute(Paths.binary, ["--root", root, "delete", "--force", id])
            #expect(deleted.succeeded, "\(deleted)")
            #expect(!FileManager.default.fileExists(atPath: root + "/" + id))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func signalNamesAndNumbers() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("signames")
            let control = try Control(sandbox)
            let script = "trap 'echo got >> /tmp/ctl/log' USR1; echo > /tmp/ctl/ready; while :; do usleep 5000; done"
            let bundle = try sandbox.bundle(args: sh(script)) { $0.mounts?.append(control.mount) }
            #expect(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            try #require(poll { control.read("ready") != nil }, "the container never became ready")
            for (index, signal) in ["USR1", "SIGUSR1", String(SIGUSR1)].enumerated() {
                let outcome = sandbox.skiff("kill", id, signal)
                #expect(outcome.succeeded, "kill \(signal): \(outcome)")
                let expected = String(repeating: "got\n", count: index + 1)
                #expect(poll { control.read("log") == expected }, "after kill \(signal): \(control.read("log") ?? "nothing")")
            }
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
