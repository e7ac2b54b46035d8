import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The runtime-spec hooks skiff runs in the runtime's namespaces (prestart, createRuntime,
/// poststart, poststop): when, with which state on stdin, and what a failure does.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct HookTests {
    /// A host script recording its kind, its environment, the state it was given, where the
    /// container's root and mount namespace were at the time, then exiting with `$2`.
    static func recorder(in sandbox: Sandbox) throws -> (script: String, log: String) {
        let log = sandbox.path("hooks")
        try FileManager.default.createDirectory(atPath: log, withIntermediateDirectories: true)
        let script = sandbox.path("hook.sh")
        try """
        #!/bin/sh
        cat > \(log)/$1.json
        pid=$(sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p' \(log)/$1.json)
        if [ -n "$pid" ]; then
            readlink /proc/$pid/root > \(log)/$1.root
            [ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && echo own > \(log)/$1.mntns
        fi
        echo "$HOOK_VAR" > \(log)/$1.env
        echo $1 >> \(log)/order
        exit ${2:-0}
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        return (script, log)
    }

    static func hook(_ script: String, _ kind: String, exit: Int = 0, timeout: Int? = nil) -> Hook {
        Hook(path: script, args: ["hook.sh", kind, String(exit)], env: ["HOOK_VAR=for-\(kind)"], timeout: timeout)
    }

    static func json(_ path: String) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }

    static func text(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    @Test func runtimeHooksRunInOrderWithTheState() throws {
        try Sandbox.with { sandbox in
            let (script, log) = try Self.recorder(in: sandbox)
            // A process that outlives the poststart hook: with `true` the state the hook gets
            // could be "stopped" (it can exit before the state is read, under load; runc reads
            // its poststart state at that moment too), and the test was flaky.
            let bundle = try sandbox.bundle(args: ["sleep", "1"]) { spec in
                spec.hooks = Hooks(prestart: [Self.hook(script, "prestart")], createRuntime: [Self.hook(script, "createRuntime")],
                                   poststart: [Self.hook(script, "poststart")], poststop: [Self.hook(script, "poststop")])
            }
            let id = sandbox.id("hooks")
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(created.succeeded, "\(created)")
            #expect(Self.text(log + "/order") == "prestart\ncreateRuntime", "only the create hooks so far")
            #expect(sandbox.skiff("start", id).succeeded)
            #expect(sandbox.waitFor(id, status: "stopped"))
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(Self.text(log + "/order") == "prestart\ncreateRuntime\npoststart\npoststop")

            for kind in ["prestart", "createRuntime"] {
                let state = Self.json(log + "/\(kind).json")
                #expect(state["id"] as? String == id && state["status"] as? String == "creating", "\(kind): \(state)")
                #expect(state["bundle"] as? String == bundle)
                #expect((state["pid"] as? Int ?? 0) > 0)
                // In the container's namespaces already, before pivot_root: the hook still sees
                // the host's root from the container's init.
                #expect(Self.text(log + "/\(kind).root") == "/", "\(kind) ran after pivot_root")
                #expect(Self.text(log + "/\(kind).mntns") == "own", "\(kind) ran before the mount namespace existed")
                #expect(Self.text(log + "/\(kind).env") == "for-\(kind)")
            }
            #expect(Self.json(log + "/poststart.json")["status"] as? String == "running")
            let poststop = Self.json(log + "/poststop.json")
            #expect(poststop["status"] as? String == "stopped" && poststop["pid"] == nil, "\(poststop)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A create hook that fails fails create, names the hook, and leaves nothing behind.
    @Test func aFailingCreateRuntimeHookFailsCreate() throws {
        try Sandbox.with { sandbox in
            let (script, log) = try Self.recorder(in: sandbox)
            let bundle = try sandbox.bundle(args: ["true"]) { spec in
                spec.hooks = Hooks(createRuntime: [Self.hook(script, "createRuntime", exit: 3)],
                                   poststart: [Self.hook(script, "poststart")])
            }
            let id = sandbox.id("hook-fails")
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(!created.succeeded)
            #expect(created.stderrLines.count == 1, "\(created)")
            #expect(created.stderr.contains("hooks.createRuntime[0] \(script): exit status 3"), "\(created)")
            #expect(Self.text(log + "/order") == "createRuntime")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func aHookThatOutlivesItsTimeoutIsKilled() throws {
        try Sandbox.with { sandbox in
            let bundle = try sandbox.bundle(args: ["true"]) { spec in
                spec.hooks = Hooks(prestart: [Hook(path: "/bin/sleep", args: ["sleep", "30"], timeout: 1)])
            }
            let id = sandbox.id("hook-timeout")
            let started = Date()
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(!created.succeeded)
            #expect(created.stderr.contains("hooks.prestart[0] /bin/sleep: timed out after 1s"), "\(created)")
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// poststart and poststop failures are warnings: the container starts and is deleted.
    @Test func failingPoststartAndPoststopHooksAreWarnings() throws {
        try Sandbox.with { sandbox in
            let (script, log) = try Self.recorder(in: sandbox)
            let bundle = try sandbox.bundle(args: ["true"]) { spec in
                spec.hooks = Hooks(poststart: [Self.hook(script, "poststart", exit: 4), Self.hook(script, "poststart2")],
                                   poststop: [Hook(path: sandbox.path("missing-hook"))])
            }
            let id = sandbox.id("hook-warn")
            #expect(sandbox.skiff("create", "--bundle", bundle, id).succeeded)
            let start = sandbox.skiff("start", id)
            #expect(start.succeeded, "\(start)")
            #expect(start.stderr.contains("hooks.poststart[0]") && start.stderr.contains("exit status 4"), "\(start)")
            #expect(Self.text(log + "/order") == "poststart\npoststart2", "the hooks after a failed one still run")
            #expect(sandbox.waitFor(id, status: "stopped"))
            let delete = sandbox.skiff("delete", id)
            #expect(delete.succeeded, "\(delete)")
            #expect(delete.stderr.contains("hooks.poststop[0]") && delete.stderr.contains("no such file or directory"), "\(delete)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A script for the hooks that run in the container: it records the state, its mount
    /// namespace and hostname, and whether it still sees the host's tree (the bundle), into
    /// `$2`, then exits with `$3`. The sandbox directory is bind-mounted at /hooks, so the same
    /// script serves before pivot_root (by its host path) and after (as /hooks/chook.sh).
    static func containerRecorder(in sandbox: Sandbox) throws -> String {
        let script = sandbox.path("chook.sh")
        try """
        #!/bin/sh
        cat > $2/$1.json
        readlink /proc/self/ns/mnt > $2/$1.mntns
        hostname > $2/$1.hostname
        bundle=$(sed -n 's/.*"bundle":"\\([^"]*\\)".*/\\1/p' $2/$1.json)
        if [ -e "$bundle/config.json" ]; then echo host > $2/$1.root; else echo container > $2/$1.root; fi
        echo $1 >> $2/order
        exit ${3:-0}
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        return script
    }

    static func containerHooks(_ sandbox: Sandbox, _ script: String, createExit: Int = 0, startExit: Int = 0,
                               startTimeout: Int? = nil) -> (inout Spec) -> Void {
        { spec in
            spec.mounts?.append(Mount(destination: "/hooks", type: "bind", source: sandbox.directory, options: ["rbind", "rw"]))
            spec.hooks = Hooks(
                createRuntime: [Self.hook(script.replacingOccurrences(of: "chook.sh", with: "hook.sh"), "createRuntime")],
                createContainer: [Hook(path: script, args: ["chook.sh", "createContainer", sandbox.directory, String(createExit)])],
                startContainer: [Hook(path: "/hooks/chook.sh", args: ["chook.sh", "startContainer", "/hooks", String(startExit)],
                                      timeout: startTimeout)])
        }
    }

    /// createContainer runs in the container's mount namespace before pivot_root (the host's
    /// tree still visible), after createRuntime; startContainer after start, in the container's
    /// namespaces and root, before the process; both with the state, pid as the host sees it.
    @Test func containerHooksRunInTheContainerAtTheSpecsPoints() throws {
        try Sandbox.with { sandbox in
            let script = try Self.containerRecorder(in: sandbox)
            _ = try Self.recorder(in: sandbox)
            let log = sandbox.directory
            let bundle = try sandbox.bundle(args: sh("echo process >> /hooks/order; readlink /proc/self/ns/mnt > /hooks/process.mntns"),
                                            configure: Self.containerHooks(sandbox, script))
            let id = sandbox.id("chooks")
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(created.succeeded, "\(created)")
            #expect(Self.text(log + "/order") == "createContainer")
            #expect(Self.text(log + "/hooks/order") == "createRuntime", "createRuntime came first")
            let pid = sandbox.state(id)?["pid"] as? Int
            #expect(sandbox.skiff("start", id).succeeded)
            #expect(sandbox.waitFor(id, status: "stopped"))
            #expect(Self.text(log + "/order") == "createContainer\nstartContainer\nprocess")

            let hostNamespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")) ?? ""
            let processNamespace = Self.text(log + "/process.mntns")
            #expect(!processNamespace.isEmpty && processNamespace != hostNamespace)
            for (kind, status, root) in [("createContainer", "creating", "host"), ("startContainer", "created", "container")] {
                let state = Self.json(log + "/\(kind).json")
                #expect(state["id"] as? String == id && state["status"] as? String == status, "\(kind): \(state)")
                #expect(state["bundle"] as? String == bundle)
                #expect(pid != nil && state["pid"] as? Int == pid, "\(kind): \(state)")
                #expect(Self.text(log + "/\(kind).mntns") == processNamespace, "\(kind) ran outside the container's mount namespace")
                #expect(Self.text(log + "/\(kind).root") == root, "\(kind) ran on the wrong side of pivot_root")
            }
            #expect(Self.text(log + "/startContainer.hostname") == "skiff", "startContainer is in the container's uts namespace")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func aFailingCreateContainerHookFailsCreate() throws {
        try Sandbox.with { sandbox in
            let script = try Self.containerRecorder(in: sandbox)
            _ = try Self.recorder(in: sandbox)
            let bundle = try sandbox.bundle(args: ["true"], configure: Self.containerHooks(sandbox, script, createExit: 3))
            let id = sandbox.id("chook-fails")
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(!created.succeeded)
            #expect(created.stderr.contains("hooks.createContainer[0] \(script): exit status 3"), "\(created)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// `run` releases the process as soon as init is committed (exec.fifo's reader is opened
    /// before), yet keeps the spec's points: createContainer, then startContainer in the
    /// container, then the process, and poststart, with the container running, before `run`
    /// waits for it. The run's exit status is the process's.
    @Test func runKeepsTheHookPointsOfCreateAndStart() throws {
        try Sandbox.with { sandbox in
            let script = try Self.containerRecorder(in: sandbox)
            _ = try Self.recorder(in: sandbox)
            let log = sandbox.directory
            let bundle = try sandbox.bundle(args: sh("echo process >> /hooks/order; sleep 0.5; exit 7")) { spec in
                Self.containerHooks(sandbox, script)(&spec)
                spec.hooks?.poststart = [Hook(path: script, args: ["chook.sh", "poststart", log])]
            }
            let id = sandbox.id("run-hooks")
            let run = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(run.status == 7, "\(run)")
            let order = Self.text(log + "/order").split(separator: "\n").map(String.init)
            #expect(order.prefix(2) == ["createContainer", "startContainer"], "\(order)")
            #expect(Set(order.dropFirst(2)) == ["process", "poststart"] && order.count == 4, "\(order)")
            let poststart = Self.json(log + "/poststart.json")
            #expect(poststart["status"] as? String == "running", "poststart: \(poststart)")
            #expect((poststart["pid"] as? Int ?? 0) > 0, "poststart: \(poststart)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A startContainer hook that fails under `run`: run fails with its reason, the process never
    /// runs and nothing is left — as runc run on the same bundle (which also fails and never runs
    /// the process).
    @Test func aFailingStartContainerHookFailsRun() throws {
        try Sandbox.with { sandbox in
            let script = try Self.containerRecorder(in: sandbox)
            _ = try Self.recorder(in: sandbox)
            let bundle = try sandbox.bundle(args: sh("echo process >> /hooks/order"),
                                            configure: Self.containerHooks(sandbox, script, startExit: 3))
            let id = sandbox.id("run-shook")
            let run = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(!run.succeeded)
            #expect(run.stderr.contains("hooks.startContainer[0] /hooks/chook.sh: exit status 3"), "\(run)")
            #expect(!Self.text(sandbox.path("order")).contains("process"), "the process ran after a failed startContainer hook")
            #expect(sandbox.leftovers(id: id) == [])

            try "".write(toFile: sandbox.path("order"), atomically: true, encoding: .utf8)
            let runc = try runcRun(sandbox, bundle: bundle, id: id)
            #expect(!runc.succeeded, "runc: \(runc)")
            #expect(Self.text(sandbox.path("order")) == "createContainer\nstartContainer", "runc")
        }
    }

    /// A failing (or timed-out) startContainer hook fails start with its reason; the process
    /// never runs and the container is stopped (the spec: generate an error, stop the container).
    @Test(arguments: [(3, nil), (0, 1)] as [(Int, Int?)])
    func aFailingStartContainerHookFailsStart(exit: Int, timeout: Int?) throws {
        try Sandbox.with { sandbox in
            let script = try Self.containerRecorder(in: sandbox)
            _ = try Self.recorder(in: sandbox)
            let bundle = try sandbox.bundle(args: sh("echo process >> /hooks/order"),
                                            configure: Self.containerHooks(sandbox, script, startExit: exit, startTimeout: timeout))
            let id = sandbox.id("shook-fails")
            #expect(sandbox.skiff("create", "--bundle", bundle, id).succeeded)
            if timeout != nil {
                // createContainer has run; startContainer now finds a hook that never ends.
                try "#!/bin/sh\nsleep 30\n".write(toFile: script, atomically: false, encoding: .utf8)
            }
            let started = Date()
            let start = sandbox.skiff("start", id)
            #expect(!start.succeeded)
            let reason = timeout == nil ? "exit status 3" : "timed out after 1s"
            #expect(start.stderr.contains("hooks.startContainer[0] /hooks/chook.sh: \(reason)"), "\(start)")
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(sandbox.waitFor(id, status: "stopped"))
            #expect(!Self.text(sandbox.path("order")).contains("process"), "the process ran after a failed startContainer hook")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
