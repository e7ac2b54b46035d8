import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How a foreground skiff is started for a signal test.
enum Foreground: String, CustomStringConvertible, CaseIterable {
    case run, exec, runTerminal, execTerminal

    var description: String { rawValue }
    var terminal: Bool { self == .runTerminal || self == .execTerminal }
}

/// Signals to a foreground `skiff run`/`exec` reach the container's process; `kill --all`
/// reaches every process of the container.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct SignalTests {
    /// Starts `script` in the foreground as `mode` says, waits until it printed "ready", calls
    /// `act` with skiff's pid and returns skiff's outcome.
    func foreground(
        _ mode: Foreground, _ sandbox: Sandbox, script: String, sourceLocation: SourceLocation = #_sourceLocation,
        act: (Int32) -> Void
    ) throws -> Outcome {
        var command: [String]
        if mode == .run || mode == .runTerminal {
            let bundle = try sandbox.bundle(args: sh(script)) { $0.process?.terminal = mode.terminal }
            command = ["run", "--bundle", bundle, sandbox.id("fg")]
        } else {
            let container = try sandbox.runningContainer("fg")
            command = ["exec"] + (mode.terminal ? ["-t"] : []) + [container.id] + sh(script)
        }
        if mode.terminal {
            let pty = try PseudoTerminal()
            let launched = try pty.launchSkiff(sandbox, command)
            try #require(pty.master.read { $0.hasLine("ready") }, "never ready: \(pty.master.output.debugDescription)",
                         sourceLocation: sourceLocation)
            act(launched.pid)
            let outcome = launched.wait(timeout: 10)
            pty.master.readAvailable()
            return outcome
        }
        let spawned = try LaunchedSkiff(sandbox, command)
        try #require(poll(timeout: 10) { spawned.stdout == "ready\n" }, "never ready: \(spawned.stdout.debugDescription)",
                     sourceLocation: sourceLocation)
        act(spawned.pid)
        return spawned.wait(timeout: 10)
    }

    @Test(arguments: Foreground.allCases)
    func sigtermToSkiffReachesTheProcess(_ mode: Foreground) throws {
        try Sandbox.with { sandbox in
            let outcome = try foreground(mode, sandbox, script: "trap 'exit 7' TERM; echo ready; sleep 1000 & wait") {
                kill($0, SIGTERM)
            }
            #expect(outcome.status == 7 && !outcome.signaled, "\(outcome)")
            for id in sandbox.ids where mode == .run || mode == .runTerminal {
                #expect(sandbox.leftovers(id: id) == [])
            }
        }
    }

    @Test(arguments: [(SIGINT, "INT", 130), (SIGHUP, "HUP", 129), (SIGUSR2, "USR2", 140)])
    func execForwardsEachSignal(_ signal: Int32, _ name: String, _ code: Int32) throws {
        try Sandbox.with { sandbox in
            // The first delivery is trapped, so the shell reports it; the exit code shows the
            // signal was forwarded as itself.
            let script = "trap 'trap - \(name); kill -\(name) $$' \(name); echo ready; sleep 1000 & wait"
            let outcome = try foreground(.exec, sandbox, script: script) { kill($0, signal) }
            #expect(outcome.status == code && !outcome.signaled, "\(outcome)")
        }
    }

    @Test(arguments: [Foreground.runTerminal, .execTerminal])
    func ctrlCReachesTheProcessThroughTheTerminal(_ mode: Foreground) throws {
        try Sandbox.with { sandbox in
            // The caller's terminal is raw: ^C is a byte for the container's pty, whose line
            // discipline turns it into SIGINT for the container's foreground job, not skiff's.
            let script = "trap 'echo got-int; exit 9' INT; echo ready; while :; do usleep 20000; done"
            let pty = try PseudoTerminal()
            var command: [String]
            if mode == .runTerminal {
                let bundle = try sandbox.bundle(args: sh(script)) { $0.process?.terminal = true }
                command = ["run", "--bundle", bundle, sandbox.id("ctrlc")]
            } else {
                let container = try sandbox.runningContainer("ctrlc")
                command = ["exec", "-t", container.id] + sh(script)
            }
            let launched = try pty.launchSkiff(sandbox, command)
            try #require(pty.master.read { $0.hasLine("ready") }, "never ready: \(pty.master.output.debugDescription)")
            pty.master.type("\u{03}")
            // The pty echoes ^C before the trap's output.
            #expect(pty.master.read { $0.lines.contains { $0.hasSuffix("got-int") } }, "output: \(pty.master.output.debugDescription)")
            let outcome = launched.wait(timeout: 10)
            #expect(outcome.status == 9 && !outcome.signaled, "\(outcome)")
        }
    }

    // MARK: signals before the process runs

    /// The dirs container `id`'s cgroup will have, one per hierarchy.
    func cgroupDirectories(_ id: String) -> [String] {
        MountInfo.host().filter { $0.fsType == "cgroup" || $0.fsType == "cgroup2" }
            .map { $0.mountPoint + "/skiff/" + id }
    }

    /// Removes what a skiff killed half-way may have left of container `id`, so one failure
    /// does not leak into the host.
    func scrub(_ sandbox: Sandbox, _ id: String) {
        _ = sandbox.skiff("delete", "--force", id)
        for pid in sandbox.processes(in: id) { kill(Int32(pid), SIGKILL) }
        poll { sandbox.processes(in: id).isEmpty }
        for directory in cgroupDirectories(id) { rmdir(directory) }
    }

    /// SIGTERM sent to a foreground `skiff run` at the first moment `ready(id)` holds; the
    /// container's process exits 7 on TERM or 0 after a tenth of a second anyway (a signal
    /// forwarded before the trap is set is ignored by a pid namespace's init).
    func sigtermToRun(when ready: (Sandbox, String) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("early")
            defer { scrub(sandbox, id) }
            let bundle = try sandbox.bundle(args: sh("trap 'exit 7' TERM; usleep 100000"))
            let run = try LaunchedSkiff(sandbox, ["run", "--bundle", bundle, id])
            let hit = poll(timeout: 10, interval: 0.0005) { ready(sandbox, id) }
            kill(run.pid, SIGTERM)
            try #require(hit, "the moment never came", sourceLocation: sourceLocation)
            let outcome = run.wait(timeout: 10)
            // skiff stays the parent until the process is gone, whenever the signal came.
            #expect(!outcome.signaled && !outcome.timedOut && [0, 7].contains(outcome.status), "\(outcome)",
                    sourceLocation: sourceLocation)
            #expect(poll(timeout: 2) { sandbox.leftovers(id: id) == [] }, "\(sandbox.leftovers(id: id))",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func sigtermWhileTheContainerIsBeingCreated() throws {
        // The cgroup is made before the init is spawned.
        try sigtermToRun { _, id in cgroupDirectories(id).contains { FileManager.default.fileExists(atPath: $0) } }
    }

    @Test func sigtermRightAfterTheContainerWasCreated() throws {
        // state.json is saved once the init is ready; start and the wait come after.
        try sigtermToRun { sandbox, id in FileManager.default.fileExists(atPath: sandbox.root + "/" + id + "/state.json") }
    }

    @Test func sigtermAsSoonAsTheExecdProcessExists() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("earlyexec")
            let procs = try #require(cgroupDirectories(container.id).first { FileManager.default.fileExists(atPath: $0) })
                + "/cgroup.procs"
            let exec = try LaunchedSkiff(sandbox, ["exec", container.id] + sh("trap 'exit 7' TERM; usleep 100000"))
            // The first moment a second process is in the container's cgroup.
            let hit = poll(timeout: 10, interval: 0.0005) {
                (readFile(procs) ?? "").split(separator: "\n").count > 1
            }
            kill(exec.pid, SIGTERM)
            try #require(hit, "the exec'd process never appeared")
            let outcome = exec.wait(timeout: 10)
            // skiff itself survives and reports the process's end. A TERM forwarded before the
            // shell installed its trap acts with its default disposition (143), as with runc.
            #expect(!outcome.signaled && !outcome.timedOut && [0, 7, 143].contains(outcome.status), "\(outcome)")
            #expect(poll(timeout: 2) { sandbox.processes(in: container.id) == [container.pid] },
                    "left running: \(sandbox.processes(in: container.id).filter { $0 != container.pid })")
        }
    }

    // MARK: kill --all

    /// Host pids of `sleep <seconds>` processes.
    func sleepers(_ seconds: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int(entry), readFile("/proc/\(entry)/cmdline") == "sleep\u{0}\(seconds)\u{0}", isAlive(pid)
            else { return nil }
            return pid
        }
    }

    @Test func killAllReachesExecdProcesses() throws {
        try Sandbox.with { sandbox in
            // sleep as pid 1 ignores TERM (no handler in a pid namespace's init); the exec'd
            // ones, children of no process of the container, die of it.
            let container = try sandbox.runningContainer("killall")
            for _ in 0..<2 {
                let exec = sandbox.skiff("exec", "-d", container.id, "sleep", "1005")
                #expect(exec.succeeded, "\(exec)")
            }
            #expect(poll { sleepers("1005").count == 2 }, "\(sleepers("1005"))")
            let killed = sandbox.skiff("kill", "--all", container.id, "TERM")
            #expect(killed.succeeded, "\(killed)")
            #expect(poll { sleepers("1005").isEmpty }, "exec'd processes outlived kill --all: \(sleepers("1005"))")
            #expect(sandbox.status(container.id) == "running")
            #expect(poll { sandbox.processes(in: container.id) == [container.pid] }, "\(sandbox.processes(in: container.id))")
        }
    }

    /// A running container with a sub-cgroup "sub" in every hierarchy (made by the test, as a
    /// shim would) and a `sleep 1006` exec'd into it with `--cgroup sub`; calls `body` with the
    /// container and the sleep's host pid, then ends what is left.
    func withProcessInASubCgroup(_ body: (Sandbox, (id: String, pid: Int), Int) throws -> Void) throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("subcg")
            var made: [String] = []
            defer { for sub in made { rmdir(sub) } }
            for mount in MountInfo.host() where mount.fsType == "cgroup" || mount.fsType == "cgroup2" {
                let directory = mount.mountPoint + "/skiff/" + container.id
                guard FileManager.default.fileExists(atPath: directory) else { continue }
                let sub = directory + "/sub"
                try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
                made.append(sub)
                // A v1 cpuset takes no process before it has cpus and mems.
                for file in ["cpuset.cpus", "cpuset.mems"] where FileManager.default.fileExists(atPath: sub + "/" + file) {
                    try (readFile(directory + "/" + file) ?? "").write(toFile: sub + "/" + file, atomically: false, encoding: .utf8)
                }
            }
            try #require(!made.isEmpty, "no cgroup of the container: \(readFile("/proc/\(container.pid)/cgroup") ?? "")")
            let pidFile = sandbox.path("sub.pid")
            let exec = sandbox.skiff("exec", "-d", "--cgroup", "sub", "--pid-file", pidFile, container.id, "sleep", "1006")
            try #require(exec.succeeded, "\(exec)")
            let pid = try #require(readFile(pidFile).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            defer {
                // Whatever skiff left, so the sandbox's cleanup can go on.
                if isAlive(pid) { kill(Int32(pid), SIGKILL) }
                poll { !isAlive(pid) }
            }
            let cgroups = (readFile("/proc/\(pid)/cgroup") ?? "").split(separator: "\n")
            #expect(cgroups.allSatisfy { $0.hasSuffix("/skiff/\(container.id)/sub") }, "\(cgroups)")
            try body(sandbox, container, pid)
        }
    }

    @Test func killAllReachesAProcessInASubCgroup() throws {
        try withProcessInASubCgroup { sandbox, container, pid in
            // TERM: the init (sleep, pid 1) ignores it, so only kill --all can end the other.
            let killed = sandbox.skiff("kill", "--all", container.id, "TERM")
            #expect(killed.succeeded, "\(killed)")
            #expect(poll(timeout: 2) { !isAlive(pid) }, "the process in the sub-cgroup outlived kill --all")
            #expect(sandbox.status(container.id) == "running")
        }
    }

    @Test func deleteRemovesSubCgroups() throws {
        try withProcessInASubCgroup { sandbox, container, pid in
            // delete --force kills everything and removes the container's cgroup with what is
            // below it, as runc does.
            let deleted = sandbox.skiff("delete", "--force", container.id, timeout: 8)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(poll(timeout: 2) { !isAlive(pid) }, "the process in the sub-cgroup outlived delete --force")
            #expect(sandbox.leftovers(id: container.id) == [])
        }
    }

    @Test func killAllOfACreatedContainer() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("killall-created")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            #expect(try sandbox.spawn(["create", "--bundle", bundle, id]).wait().succeeded)
            let exec = sandbox.skiff("exec", "-d", id, "sleep", "1007")
            #expect(exec.succeeded, "\(exec)")
            #expect(poll { sleepers("1007").count == 1 })
            let killed = sandbox.skiff("kill", "--all", id, "KILL")
            #expect(killed.succeeded, "\(killed)")
            #expect(poll { sleepers("1007").isEmpty }, "\(sleepers("1007"))")
            #expect(sandbox.waitFor(id, status: "stopped"), "status: \(sandbox.status(id) ?? "none")")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
