import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Where skiff differed from runc 1.1.5 at the edges callers test (issue 11): each test states
/// runc's result beside the one it checks.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct EdgeTests {
    /// Security: linux.devices makes nodes but grants no access. Under a deny-all rule a listed
    /// /dev/kmsg stays unwritable (runc: "can't create /dev/kmsg: Operation not permitted");
    /// with an allow rule for it, the same write succeeds.
    @Test(arguments: [false, true])
    func linuxDevicesDoNotWidenTheDeviceCgroup(allowed: Bool) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("kmsg")
            let bundle = try sandbox.bundle(args: sh("echo skiff-device-cgroup-test > /dev/kmsg && echo wrote")) { spec in
                var rules = [LinuxDeviceCgroup(allow: false, access: "rwm")]
                if allowed { rules.append(LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 11, access: "w")) }
                spec.linux?.resources = LinuxResources(devices: rules)
                spec.linux?.devices = [LinuxDevice(path: "/dev/kmsg", type: "c", major: 1, minor: 11, fileMode: 0o666)]
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            if allowed {
                #expect(outcome.succeeded && outcome.stdout == "wrote\n", "\(outcome)")
            } else {
                #expect(!outcome.succeeded, "\(outcome)")
                #expect(outcome.stdout.isEmpty && outcome.stderr.contains("Operation not permitted"), "\(outcome)")
            }
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// Security: with --no-pivot the host's /proc stays in the mount namespace under the
    /// chroot; a nested user namespace must still not be able to mount a fresh procfs (which
    /// would have none of the masked paths). runc 1.1.5: "mount: permission denied". Without
    /// --no-pivot the same script is refused too, and the control (a plain tmpfs) mounts, so
    /// the nested namespace itself works.
    @Test(arguments: [["--no-pivot"], []])
    func nestedUserNamespaceCannotMountProc(flags: [String]) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("nopivot-proc")
            let bundle = try sandbox.bundle(args: sh("""
                mkdir -p /tmp/p /tmp/t
                unshare -U -r -m -p -f sh -c 'mount -t tmpfs none /tmp/t && echo tmpfs-mounted
                    mount -t proc proc /tmp/p 2>/dev/null && echo proc-mounted || echo proc-refused'
                """)) { spec in
                spec.process?.user = User(uid: 1000, gid: 1000)
                spec.mounts = spec.mounts?.map { mount in
                    var mount = mount
                    if mount.destination == "/tmp" { mount.options = ["nosuid", "nodev", "mode=1777"] }
                    return mount
                }
            }
            let outcome = sandbox.skiff(["run"] + flags + ["--bundle", bundle, id])
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["tmpfs-mounted", "proc-refused"], "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// runc 1.1.5: `kill ID 0` exits 0 while init lives, 1 after; `update --memory-swap -1 ID`
    /// and `--cpu-quota -1` take "-1" as the value; a failed exec exits 255, the process's own
    /// status passes through.
    @Test func cliEdgesOfARunningContainer() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cli-edges")
            let bundle = try sandbox.bundle(args: ["sleep", "30"])
            #expect(sandbox.skiff("run", "-d", "--bundle", bundle, id).succeeded)
            let alive = sandbox.skiff("kill", id, "0")
            #expect(alive.succeeded, "\(alive)")
            for flags in [["--memory-swap", "-1"], ["--cpu-quota", "-1"], ["--memory", "64m", "--memory-swap", "-1"]] {
                let update = sandbox.skiff(["update"] + flags + [id])
                #expect(update.succeeded, "\(flags): \(update)")
            }
            #expect(sandbox.skiff("exec", id, "sh", "-c", "exit 7").status == 7)
            let missing = sandbox.skiff("exec", id, "/nonexistent")
            #expect(missing.status == 255 && missing.stderr.contains("no such file or directory"), "\(missing)")
            #expect(sandbox.skiff("exec", sandbox.id("nosuch"), "true").status == 255)
            #expect(sandbox.skiff("exec", "--pid-file", sandbox.path("no/such/dir/pid"), id, "true").status == 255)
            #expect(sandbox.skiff("pause", id).succeeded)
            let paused = sandbox.skiff("exec", id, "true")
            #expect(paused.status == 255 && paused.stderr.contains("paused"), "\(paused)")
            #expect(sandbox.skiff("resume", id).succeeded)
            #expect(sandbox.skiff("kill", id, "KILL").succeeded)
            #expect(sandbox.waitFor(id, status: "stopped"))
            #expect(sandbox.skiff("kill", id, "0").status == 1, "kill 0 of a stopped container")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// runc: `--help` lists the global options, `-v` prints the version, and `runc nosuch -h`
    /// fails (exit 3) instead of printing the main help.
    @Test func helpVersionAndUnknownCommands() {
        let help = execute(Paths.binary, ["--help"])
        #expect(help.succeeded)
        for option in ["--root", "--log", "--log-format", "--debug", "--systemd-cgroup", "--rootless"] {
            #expect(help.stdout.contains("  \(option) "), "\(option) missing from --help")
        }
        let version = execute(Paths.binary, ["-v"])
        #expect(version.succeeded && version.stdout.hasPrefix("skiff version "), "\(version)")
        let unknown = execute(Paths.binary, ["nosuch", "-h"])
        #expect(!unknown.succeeded && unknown.stderr.contains("unknown command \"nosuch\""), "\(unknown)")
        #expect(execute(Paths.binary, ["create", "-h"]).succeeded, "a command's own help still works")
    }

    /// No mount namespace: the process's root is still root.path (chroot), and what would need
    /// mounts is refused by name. runc 1.1.5 refuses the first ("unable to restrict sys
    /// entries without a private MNT namespace") and fails the second ("open /proc/self/fd").
    @Test func withoutAMountNamespaceTheRootIsStillTheRootfs() throws {
        try Sandbox.with { sandbox in
            let refusedID = sandbox.id("nomnt-refused")
            let refused = try sandbox.bundle("refused", args: ["true"]) { spec in
                spec.linux?.namespaces?.removeAll { $0.type == .mount }
            }
            let outcome = sandbox.skiff("run", "--bundle", refused, refusedID)
            #expect(!outcome.succeeded && outcome.stderr.contains("requires a mount namespace"), "\(outcome)")
            #expect(sandbox.leftovers(id: refusedID) == [])

            let id = sandbox.id("nomnt")
            // A file only the host has: the process must not see it.
            let bundle = try sandbox.bundle(args: sh("test -e \(sandbox.directory) && echo host-root || echo rootfs; ls /bin/busybox")) { spec in
                spec.linux?.namespaces?.removeAll { $0.type == .mount }
                spec.mounts = nil
                spec.root?.readonly = nil
                spec.linux?.maskedPaths = nil
                spec.linux?.readonlyPaths = nil
            }
            let chrooted = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(chrooted.succeeded, "\(chrooted)")
            #expect(chrooted.lines == ["rootfs", "/bin/busybox"], "\(chrooted)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// The spec makes process optional until start: create succeeds, start fails saying why,
    /// and the container is then stopped and deletable.
    @Test func aConfigWithoutProcessCreatesButDoesNotStart() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("noprocess")
            let bundle = try sandbox.bundle(args: ["true"]) { $0.process = nil }
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(created.succeeded, "\(created)")
            #expect(sandbox.status(id) == "created")
            let start = sandbox.skiff("start", id)
            #expect(!start.succeeded && start.stderr.contains("config.json has no process"), "\(start)")
            #expect(sandbox.waitFor(id, status: "stopped"))
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// The working directory is entered while init may still reach it, as runc does: user 1000
    /// into root's 0700 /root works (runc 1.1.5: prints /root); --user 0 too.
    @Test func execEntersTheCwdBeforeDroppingTheUser() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("exec-cwd")
            let bundle = try sandbox.bundle(args: ["sleep", "30"])
            #expect(sandbox.skiff("run", "-d", "--bundle", bundle, id).succeeded)
            #expect(sandbox.skiff("exec", id, "stat", "-c", "%a %u", "/root").stdout == "700 0\n")
            for user in ["0", "1000"] {
                let exec = sandbox.skiff("exec", "--user", user, "--cwd", "/root", id, "sh", "-c", "pwd; id -u")
                #expect(exec.succeeded && exec.lines == ["/root", user], "\(user): \(exec)")
            }
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A read-only /dev in the mounts does not break startup (runc 1.1.5 starts both): a tmpfs
    /// /dev gets its nodes and mounts first and turns read-only at the end; a read-only bind
    /// of the host's /dev is used as it is.
    @Test(arguments: ["tmpfs", "bind"])
    func readOnlyDevDoesNotBreakStartup(kind: String) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("rodev")
            let bundle = try sandbox.bundle(args: sh("""
                test -c /dev/null && echo null; touch /dev/x 2>&1 | grep -o 'Read-only file system'
                grep ' /dev ' /proc/self/mountinfo | tail -1 | cut -d' ' -f6 | cut -d, -f1
                """)) { spec in
                if kind == "tmpfs" {
                    spec.mounts = spec.mounts?.map { mount in
                        var mount = mount
                        if mount.destination == "/dev" { mount.options = (mount.options ?? []) + ["ro"] }
                        return mount
                    }
                } else {
                    spec.mounts?.append(Mount(destination: "/dev", type: "bind", source: "/dev", options: ["rbind", "ro"]))
                }
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["null", "Read-only file system", "ro"], "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// The container's cgroup frozen behind skiff's back (freezer.state / cgroup.freeze written
    /// directly): every command answers at once. runc 1.1.5 gives the same answers except
    /// `exec --ignore-paused`, where it hangs until the cgroup is thawed; skiff refuses it.
    @Test func frozenCgroupGivesAnswersNotHangs() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("frozen")
            let bundle = try sandbox.bundle(args: ["sleep", "30"])
            #expect(sandbox.skiff("run", "-d", "--bundle", bundle, id).succeeded)
            let v1 = "/sys/fs/cgroup/freezer/skiff/\(id)/freezer.state"
            let (file, value) = FileManager.default.fileExists(atPath: v1) ? (v1, "FROZEN") : ("/sys/fs/cgroup/skiff/\(id)/cgroup.freeze", "1")
            #expect(FileManager.default.createFile(atPath: file, contents: Data(value.utf8)) || host("sh", "-c", "echo \(value) > \(file)").succeeded)
            #expect(sandbox.waitFor(id, status: "paused"))
            let exec = sandbox.skiff("exec", id, "true", timeout: 10)
            #expect(exec.status == 255 && exec.stderr.contains("cannot exec in a paused container"), "\(exec)")
            let ignoring = sandbox.skiff("exec", "--ignore-paused", id, "true", timeout: 10)
            #expect(ignoring.status == 255 && ignoring.stderr.contains("cannot exec into the frozen cgroup"), "\(ignoring)")
            let pause = sandbox.skiff("pause", id, timeout: 10)
            #expect(!pause.succeeded && !pause.timedOut && pause.stderr.contains("container not running"), "\(pause)")
            let delete = sandbox.skiff("delete", id, timeout: 10)
            #expect(!delete.succeeded && !delete.timedOut && delete.stderr.contains("not stopped: paused"), "\(delete)")
            let kill = sandbox.skiff("kill", id, "KILL", timeout: 10)
            #expect(kill.succeeded, "\(kill)")
            let forced = sandbox.skiff("delete", "--force", id, timeout: 10)
            #expect(forced.succeeded, "\(forced)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// `exec --cgroup` in runc's forms: a bare path for every hierarchy, or
    /// controller[,controller]:path, repeatable; the malformed ones are refused as runc does.
    @Test func execCgroupForms() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("exec-cgroup")
            // Lives until the delete at the end: in the emulated cgroup v2 guest this test takes
            // over a minute, and a container that had exited refused the last execs for that.
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            #expect(sandbox.skiff("run", "-d", "--bundle", bundle, id).succeeded)
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sandbox.root + "/\(id)/state.json"))) as? [String: Any]
            let directories = try #require(record?["cgroupPaths"] as? [String])
            for directory in directories {
                try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
                // A v1 cpuset cgroup takes no task until its cpus and mems are set (ENOSPC).
                for file in ["cpuset.cpus", "cpuset.mems"] where FileManager.default.fileExists(atPath: directory + "/sub/" + file) {
                    let value = readFile(directory + "/" + file) ?? ""
                    try value.write(toFile: directory + "/sub/" + file, atomically: false, encoding: .utf8)
                }
            }
            // Where a process exec'd with these flags is: the host's view of its cgroups.
            func placement(_ flags: [String]) -> [String] {
                let pidFile = sandbox.path("exec.pid")
                let exec = sandbox.skiff(["exec", "-d", "--pid-file", pidFile] + flags + [id, "sleep", "30"])
                guard exec.succeeded, let pid = readFile(pidFile)?.trimmingCharacters(in: .whitespacesAndNewlines) else {
                    return ["exec failed: \(exec)"]
                }
                defer { if let pid = pid_t(pid), pid > 0 { kill(pid, SIGKILL) } }
                return (readFile("/proc/\(pid)/cgroup") ?? "").split(separator: "\n").map(String.init)
            }
            let all = placement(["--cgroup", "sub"])
            #expect(!all.isEmpty && all.allSatisfy { $0.hasSuffix("/\(id)/sub") }, "\(all)")
            let pids = placement(["--cgroup", "pids:sub"])
            let pidsLine = pids.first { $0.split(separator: ":")[1].split(separator: ",").contains("pids") } ?? pids.first { $0.hasPrefix("0::") }
            #expect(pidsLine?.hasSuffix("/\(id)/sub") == true, "\(pids)")
            if let memory = pids.first(where: { $0.split(separator: ":")[1] == "memory" }) {
                #expect(memory.hasSuffix("/\(id)"), "\(pids)")
            }
            let several = placement(["--cgroup", "pids,memory:sub", "--cgroup", "cpu:sub"])
            #expect(!several.isEmpty && !several[0].hasPrefix("exec failed"), "\(several)")
            for (flags, message) in [
                (["--cgroup", "a", "--cgroup", "b"], "missing controller: prefix"),
                (["--cgroup", "pids:a", "--cgroup", "pids:b"], "controller \"pids\" given more than once"),
                (["--cgroup", "nosuch:sub"], "no cgroup hierarchy has the \"nosuch\" controller"),
                (["--cgroup", "pids:../escape"], "must name a sub-cgroup without \"..\""),
            ] {
                let refused = sandbox.skiff(["exec"] + flags + [id, "true"])
                #expect(refused.status == 255 && refused.stderr.contains(message), "\(flags): \(refused)")
            }
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            for directory in directories { rmdir(directory + "/sub"); rmdir(directory) }
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// rootfsPropagation "unbindable" holds without masked or read-only paths too (it was
    /// skipped with them: make conformance saw "/" left private).
    @Test func unbindableRootWithoutMaskedPaths() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("unbindable")
            let bundle = try sandbox.bundle(args: ["cat", "/proc/self/mountinfo"]) { spec in
                spec.linux?.rootfsPropagation = "unbindable"
                spec.linux?.maskedPaths = nil
                spec.linux?.readonlyPaths = nil
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            try #require(outcome.succeeded, "\(outcome)")
            let root = MountInfo.parse(outcome.stdout).last { $0.mountPoint == "/" }
            #expect(root?.optionalFields.contains("unbindable") == true, "\(outcome.stdout)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
