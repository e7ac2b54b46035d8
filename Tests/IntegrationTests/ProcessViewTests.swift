import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the container's process sees of the config: each test runs one container in the
/// foreground and reads what it printed.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct ProcessViewTests {
    /// `skiff run` of `args` with the base config changed by `configure`; checks nothing was
    /// left behind and returns the outcome.
    func run(
        _ name: String, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation,
        configure: (inout Spec, Sandbox) throws -> Void = { _, _ in }
    ) throws -> Outcome {
        try Sandbox.with { sandbox in
            let id = sandbox.id(name)
            let bundle = try sandbox.bundle(args: args) { try configure(&$0, sandbox) }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(sandbox.leftovers(id: id) == [], sourceLocation: sourceLocation)
            return outcome
        }
    }

    @Test func processIsPidOneInItsOwnNamespace() throws {
        let outcome = try run("pid", sh("echo $$; ls /proc | grep -c '^[0-9]'"))
        #expect(outcome.succeeded, "\(outcome)")
        // Only sh itself and the ls/grep it forked: no host process is visible.
        #expect(outcome.lines.first == "1")
        let visible = Int(outcome.lines.last ?? "") ?? 0
        #expect(visible >= 1 && visible <= 3, "processes in /proc: \(outcome.stdout)")
    }

    @Test func hostnameAndDomainnameComeFromTheConfig() throws {
        let outcome = try run("uts", sh("hostname; cat /proc/sys/kernel/domainname")) { spec, _ in
            spec.hostname = "box-under-test"
            spec.domainname = "example.test"
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["box-under-test", "example.test"])
    }

    @Test func configuredMountsHaveTheirOptions() throws {
        let outcome = try Sandbox.with { sandbox -> Outcome in
            let shared = sandbox.path("hostdir")
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            try "from the host\n".write(toFile: shared + "/note", atomically: false, encoding: .utf8)
            let id = sandbox.id("mounts")
            let bundle = try sandbox.bundle(
                args: sh("cat /proc/self/mountinfo; echo ==; cat /tmp/host/note; touch /tmp/host/new 2>&1; echo rc=$?")
            ) { spec in
                spec.mounts? += [
                    Mount(destination: "/run", type: "tmpfs", source: "tmpfs",
                          options: ["nosuid", "nodev", "noexec", "size=1m", "mode=750"]),
                    Mount(destination: "/tmp/host", type: "bind", source: shared, options: ["rbind", "ro"]),
                    Mount(destination: "/tmp/shared", type: "tmpfs", source: "tmpfs", options: ["shared"]),
                    Mount(destination: "/tmp/unbindable", type: "tmpfs", source: "tmpfs", options: ["unbindable"]),
                ]
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(sandbox.leftovers(id: id) == [])
            #expect(!FileManager.default.fileExists(atPath: shared + "/new"), "the read-only bind was written")
            return outcome
        }
        #expect(outcome.succeeded, "\(outcome)")
        let parts = outcome.stdout.components(separatedBy: "==\n")
        try #require(parts.count == 2, "\(outcome)")
        let mounts = MountInfo.parse(parts[0])
        func mount(_ point: String) -> MountInfo? { mounts.last { $0.mountPoint == point } }

        let run = try #require(mount("/run"), "no /run mount in \(parts[0])")
        #expect(run.fsType == "tmpfs")
        #expect(Set(["nosuid", "nodev", "noexec", "rw"]).isSubset(of: run.mountOptions), "\(run.mountOptions)")
        #expect(run.superOptions.contains("size=1024k"), "\(run.superOptions)")
        #expect(run.superOptions.contains("mode=750"), "\(run.superOptions)")

        let bind = try #require(mount("/tmp/host"), "no /tmp/host mount in \(parts[0])")
        #expect(bind.mountOptions.first == "ro", "\(bind.mountOptions)")

        let shared = try #require(mount("/tmp/shared"))
        #expect(shared.optionalFields.contains { $0.hasPrefix("shared:") }, "\(shared.optionalFields)")
        let unbindable = try #require(mount("/tmp/unbindable"))
        #expect(unbindable.optionalFields == ["unbindable"])

        let tmp = try #require(mount("/tmp"))
        #expect(tmp.optionalFields.isEmpty, "the base /tmp should stay private: \(tmp.optionalFields)")

        #expect(parts[1] == "from the host\ntouch: /tmp/host/new: Read-only file system\nrc=1\n")
    }

    @Test func maskedPathsReadEmpty() throws {
        let outcome = try run("masked", sh("""
            wc -c < /proc/keys; wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l
            """))
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines.map { $0.trimmingCharacters(in: .whitespaces) } == ["0", "0", "0"])
    }

    @Test func readonlyPathsAreReadOnly() throws {
        let outcome = try run("readonly", sh("""
            (echo other > /proc/sys/kernel/hostname) 2>&1; echo write=$?
            grep -E ' /proc/(sys|bus|fs|irq) ' /proc/self/mountinfo | cut -d' ' -f5,6 | cut -d, -f1
            """))
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines.prefix(2) == [
            "sh: can't create /proc/sys/kernel/hostname: Read-only file system", "write=1",
        ])
        #expect(Set(outcome.lines.dropFirst(2)) == ["/proc/bus ro", "/proc/fs ro", "/proc/irq ro", "/proc/sys ro"])
    }

    @Test func readonlyRootRefusesWrites() throws {
        let outcome = try run("rootro", sh("touch /written 2>&1; echo rc=$?; touch /tmp/ok && echo tmp-ok"))
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["touch: /written: Read-only file system", "rc=1", "tmp-ok"])
        #expect(!FileManager.default.fileExists(atPath: Paths.rootfs + "/written"))
    }

    @Test func writableRootWhenNotReadonly() throws {
        // A private copy of the rootfs: this container writes to it.
        let outcome = try Sandbox.with { sandbox -> Outcome in
            let rootfs = sandbox.path("rootfs")
            let copied = host("cp", "-a", Paths.rootfs, rootfs)
            try #require(copied.succeeded, "\(copied)")
            let id = sandbox.id("rootrw")
            let bundle = try sandbox.bundle(args: sh("echo hi > /written && cat /written")) { spec in
                spec.root = Root(path: rootfs, readonly: false)
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(readFile(rootfs + "/written") == "hi\n")
            #expect(sandbox.leftovers(id: id) == [])
            return outcome
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.stdout == "hi\n")
    }

    @Test func environmentIsExactlyTheConfigured() throws {
        let outcome = try run("env", sh("echo \"$GREETING\"; echo \"$PATH\"")) { spec, _ in
            spec.process?.env = ["PATH=/bin:/sbin", "GREETING=hello, world = yes", "TERM=xterm"]
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["hello, world = yes", "/bin:/sbin"])
    }

    @Test func missingCwdIsCreated() throws {
        let outcome = try run("cwd", sh("pwd; ls -ld . | cut -c1")) { spec, _ in
            spec.process?.cwd = "/tmp/work/deep"
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["/tmp/work/deep", "d"])
    }

    @Test func userGroupsAndAdditionalGids() throws {
        let outcome = try run("user", sh("id -u; id -g; id -G | tr ' ' '\\n' | sort -n | tr '\\n' ' '")) { spec, _ in
            spec.process?.user = User(uid: 1000, gid: 1000, additionalGids: [5, 65534])
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["1000", "1000", "5 1000 65534 "])
    }

    @Test func umaskIsApplied() throws {
        let outcome = try run("umask", sh("umask; touch /tmp/f; stat -c %a /tmp/f")) { spec, _ in
            spec.process?.user.umask = 0o027
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["0027", "640"])
    }

    @Test func rlimitsAreApplied() throws {
        let outcome = try run("rlimit", sh("ulimit -n; ulimit -Hn; ulimit -c")) { spec, _ in
            spec.process?.rlimits = [
                POSIXRlimit(type: "RLIMIT_NOFILE", hard: 2048, soft: 512),
                POSIXRlimit(type: "RLIMIT_CORE", hard: 4096, soft: 0),
            ]
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["512", "2048", "0"])
    }

    @Test func sysctlsAreWrittenInTheContainersNamespaces() throws {
        let before = readFile("/proc/sys/net/ipv4/ip_default_ttl")
        let outcome = try run("sysctl", sh("""
            cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_default_ttl /proc/sys/kernel/msgmax
            """)) { spec, _ in
            spec.linux?.sysctl = [
                "net.ipv4.ip_forward": "1", "net.ipv4.ip_default_ttl": "77", "kernel.msgmax": "12345",
            ]
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["1", "77", "12345"])
        #expect(readFile("/proc/sys/net/ipv4/ip_default_ttl") == before, "the host's sysctl changed")
    }

    @Test func argsArePassedVerbatim() throws {
        let outcome = try run("args", ["printf", "[%s]\\n", "a b", "", "$HOME", "*"])
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["[a b]", "[]", "[$HOME]", "[*]"])
    }

    @Test func stdoutAndStderrStaySeparate() throws {
        let outcome = try run("stdio", sh("echo out; echo err >&2; echo more"))
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.stdout == "out\nmore\n")
        #expect(outcome.stderr == "err\n")
    }

    @Test func defaultDevicesWork() throws {
        let outcome = try run("devices", sh("""
            ls /dev | tr '\\n' ' '; echo
            echo x > /dev/null && echo null-ok
            head -c 5 /dev/zero | wc -c
            head -c 5 /dev/urandom | wc -c
            (echo x > /dev/full) 2>&1
            readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx
            stat -c '%t,%T' /dev/null /dev/zero /dev/tty
            """))
        #expect(outcome.succeeded, "\(outcome)")
        let lines = outcome.lines.map { $0.trimmingCharacters(in: .whitespaces) }
        let devices = Set((lines.first ?? "").split(separator: " ").map(String.init))
        let required: Set = [
            "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
            "urandom", "zero",
        ]
        #expect(required.isSubset(of: devices), "missing: \(required.subtracting(devices))")
        #expect(devices.subtracting(required).subtracting(["core"]).isEmpty, "extra: \(devices.subtracting(required))")
        #expect(Array(lines.dropFirst()) == [
            "null-ok", "5", "5", "sh: write error: No space left on device",
            "/proc/self/fd", "/proc/self/fd/0", "pts/ptmx",
            "1,3", "1,5", "5,0",
        ])
    }

    @Test func noHostFileDescriptorLeaksIn() throws {
        // fds 3 and 4 are open in skiff's caller; without --preserve-fds the container must
        // see only stdio (ls's own fd 3 is the /proc/self/fd it lists).
        try Sandbox.with { sandbox in
            let id = sandbox.id("fds")
            let bundle = try sandbox.bundle(args: ["ls", "/proc/self/fd"])
            let outcome = sandbox.skiffWithExtraFDs("/etc/hostname", ["run", "--bundle", bundle, id])
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["0", "1", "2", "3"])
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func preservedFdsReachTheContainer() throws {
        try Sandbox.with { sandbox in
            let file = sandbox.path("handed-over")
            try "handed over\n".write(toFile: file, atomically: false, encoding: .utf8)
            let id = sandbox.id("preserve")
            // ls lists its own fds (/proc/self after exec, no pipe of the shell's in between);
            // it adds one for the directory it reads, fd 4 here.
            let bundle = try sandbox.bundle(args: sh("cat <&3; exec ls /proc/self/fd"))
            let outcome = sandbox.skiffWithExtraFDs(file, ["run", "--preserve-fds", "1", "--bundle", bundle, id])
            #expect(outcome.succeeded, "\(outcome)")
            // fd 4 of skiff was open too but not asked for: the 4 listed is ls's directory.
            #expect(outcome.stdout == "handed over\n0\n1\n2\n3\n4\n")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func homeComesFromPasswdWhenUnset() throws {
        let outcome = try run("home", sh("echo \"$HOME\"")) { spec, _ in
            spec.process?.user = User(uid: 1000, gid: 1000)
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.stdout == "/home/user\n")
    }

    @Test func oomScoreAdjAndNoNewPrivileges() throws {
        let outcome = try run("oom", sh("cat /proc/self/oom_score_adj; grep NoNewPrivs /proc/self/status")) { spec, _ in
            spec.process?.oomScoreAdj = 123
            spec.process?.noNewPrivileges = true
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["123", "NoNewPrivs:\t1"])

        let without = try run("nonnp", sh("grep NoNewPrivs /proc/self/status")) { spec, _ in
            spec.process?.noNewPrivileges = false
        }
        #expect(without.succeeded, "\(without)")
        #expect(without.lines == ["NoNewPrivs:\t0"])
    }

    @Test func stdinIsPassedThrough() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("stdin")
            let bundle = try sandbox.bundle(args: ["sh", "-c", "read line; echo \"got: $line\"; cat"])
            let outcome = execute("/bin/sh", [
                "-c", #"printf 'first\nsecond\n' | "$@""#, "sh", Paths.binary, "--root", sandbox.root,
                "run", "--bundle", bundle, id,
            ])
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "got: first\nsecond\n")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func largeArgumentsAndEnvironmentArriveIntact() throws {
        let big = String(repeating: "x", count: 100_000)
        let env = (0..<2000).map { "VAR_\($0)=value-\($0)" }
        let outcome = try run("big", ["sh", "-c", "echo ${#1}; echo $VAR_1999; env | grep -c '^VAR_'", "sh", big]) { spec, _ in
            spec.process?.env = ["PATH=/bin"] + env
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["100000", "value-1999", "2000"])
    }

    @Test func relativeBindSourceIsInTheBundle() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("relsrc")
            let bundle = try sandbox.bundle(args: ["cat", "/tmp/data/file"]) {
                $0.mounts?.append(Mount(destination: "/tmp/data", type: "bind", source: "data", options: ["rbind", "ro"]))
            }
            try FileManager.default.createDirectory(atPath: bundle + "/data", withIntermediateDirectories: true)
            try "in the bundle\n".write(toFile: bundle + "/data/file", atomically: false, encoding: .utf8)
            // Run from elsewhere: "data" is the bundle's, not skiff's cwd's.
            let outcome = sandbox.skiff(["run", "--bundle", bundle, id], in: "/")
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "in the bundle\n")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func noexecIsEnforced() throws {
        let outcome = try run("noexec", sh("""
            cp /bin/busybox /run/busybox && (/run/busybox true) 2>&1; echo rc=$?
            cp /bin/busybox /tmp/busybox && /tmp/busybox true && echo tmp-exec-ok
            """)) { spec, _ in
            spec.mounts?.append(Mount(destination: "/run", type: "tmpfs", source: "tmpfs", options: ["noexec", "size=4m"]))
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == ["sh: /run/busybox: Permission denied", "rc=126", "tmp-exec-ok"])
    }

    /// linux.rootfsPropagation sets the propagation of the container's "/" (runc: "/" is made
    /// rslave unless the config asks otherwise), with pivot_root and with --no-pivot. (runc
    /// 1.1.5 accepts "unbindable" but leaves "/" private; the spec's value is applied here.)
    @Test(arguments: ["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"], [false, true])
    func rootfsPropagation(_ propagation: String, noPivot: Bool) throws {
        let hostRoot = MountInfo.host().last { $0.mountPoint == "/" }?.optionalFields
        try Sandbox.with { sandbox in
            let id = sandbox.id("rootprop")
            let bundle = try sandbox.bundle(args: ["cat", "/proc/self/mountinfo"]) {
                $0.linux?.rootfsPropagation = propagation
            }
            let outcome = sandbox.skiff(["run"] + (noPivot ? ["--no-pivot"] : []) + ["--bundle", bundle, id])
            #expect(sandbox.leftovers(id: id) == [])
            try #require(outcome.succeeded, "\(outcome)")
            let root = try #require(MountInfo.parse(outcome.stdout).last { $0.mountPoint == "/" }, "no / in \(outcome.stdout)")
            let shared = root.optionalFields.contains { $0.hasPrefix("shared:") }
            #expect(shared == propagation.hasSuffix("shared"), "/ has \(root.optionalFields)")
            #expect(root.optionalFields.contains("unbindable") == propagation.hasSuffix("unbindable"), "/ has \(root.optionalFields)")
        }
        #expect(MountInfo.host().last { $0.mountPoint == "/" }?.optionalFields == hostRoot, "the host's / changed")
    }

    /// "ro" on an rbind makes only the top mount read-only (runc); "rro" reaches submounts.
    @Test func recursiveReadOnlyBind() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("tree")
            try FileManager.default.createDirectory(atPath: source + "/sub", withIntermediateDirectories: true)
            try sandbox.mountOnHost(["-t", "tmpfs", "sub"], target: source + "/sub")
            let id = sandbox.id("rro")
            let bundle = try sandbox.bundle(args: sh("""
                touch /tmp/ro/top 2>&1; touch /tmp/ro/sub/from-ro && echo sub-writable
                touch /tmp/rro/sub/from-rro 2>&1; echo done
                """)) { spec in
                spec.mounts? += [
                    Mount(destination: "/tmp/ro", type: "bind", source: source, options: ["rbind", "ro"]),
                    Mount(destination: "/tmp/rro", type: "bind", source: source, options: ["rbind", "rro"]),
                ]
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == [
                "touch: /tmp/ro/top: Read-only file system", "sub-writable",
                "touch: /tmp/rro/sub/from-rro: Read-only file system", "done",
            ])
            #expect(FileManager.default.fileExists(atPath: source + "/sub/from-ro"))
            #expect(!FileManager.default.fileExists(atPath: source + "/sub/from-rro"))
            sandbox.unmountHost()
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// With a cgroup namespace, /sys/fs/cgroup shows the container's own cgroups, read-only.
    @Test func cgroupMountShowsOnlyTheContainer() throws {
        let outcome = try run("cgmount", sh("""
            cat /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs | sort -n | head -1
            cat /sys/fs/cgroup/pids/cgroup.procs /sys/fs/cgroup/unified/cgroup.procs | sort -n | tail -1
            (echo 10 > /sys/fs/cgroup/pids/pids.max) 2>&1; true
            """))
        #expect(outcome.succeeded, "\(outcome)")
        let lines = outcome.lines
        try #require(lines.count == 3, "\(outcome)")
        #expect(lines[0] == "1")
        #expect((Int(lines[1]) ?? 1000) < 50, "a host process shows in the container's cgroup: \(lines[1])")
        #expect(lines[2] == "sh: can't create /sys/fs/cgroup/pids/pids.max: Read-only file system")
    }

    /// Per-mount flags land in the mount options of /proc/self/mountinfo; a plain bind leaves
    /// submounts behind, rbind takes them along; the last of rw/ro wins.
    @Test func mountFlagsMatchTheOptions() throws {
        let outcome = try Sandbox.with { sandbox -> Outcome in
            let tree = sandbox.path("tree")
            try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
            try sandbox.mountOnHost(["-t", "tmpfs", "sub"], target: tree + "/sub")
            let id = sandbox.id("flags")
            let bundle = try sandbox.bundle(args: ["cat", "/proc/self/mountinfo"]) { spec in
                spec.mounts? += [
                    Mount(destination: "/tmp/a", type: "tmpfs", source: "tmpfs", options: ["ro", "noatime"]),
                    Mount(destination: "/tmp/b", type: "tmpfs", source: "tmpfs", options: ["strictatime", "nodiratime"]),
                    Mount(destination: "/tmp/c", type: "bind", source: tree, options: ["bind", "nosuid", "nodev", "noexec"]),
                    Mount(destination: "/tmp/d", type: "none", source: tree, options: ["rbind", "noatime"]),
                    Mount(destination: "/tmp/e", type: "tmpfs", source: "tmpfs", options: ["rw", "ro", "rw"]),
                ]
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            sandbox.unmountHost()
            #expect(sandbox.leftovers(id: id) == [])
            return outcome
        }
        try #require(outcome.succeeded, "\(outcome)")
        let mounts = MountInfo.parse(outcome.stdout)
        func options(_ point: String) -> Set<String>? { mounts.last { $0.mountPoint == point }.map { Set($0.mountOptions) } }
        #expect(options("/tmp/a").map { $0.isSuperset(of: ["ro", "noatime"]) } == true, "\(options("/tmp/a") ?? [])")
        #expect(options("/tmp/b").map { $0.contains("rw") && $0.contains("nodiratime") && !$0.contains("relatime") } == true,
                "\(options("/tmp/b") ?? [])")
        #expect(options("/tmp/c").map { $0.isSuperset(of: ["rw", "nosuid", "nodev", "noexec"]) } == true,
                "\(options("/tmp/c") ?? [])")
        #expect(options("/tmp/c/sub") == nil, "a plain bind took the submount along")
        #expect(options("/tmp/d").map { $0.isSuperset(of: ["rw", "noatime"]) } == true, "\(options("/tmp/d") ?? [])")
        #expect(options("/tmp/d/sub") != nil, "rbind left the submount behind")
        #expect(options("/tmp/e").map { $0.contains("rw") } == true, "\(options("/tmp/e") ?? [])")
    }

    @Test func configuredDevicesAreCreated() throws {
        let outcome = try run("devs", sh("stat -c '%n %F %t,%T %a %u:%g' /dev/fuse /dev/net/tun")) { spec, _ in
            spec.linux?.devices = [
                LinuxDevice(path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o640, uid: 1000, gid: 5),
                LinuxDevice(path: "/dev/net/tun", type: "c", major: 10, minor: 200),
            ]
        }
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines == [
            "/dev/fuse character special file a,e5 640 1000:5",
            "/dev/net/tun character special file a,c8 666 0:0",
        ])
    }
}
