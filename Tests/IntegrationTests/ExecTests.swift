import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Sandbox {
    /// A container started with `run --detach` (args default to a long sleep), for exec to
    /// go into; returns its id and its init's host pid.
    func runningContainer(
        _ name: String, args: [String] = ["sleep", "1000"], sourceLocation: SourceLocation = #_sourceLocation,
        configure: (inout Spec) throws -> Void = { _ in }
    ) throws -> (id: String, pid: Int) {
        let id = self.id(name)
        let bundle = try bundle("bundle-\(id)", args: args, configure: configure)
        let started = skiff("run", "--detach", "--bundle", bundle, id)
        try #require(started.succeeded, "run --detach: \(started)", sourceLocation: sourceLocation)
        let pid = try #require(state(id)?["pid"] as? Int, "no pid in the state of \(id)", sourceLocation: sourceLocation)
        return (id, pid)
    }

    /// The host pids of every live process in container `id`'s cgroup or below it, in any
    /// hierarchy, sorted.
    func processes(in id: String) -> [Int] {
        var found = Set<Int>()
        for mount in MountInfo.host() where mount.fsType == "cgroup" || mount.fsType == "cgroup2" {
            let top = mount.mountPoint + "/skiff/" + id
            guard let enumerator = FileManager.default.enumerator(atPath: top) else { continue }
            var files = [top + "/cgroup.procs"]
            while let entry = enumerator.nextObject() as? String {
                if entry.hasSuffix("/cgroup.procs") { files.append(top + "/" + entry) }
            }
            for file in files {
                for line in (readFile(file) ?? "").split(separator: "\n") {
                    if let pid = Int(line), isAlive(pid) { found.insert(pid) }
                }
            }
        }
        return found.sorted()
    }

    /// A copy of the busybox rootfs whose /etc/passwd and /etc/group are `passwd` and `group`.
    func rootfs(passwd: String, group: String) throws -> String {
        let copy = path("rootfs-copy")
        let copied = host("cp", "-a", Paths.rootfs, copy)
        try #require(copied.succeeded, "cp: \(copied)")
        try passwd.write(toFile: copy + "/etc/passwd", atomically: false, encoding: .utf8)
        try group.write(toFile: copy + "/etc/group", atomically: false, encoding: .utf8)
        return copy
    }
}

/// The namespace links of process `pid` as the host reads them (`name` → `mnt:[4026…]`).
func namespaceLinks(of pid: Int) -> [String: String] {
    var links: [String: String] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/ns")) ?? [] {
        links[name] = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(name)")
    }
    return links
}

/// `skiff exec`: a new process in a running container, seen from inside it.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct ExecTests {
    // MARK: namespaces and cgroup

    /// The links as the exec'd process reads them, for each name init has.
    func expectSameNamespaces(userNamespace: Bool, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("ns") { spec in
                spec.linux?.namespaces?.append(LinuxNamespace(type: .time))
                if userNamespace {
                    spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
                    spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                    spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                }
            }
            let expected = namespaceLinks(of: container.pid)
            try #require(expected.count >= 8, "init's namespaces: \(expected)", sourceLocation: sourceLocation)
            // The container's own namespaces, not the host's.
            let host = namespaceLinks(of: Int(getpid()))
            for name in ["mnt", "pid", "net", "ipc", "uts", "cgroup", "time"] + (userNamespace ? ["user"] : []) {
                #expect(expected[name] != host[name], "init shares the host's \(name) namespace",
                        sourceLocation: sourceLocation)
            }
            // busybox readlink takes one path per call.
            let script = expected.keys.sorted().map { "echo \($0)=$(readlink /proc/self/ns/\($0))" }.joined(separator: "; ")
            let outcome = sandbox.skiff(["exec", container.id] + sh(script + "; id -u"))
            #expect(outcome.succeeded, "\(outcome)", sourceLocation: sourceLocation)
            var seen: [String: String] = [:]
            for line in outcome.lines.dropLast() {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { seen[parts[0]] = parts[1] }
            }
            #expect(seen == expected, sourceLocation: sourceLocation)
            // In a user namespace the exec'd root is the mapped root, not the host's.
            #expect(outcome.lines.last == "0", sourceLocation: sourceLocation)
        }
    }

    @Test func execJoinsEveryNamespaceOfInit() throws {
        try expectSameNamespaces(userNamespace: false)
    }

    @Test func execJoinsEveryNamespaceOfInitWithAUserNamespace() throws {
        try expectSameNamespaces(userNamespace: true)
    }

    @Test func detachedExecRunsInInitsCgroupAndNamespaces() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("cg")
            let pidFile = sandbox.path("exec.pid")
            let outcome = sandbox.skiff("exec", "--detach", "--pid-file", pidFile, container.id, "sleep", "1001")
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "" && outcome.stderr == "")
            let text = try #require(readFile(pidFile), "no pid file")
            let pid = try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), "pid file: \(text)")
            // -d returns once the process is set up; execve may follow a moment later.
            #expect(poll { readFile("/proc/\(pid)/cmdline") == "sleep\u{0}1001\u{0}" },
                    "\(pid): \(readFile("/proc/\(pid)/cmdline") ?? "gone")")
            #expect(readFile("/proc/\(pid)/cgroup") == readFile("/proc/\(container.pid)/cgroup"))
            #expect(namespaceLinks(of: pid) == namespaceLinks(of: container.pid))
            #expect(sandbox.processes(in: container.id) == [container.pid, pid].sorted())
            // The container's pid namespace numbers it, after init.
            let inside = readFile("/proc/\(pid)/status")?.split(separator: "\n")
                .first { $0.hasPrefix("NSpid:") }?.split(separator: "\t").map(String.init)
            #expect(inside?.count == 3 && inside?.last != "1", "NSpid: \(inside ?? [])")
        }
    }

    // MARK: exit code and stdio

    @Test(arguments: [0, 3, 255])
    func exitCodeIsTheProcesses(_ code: Int32) throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("code")
            let outcome = sandbox.skiff(["exec", container.id] + sh("echo out; echo err >&2; exit \(code)"))
            #expect(outcome.status == code && !outcome.signaled, "\(outcome)")
            #expect(outcome.stdout == "out\n")
            #expect(outcome.stderr == "err\n")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func killedProcessExits128PlusSignal() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("killed")
            let outcome = sandbox.skiff(["exec", container.id] + sh("kill -KILL $$"))
            #expect(outcome.status == 137 && !outcome.signaled, "\(outcome)")
        }
    }

    @Test func stdinIsPassedThrough() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("stdin")
            let outcome = execute("/bin/sh", [
                "-c", #"printf 'one\ntwo\n' | "$@""#, "sh", Paths.binary, "--root", sandbox.root,
                "exec", container.id, "sh", "-c", "read first; echo \"got $first\"; cat",
            ])
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "got one\ntwo\n")
        }
    }

    @Test func execIntoACreatedContainerWorks() throws {
        // runc refuses exec only into a stopped (or paused) container.
        try Sandbox.with { sandbox in
            let id = sandbox.id("created")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            let create = try sandbox.spawn(["create", "--bundle", bundle, id])
            #expect(create.wait().succeeded)
            let outcome = sandbox.skiff("exec", id, "hostname")
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "skiff\n")
            #expect(sandbox.status(id) == "created")
        }
    }

    @Test func returnsWhenTheProcessExitsThoughAChildHoldsStdout() throws {
        // skiff waits for its process, not for EOF on the stdio the process passed on.
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("bgchild")
            let started = Date()
            let outcome = sandbox.skiff(["exec", container.id] + sh("sleep 1008 & echo parent-done"), timeout: 10)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "parent-done\n")
            #expect(Date().timeIntervalSince(started) < 5)
        }
    }

    @Test func processSettingsOfConfigJsonAreInherited() throws {
        // config.json: RLIMIT_NOFILE 1024, noNewPrivileges true, no umask (0022).
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("inherit") { $0.process?.user.umask = 0o027 }
            let outcome = sandbox.skiff(["exec", container.id] + sh("ulimit -n; umask; grep NoNewPrivs /proc/self/status"))
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["1024", "0027", "NoNewPrivs:\t1"])
        }
    }

    // MARK: environment

    @Test func environmentIsTheContainersPlusTheFlags() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("env")
            let outcome = sandbox.skiff("exec", "-e", "FOO=bar", "--env", "EMPTY=", container.id, "env")
            #expect(outcome.succeeded, "\(outcome)")
            // config.json's env is inherited; HOME comes from the container's /etc/passwd.
            #expect(Set(outcome.lines) == [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "FOO=bar",
                "EMPTY=", "HOME=/root",
            ])
        }
    }

    @Test func envFlagOverridesTheContainersValue() throws {
        // runc replaces a variable of config.json given again with -e. Left twice in the
        // environment, getenv("TERM") finds the first: the container's, not the caller's.
        // `env` itself is the process: a shell would tidy the duplicates away.
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("envover")
            let outcome = sandbox.skiff("exec", "-e", "TERM=dumb", "-e", "HOME=/tmp", container.id, "env")
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines.filter { $0.hasPrefix("TERM=") || $0.hasPrefix("HOME=") } == ["TERM=dumb", "HOME=/tmp"])
        }
    }

    // MARK: working directory

    @Test func cwdFlagIsTheProcessesWorkingDirectory() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("cwd") { $0.process?.cwd = "/etc" }
            // config.json's cwd by default, --cwd when given.
            let inherited = sandbox.skiff("exec", container.id, "pwd")
            #expect(inherited.succeeded, "\(inherited)")
            #expect(inherited.stdout == "/etc\n")
            let given = sandbox.skiff(["exec", "--cwd", "/tmp", container.id] + sh("pwd; readlink /proc/self/cwd"))
            #expect(given.succeeded, "\(given)")
            #expect(given.lines == ["/tmp", "/tmp"])
        }
    }

    /// An unusable cwd fails the exec with its reason, and leaves no pid file (written with the
    /// records before init is ready, removed again; runc writes it only after success).
    @Test(arguments: ["/does-not-exist", "/etc/passwd"])
    func unusableCwdIsAClearError(_ cwd: String) throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("badcwd")
            let pidFile = sandbox.path("exec.pid")
            let outcome = sandbox.skiff("exec", "--pid-file", pidFile, "--cwd", cwd, container.id, "pwd")
            expectRejected(outcome, mentioning: ["chdir", cwd], in: sandbox, id: "")
            #expect(!FileManager.default.fileExists(atPath: pidFile), "a pid file naming a process that is gone")
            #expect(sandbox.processes(in: container.id) == [container.pid])
            // Exec does not create it, unlike create does for config.json's cwd.
            let check = sandbox.skiff("exec", container.id, "ls", "-d", "/does-not-exist")
            #expect(!check.succeeded)
        }
    }

    @Test func relativeCwdIsAClearError() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("relcwd")
            let outcome = sandbox.skiff("exec", "--cwd", "tmp", container.id, "pwd")
            expectRejected(outcome, mentioning: ["cwd"], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func envWithoutAnEqualsSignIsAClearError() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("badenv")
            let outcome = sandbox.skiff("exec", "-e", "NO_VALUE", container.id, "env")
            expectRejected(outcome, mentioning: ["NO_VALUE"], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    // MARK: user and groups

    @Test func numericUserAndGroup() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("uid")
            let both = sandbox.skiff(["exec", "-u", "1234:5678", container.id] + sh("id -u; id -g; id -G"))
            #expect(both.succeeded, "\(both)")
            #expect(both.lines == ["1234", "5678", "5678"])
            // A uid alone keeps config.json's gid, as runc does.
            let uidOnly = sandbox.skiff(["exec", "--user", "1234", container.id] + sh("id -u; id -g"))
            #expect(uidOnly.succeeded, "\(uidOnly)")
            #expect(uidOnly.lines == ["1234", "0"])
        }
    }

    /// A container whose /etc/passwd has users the host does not have, or has with other ids.
    func containerWithOwnUsers(_ sandbox: Sandbox) throws -> (id: String, pid: Int) {
        try #require(getpwnam("skiffonly") == nil, "the host has a user skiffonly")
        try #require(getpwnam("daemon").map { $0.pointee.pw_uid } != 4545, "the host's daemon is 4545")
        let rootfs = try sandbox.rootfs(
            passwd: """
                root:x:0:0:root:/root:/bin/sh
                skiffonly:x:4242:4242:only here:/home/skiffonly:/bin/sh
                daemon:x:4545:4546::/:/bin/sh

                """,
            group: """
                root:x:0:
                skiffonly:x:4242:
                skiffgrp:x:4343:skiffonly
                daemon:x:4546:

                """)
        return try sandbox.runningContainer("names") { $0.root = Root(path: rootfs, readonly: true) }
    }

    @Test func userNamesComeFromTheContainersPasswd() throws {
        try Sandbox.with { sandbox in
            let container = try containerWithOwnUsers(sandbox)
            let onlyHere = sandbox.skiff(["exec", "-u", "skiffonly", container.id] + sh("id -u; id -g; echo $HOME"))
            #expect(onlyHere.succeeded, "\(onlyHere)")
            #expect(onlyHere.lines == ["4242", "4242", "/home/skiffonly"])
            // "daemon" is uid 1 on the host; the container's says 4545 (crun CVE-2026-30892).
            let shadowed = sandbox.skiff(["exec", "-u", "daemon", container.id] + sh("id -u; id -g"))
            #expect(shadowed.succeeded, "\(shadowed)")
            #expect(shadowed.lines == ["4545", "4546"])
            let withGroup = sandbox.skiff(["exec", "-u", "skiffonly:skiffgrp", container.id] + sh("id -u; id -g"))
            #expect(withGroup.succeeded, "\(withGroup)")
            #expect(withGroup.lines == ["4242", "4343"])
            let numericGroup = sandbox.skiff(["exec", "-u", "skiffonly:77", container.id] + sh("id -u; id -g"))
            #expect(numericGroup.succeeded, "\(numericGroup)")
            #expect(numericGroup.lines == ["4242", "77"])
        }
    }

    @Test(arguments: [("nosuchuser", "nosuchuser"), ("skiffonly:nosuchgroup", "nosuchgroup")])
    func userOrGroupMissingFromTheContainerIsAClearError(_ spec: String, _ named: String) throws {
        try Sandbox.with { sandbox in
            let container = try containerWithOwnUsers(sandbox)
            let outcome = sandbox.skiff("exec", "-u", spec, container.id, "id")
            expectRejected(outcome, mentioning: [named], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func additionalGids() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("gids")
            let outcome = sandbox.skiff(["exec", "-u", "1000:1000", "-g", "10", "--additional-gids", "20", container.id]
                                        + sh("id -G"))
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "1000 10 20\n")
        }
    }

    @Test func additionalGidsWithAUserName() throws {
        // -g adds to the groups of a user named by -u as it does for a numeric one.
        try Sandbox.with { sandbox in
            let container = try containerWithOwnUsers(sandbox)
            let outcome = sandbox.skiff(["exec", "-u", "skiffonly", "-g", "10", container.id] + sh("id -u; id -G"))
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["4242", "4242 10"])
        }
    }

    // MARK: capabilities

    @Test func noInheritableCapabilitiesByDefault() throws {
        // runc CVE-2022-29162: exec gave the process inheritable capabilities, which a
        // file with inheritable caps turned into permitted ones for any user.
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("capinh")
            for extra in [[], ["--cap", "CAP_NET_ADMIN"]] {
                let outcome = sandbox.skiff(["exec"] + extra + [container.id] + sh("grep CapInh /proc/self/status"))
                #expect(outcome.succeeded, "\(outcome)")
                #expect(outcome.stdout == "CapInh:\t0000000000000000\n", "with \(extra)")
            }
        }
    }

    @Test func capabilitiesAreInitsPlusCapFlags() throws {
        // config.json: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10); NET_ADMIN is 12.
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("caps")
            let script = "grep -e CapEff -e CapBnd /proc/self/status"
            let plain = sandbox.skiff(["exec", container.id] + sh(script))
            #expect(plain.succeeded, "\(plain)")
            #expect(plain.lines == ["CapEff:\t0000000020000420", "CapBnd:\t0000000020000420"])
            let added = sandbox.skiff(["exec", "--cap", "CAP_NET_ADMIN", container.id] + sh(script))
            #expect(added.succeeded, "\(added)")
            #expect(added.lines == ["CapEff:\t0000000020001420", "CapBnd:\t0000000020001420"])
        }
    }

    @Test func noNewPrivsFlag() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("nnp") { $0.process?.noNewPrivileges = false }
            let without = sandbox.skiff(["exec", container.id] + sh("grep NoNewPrivs /proc/self/status"))
            #expect(without.stdout == "NoNewPrivs:\t0\n", "\(without)")
            let with = sandbox.skiff(["exec", "--no-new-privs", container.id] + sh("grep NoNewPrivs /proc/self/status"))
            #expect(with.stdout == "NoNewPrivs:\t1\n", "\(with)")
        }
    }

    // MARK: process.json

    @Test func processFileIsRunAsGiven() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("pjson")
            let process = SkiffOCI.Process(
                user: User(uid: 1000, gid: 1000, additionalGids: [7]),
                args: ["sh", "-c", "id -u; id -G; pwd; echo $FOO; printenv TERM || echo no-term"],
                env: ["PATH=/bin", "FOO=from-process-json"], cwd: "/tmp")
            let file = sandbox.path("process.json")
            try process.jsonData().write(to: URL(fileURLWithPath: file))
            let outcome = sandbox.skiff("exec", "--process", file, container.id)
            #expect(outcome.succeeded, "\(outcome)")
            // Nothing of config.json's process is mixed in: no TERM.
            #expect(outcome.lines == ["1000", "1000 7", "/tmp", "from-process-json", "no-term"])
        }
    }

    @Test(arguments: [
        ("{\"args\": [\"true\"], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}", ["process.json", "malformed JSON"]),
        ("{\"args\": \"true\", \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}}", ["args"]),
        ("{\"args\": [\"true\"], \"cwd\": \"/\", \"user\": {\"uid\": -1, \"gid\": 0}}", ["user.uid"]),
        ("{\"args\": [], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}}", ["args"]),
        ("{\"args\": [\"true\"], \"cwd\": \"relative\", \"user\": {\"uid\": 0, \"gid\": 0}}", ["cwd"]),
    ])
    func malformedProcessFileIsAClearError(_ json: String, _ words: [String]) throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("badpjson")
            let file = sandbox.path("process.json")
            try json.write(toFile: file, atomically: false, encoding: .utf8)
            let outcome = sandbox.skiff("exec", "-p", file, container.id)
            expectRejected(outcome, mentioning: words, in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func missingProcessFileIsAClearError() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("nopjson")
            let file = sandbox.path("nowhere.json")
            let outcome = sandbox.skiff("exec", "-p", file, container.id)
            expectRejected(outcome, mentioning: [file, "no such file or directory"], in: sandbox, id: "")
        }
    }

    // MARK: detach and pid file

    @Test func detachReturnsWhileTheProcessRuns() throws {
        try Sandbox.with { sandbox in
            let control = try Control(sandbox)
            let container = try sandbox.runningContainer("detach") { $0.mounts?.append(control.mount) }
            let pidFile = sandbox.path("detached.pid")
            let script = "echo $$ > /tmp/ctl/started; \(Control.waitForGo); echo done > /tmp/ctl/done"
            let outcome = sandbox.skiff(["exec", "-d", "--pid-file", pidFile, container.id] + sh(script))
            #expect(outcome.succeeded, "\(outcome)")
            #expect(poll { control.read("started") != nil }, "the process never started")
            #expect(control.read("done") == nil)
            let pid = try #require(readFile(pidFile).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            #expect(isAlive(pid))
            #expect(sandbox.processes(in: container.id).contains(pid))
            control.release()
            #expect(poll { control.read("done") == "done\n" }, "the detached process did not go on")
            #expect(poll { !isAlive(pid) })
        }
    }

    @Test func foregroundPidFileNamesTheProcess() throws {
        try Sandbox.with { sandbox in
            let control = try Control(sandbox)
            let container = try sandbox.runningContainer("pidfile") { $0.mounts?.append(control.mount) }
            let pidFile = sandbox.path("fg.pid")
            let exec = try sandbox.spawn(["exec", "--pid-file", pidFile, container.id]
                                         + sh("echo $$ > /tmp/ctl/inside; \(Control.waitForGo)"))
            // Non-empty: the shell creates the file before echo writes to it.
            try #require(poll { control.read("inside")?.isEmpty == false && readFile(pidFile) != nil }, "no pid file")
            // The host pid of the process whose pid inside is what it printed.
            let pid = try #require(readFile(pidFile).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            let nspid = readFile("/proc/\(pid)/status")?.split(separator: "\n").first { $0.hasPrefix("NSpid:") }
            #expect(nspid?.split(separator: "\t").last.map(String.init) == control.read("inside")?
                .trimmingCharacters(in: .whitespacesAndNewlines), "\(nspid ?? "no NSpid")")
            control.release()
            let outcome = exec.wait()
            #expect(outcome.succeeded, "\(outcome)")
        }
    }

    @Test func relativePidFileIsInTheCallersDirectory() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("relpid")
            let outcome = sandbox.skiff(["exec", "-d", "--pid-file", "exec.pid", container.id, "sleep", "1009"],
                                        in: sandbox.directory)
            #expect(outcome.succeeded, "\(outcome)")
            let pid = try #require(readFile(sandbox.path("exec.pid")).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }, "no exec.pid in the caller's directory")
            #expect(poll { readFile("/proc/\(pid)/cmdline") == "sleep\u{0}1009\u{0}" },
                    "\(pid): \(readFile("/proc/\(pid)/cmdline") ?? "gone")")
        }
    }

    @Test(arguments: [false, true])
    func unwritablePidFileLeavesNothingRunning(detach: Bool) throws {
        // The error comes after the process started: it must not be left behind, running
        // with nobody to wait for it.
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("badpid")
            let pidFile = sandbox.path("no-such-dir/exec.pid")
            let outcome = sandbox.skiff(["exec"] + (detach ? ["-d"] : []) + ["--pid-file", pidFile, container.id, "sleep", "1010"])
            expectRejected(outcome, mentioning: [pidFile], in: sandbox, id: "")
            #expect(poll(timeout: 2) { sandbox.processes(in: container.id) == [container.pid] },
                    "left running: \(sandbox.processes(in: container.id).filter { $0 != container.pid })")
        }
    }

    // MARK: refusals

    @Test func execIntoAStoppedContainerIsRefused() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("stopped")
            let bundle = try sandbox.bundle(args: ["true"])
            #expect(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            #expect(sandbox.waitFor(id, status: "stopped"))
            let outcome = sandbox.skiff("exec", id, "true")
            expectRejected(outcome, mentioning: ["stopped"], in: sandbox, id: "")
            #expect(sandbox.status(id) == "stopped")
        }
    }

    @Test func execIntoAPausedContainerIsRefused() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("paused")
            let paused = sandbox.skiff("pause", container.id)
            try #require(paused.succeeded, "\(paused)")
            defer { _ = sandbox.skiff("resume", container.id) }
            let outcome = sandbox.skiff("exec", container.id, "true")
            expectRejected(outcome, mentioning: ["paused", "--ignore-paused"], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
            #expect(sandbox.status(container.id) == "paused")
        }
    }

    @Test func execIntoAnUnknownContainerIsRefused() throws {
        try Sandbox.with { sandbox in
            let outcome = sandbox.skiff("exec", "it-no-such-container", "true")
            expectRejected(outcome, mentioning: ["container does not exist", "it-no-such-container"], in: sandbox, id: "")
            #expect(sandbox.rootEntries == [])
        }
    }

    @Test func execOfAMissingExecutableIsAClearError() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("noexe")
            let outcome = sandbox.skiff("exec", container.id, "no-such-command")
            expectRejected(outcome, mentioning: ["no-such-command", "executable file not found"], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func execWithoutACommandIsAClearError() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("noargs")
            let outcome = sandbox.skiff("exec", container.id)
            expectRejected(outcome, mentioning: ["args"], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }
}
