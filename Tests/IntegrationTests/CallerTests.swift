import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

// What real callers (podman, rootless podman, containerd) need from the runtime beyond the
// basics (issue 10): lo up in a new network namespace, cgroup hierarchies found as they are
// really mounted, root-only bind sources in user-namespaced containers, and a runtime that is
// itself root of a user namespace. Where runc does the same thing, its result is the reference.

/// runc run on the same bundle, with a root of its own in the sandbox.
func runcRun(_ sandbox: Sandbox, bundle: String, id: String) throws -> Outcome {
    try #require(FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc"), "runc is the reference: apt-get install runc")
    return execute("/usr/sbin/runc", ["--root", sandbox.path("runc-root"), "run", "--bundle", bundle, id + "-runc"])
}

/// Whether this host is hybrid: cgroup2 at /sys/fs/cgroup/unified beside v1 hierarchies.
let hybridCgroupHost = MountInfo.host().contains { $0.mountPoint == "/sys/fs/cgroup/unified" && $0.fsType == "cgroup2" }
    && MountInfo.host().contains { $0.fsType == "cgroup" }

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct CallerTests {
    // MARK: loopback

    /// `podman run --network none … ping 127.0.0.1` must answer: lo is up in a network
    /// namespace the runtime creates, as runc and crun leave it.
    @Test func loopbackIsUpInANewNetworkNamespace() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("lo")
            let bundle = try sandbox.bundle(args: sh("cat /sys/class/net/lo/flags; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo answered")) {
                // ping needs a raw socket.
                for keyPath in [\LinuxCapabilities.bounding, \.effective, \.permitted] {
                    $0.process?.capabilities?[keyPath: keyPath]?.append("CAP_NET_RAW")
                }
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["0x9", "answered"], "IFF_UP|IFF_LOOPBACK: \(outcome)")
            let runc = try runcRun(sandbox, bundle: bundle, id: id)
            #expect(runc.succeeded && runc.lines == outcome.lines, "runc: \(runc)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A namespace joined by path belongs to whoever made it: its lo is left as it was.
    @Test func aJoinedNetworkNamespaceKeepsItsLoopbackAsItWas() throws {
        try Sandbox.with { sandbox in
            let namespace = try sandbox.networkNamespace()
            let name = String(namespace.split(separator: "/").last ?? "")
            let id = sandbox.id("lojoined")
            let bundle = try sandbox.bundle(args: ["cat", "/sys/class/net/lo/flags"]) { $0.join(.network, at: namespace) }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded && outcome.lines == ["0x8"], "lo down, as `ip netns add` made it: \(outcome)")
            let after = host("ip", "netns", "exec", name, "cat", "/sys/class/net/lo/flags")
            #expect(after.lines == ["0x8"], "\(after)")
        }
    }

    // MARK: cgroup hierarchies as mounted

    /// crun must be run on this hybrid host with cgroup2 hidden under an empty tmpfs: mountinfo
    /// still lists cgroup2 at /sys/fs/cgroup/unified, but the path leads to the tmpfs. skiff
    /// must take the host for pure v1 (it failed opening unified/skiff/<id>/cgroup.procs).
    @Test(.enabled(if: hybridCgroupHost, "needs a hybrid host (cgroup2 at /sys/fs/cgroup/unified)"))
    func cgroupsWithCgroup2HiddenUnderATmpfs() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("hidden")
            let cgroupsPath = "/skiff-hidden-test/\(id)"
            // No cgroup namespace: /proc/self/cgroup then shows the host's paths.
            let bundle = try sandbox.bundle(args: ["cat", "/proc/self/cgroup"]) {
                let namespaces = $0.linux?.namespaces ?? []
                $0.linux?.namespaces = namespaces.filter { $0.type != .cgroup }
                $0.linux?.cgroupsPath = cgroupsPath
            }
            func hidden(_ command: [String]) -> Outcome {
                execute("/usr/bin/unshare", ["-m", "--propagation", "private", "sh", "-c",
                                             #"mount -t tmpfs -o size=1m x /sys/fs/cgroup/unified && exec "$@""#, "sh"] + command)
            }
            let outcome = hidden([Paths.binary, "--root", sandbox.root, "run", "--bundle", bundle, id])
            #expect(outcome.succeeded, "\(outcome)")
            let lines = outcome.lines
            let v1 = lines.filter { !$0.hasPrefix("0::") }
            #expect(v1.count >= 8 && v1.allSatisfy { $0.hasSuffix(":" + cgroupsPath) }, "every v1 hierarchy joined: \(outcome)")
            #expect(lines.contains("0::/"), "cgroup2 left alone (it is hidden): \(outcome)")
            // The same with runc, which decides by statfs of /sys/fs/cgroup/unified.
            let runc = hidden(["/usr/sbin/runc", "--root", sandbox.path("runc-root"), "run", "--bundle", bundle, id + "-runc"])
            #expect(runc.succeeded && runc.lines == lines, "runc: \(runc)")
            #expect(sandbox.leftovers(id: id, cgroup: cgroupsPath) == [])
            host("rmdir", "/sys/fs/cgroup/unified/skiff-hidden-test")
            for mount in MountInfo.host() where mount.fsType == "cgroup" {
                host("rmdir", mount.mountPoint + "/skiff-hidden-test")
            }
        }
    }

    // MARK: bind sources the container's root cannot reach

    /// A root-only directory bound into a container with a user namespace: its root is host
    /// uid 100000, which cannot walk into the directory, so the runtime must open it.
    @Test func rootOnlyBindSourceReachesAUserNamespacedContainer() throws {
        try Sandbox.with { sandbox in
            chmod(sandbox.directory, 0o755)
            let secret = sandbox.path("secret")
            try FileManager.default.createDirectory(atPath: secret + "/dir", withIntermediateDirectories: true)
            chmod(secret, 0o700)
            try "hidden\n".write(toFile: secret + "/dir/file", atomically: false, encoding: .utf8)
            let id = sandbox.id("rootonly")
            // Relative to the bundle, as runtime-tools' tests write it; /tmp is the
            // container's tmpfs, so the mount point can be made there.
            let bundle = try sandbox.bundle(args: sh("cat /tmp/secret/file; touch /tmp/secret/x 2>/dev/null || echo read-only; ls /proc/self/fd | wc -l")) {
                $0.linux?.namespaces?.append(LinuxNamespace(type: .user))
                $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                $0.mounts?.append(Mount(destination: "/tmp/secret", type: "bind", source: "../secret/dir", options: ["rbind", "ro"]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            // The process sees stdio and ls's own directory fd, nothing the runtime opened.
            #expect(outcome.succeeded && outcome.lines == ["hidden", "read-only", "4"], "\(outcome)")
            let runc = try runcRun(sandbox, bundle: bundle, id: id)
            #expect(runc.succeeded && runc.lines == outcome.lines, "runc: \(runc)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A source that does not exist is named, and nothing is left.
    @Test func missingBindSourceOfAUserNamespacedContainer() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("nosource")
            let missing = sandbox.path("no-such-dir")
            let bundle = try sandbox.bundle(args: ["true"]) {
                $0.linux?.namespaces?.append(LinuxNamespace(type: .user))
                $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                $0.mounts?.append(Mount(destination: "/tmp/x", type: "bind", source: missing, options: ["rbind"]))
            }
            let outcome = sandbox.skiff("create", "--bundle", bundle, id)
            expectRejected(outcome, mentioning: ["open mount source", missing, "No such file or directory"], in: sandbox, id: id)
        }
    }

    // MARK: the runtime as root of a user namespace

    /// `unshare --user --map-root-user` as host root: root of a user namespace that maps host
    /// root. That is rootless by runc's rule (uid_map is not the initial one), but cgroups
    /// are still writable, so they are made and joined; device nodes are bind-mounted, since
    /// mknod is refused there.
    @Test func runtimeInAUserNamespaceThatMapsHostRoot() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("usernsroot")
            let bundle = try sandbox.bundle(args: sh("echo x > /dev/null && echo null; cat /sys/class/net/lo/flags; grep -c ':/skiff/\(id)$' /proc/self/cgroup")) {
                let namespaces = $0.linux?.namespaces ?? []
                $0.linux?.namespaces = namespaces.filter { $0.type != .cgroup }
            }
            let outcome = execute("/usr/bin/unshare", ["--user", "--map-root-user", Paths.binary, "--root", sandbox.root,
                                                       "run", "--bundle", bundle, id])
            #expect(outcome.succeeded, "\(outcome)")
            // One line per hierarchy, as in ours.
            let hierarchies = (readFile("/proc/self/cgroup") ?? "").split(separator: "\n").count
            #expect(outcome.lines == ["null", "0x9", "\(hierarchies)"], "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}

extension RootlessTests {
    /// An unprivileged user runs skiff as root of its own user namespace, as rootless podman
    /// does (`podman unshare`): the container has no user namespace of its own, only ours.
    @Suite struct InAUserNamespace {
        /// The busybox config, no user namespace, on a rootfs the user can reach; devpts
        /// without gid=5, which this namespace does not map (podman drops it too).
        func bundle(_ rootless: RootlessSandbox, name: String = "bundle", args: [String],
                    configure: (inout Spec) -> Void = { _ in }) throws -> String {
            var spec = try Sandbox.baseSpec()
            spec.root = Root(path: rootless.rootfs, readonly: true)
            spec.process?.args = args
            spec.mounts = spec.mounts?.map { mount in
                var mount = mount
                if mount.type == "devpts" { mount.options = mount.options?.filter { !$0.hasPrefix("gid=") } }
                return mount
            }
            configure(&spec)
            let path = try rootless.userDirectory(name)
            try spec.jsonData().write(to: URL(fileURLWithPath: path + "/config.json"))
            return path
        }

        /// Runs `body` with every skiff command of the sandbox run as root of one user
        /// namespace of the user's, kept alive by a pause process as podman keeps its own
        /// (every command must see the same namespace: exec joins the container's).
        func userNamespaced(_ body: (RootlessSandbox, _ pause: Int32) throws -> Void) throws {
            try RootlessSandbox.with { rootless in
                let user = rootless.user
                let pause = try Spawned(
                    ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", "--",
                     "/usr/bin/unshare", "--user", "--map-root-user", "/bin/sleep", "1000"],
                    stdoutPath: rootless.path("pause.out"), stderrPath: rootless.path("pause.err"),
                    executable: "/usr/bin/setpriv")
                defer {
                    kill(pause.pid, SIGKILL)
                    _ = pause.wait()
                }
                let mapped = poll {
                    (readFile("/proc/\(pause.pid)/uid_map") ?? "").split(whereSeparator: \.isWhitespace) == ["0", "\(user.uid)", "1"]
                }
                try #require(mapped, "the pause process never got its user namespace: \(pause.wait(timeout: 0))")
                rootless.inner = ["/usr/bin/nsenter", "-t", "\(pause.pid)", "-U", "--preserve-credentials"]
                try body(rootless, pause.pid)
            }
        }

        /// As expectRootlessRejected, with the pause process allowed to live.
        func expectRejected(_ outcome: Outcome, mentioning words: [String], _ rootless: RootlessSandbox, id: String,
                            pause: Int32, sourceLocation: SourceLocation = #_sourceLocation) {
            IntegrationTests.expectRejected(outcome, mentioning: words, in: rootless.sandbox, id: id, sourceLocation: sourceLocation)
            #expect(rootless.stateEntries == [], sourceLocation: sourceLocation)
            #expect(processes(rootless, besides: pause) == [], sourceLocation: sourceLocation)
        }

        /// The user's processes but the pause process.
        func processes(_ rootless: RootlessSandbox, besides pause: Int32) -> [String] {
            rootless.userProcesses.filter { !$0.hasPrefix("\(pause) ") }
        }

        @Test func runsAsRootOfTheCallersUserNamespace() throws {
            try userNamespaced { rootless, pause in
                let id = rootless.id("podmanlike")
                let bundle = try bundle(rootless, args: sh("echo x > /dev/null && echo null; cat /sys/class/net/lo/flags; id -u; cat /proc/self/uid_map"))
                let outcome = rootless.skiff("run", "--bundle", bundle, id)
                #expect(outcome.succeeded, "\(outcome)")
                let words = outcome.lines.map { $0.split(separator: " ").joined(separator: " ") }
                #expect(words == ["null", "0x9", "0", "0 \(rootless.user.uid) 1"], "\(outcome)")
                // Nothing delegated, no limits asked for: no cgroup, and a warning saying so.
                #expect(outcome.stderrLines.count == 1 && outcome.stderr.contains("runs without a cgroup"), "\(outcome)")
                // runc, run the same way, sees the same.
                let (executable, arguments) = rootless.commandLine([])
                let runcLine = Array(arguments.dropLast()) + ["/usr/sbin/runc", "--root", rootless.runtimeDir + "/runc",
                                                              "run", "--bundle", bundle, id + "-runc"]
                let runc = execute(executable, runcLine, currentDirectory: rootless.sandbox.directory)
                #expect(runc.succeeded && runc.lines == outcome.lines, "runc: \(runc)")
                #expect(rootless.stateEntries == [])
                #expect(processes(rootless, besides: pause) == [])
            }
        }

        /// The state root is $XDG_RUNTIME_DIR/skiff there (runc: shouldHonorXDGRuntimeDir), and
        /// every command works: exec (in a namespace that denies setgroups), kill, delete.
        @Test func lifecycleWithTheStateUnderXDGRuntimeDir() throws {
            try userNamespaced { rootless, pause in
                let id = rootless.id("podmanlife")
                let bundle = try bundle(rootless, args: ["sleep", "1000"])
                let created = rootless.skiff("create", "--bundle", bundle, id)
                try #require(created.succeeded, "\(created)")
                #expect(rootless.stateEntries == [id])
                #expect(rootless.skiff("start", id).succeeded)
                #expect(rootless.waitFor(id, status: "running"))
                let exec = rootless.skiff("exec", id, "sh", "-c", "id -u; echo x > /dev/null && echo null")
                #expect(exec.succeeded && exec.lines == ["0", "null"], "\(exec)")
                #expect(rootless.skiff("kill", id, "KILL").succeeded)
                #expect(rootless.waitFor(id, status: "stopped"))
                let deleted = rootless.skiff("delete", id)
                #expect(deleted.succeeded, "\(deleted)")
                #expect(rootless.stateEntries == [])
                #expect(processes(rootless, besides: pause) == [])
            }
        }

        /// `--rootless false` overrides the detection: host cgroups are then required, and this
        /// user may not make them.
        @Test func rootlessFalseOverridesTheDetection() throws {
            try userNamespaced { rootless, pause in
                let id = rootless.id("notrootless")
                let bundle = try bundle(rootless, args: ["true"])
                let outcome = rootless.skiff("--rootless", "false", "run", "--bundle", bundle, id)
                expectRejected(outcome, mentioning: ["/sys/fs/cgroup", "permission denied"], rootless, id: id, pause: pause)
                let forced = rootless.skiff("--rootless", "true", "run", "--bundle", bundle, id)
                #expect(forced.succeeded, "\(forced)")
            }
        }

        @Test func limitsWithoutAWritableCgroupAreRefused() throws {
            try userNamespaced { rootless, pause in
                let id = rootless.id("podmanlimits")
                let bundle = try bundle(rootless, args: ["true"]) { $0.linux?.resources = LinuxResources(pids: LinuxPids(limit: 10)) }
                let outcome = rootless.skiff("run", "--bundle", bundle, id)
                expectRejected(outcome, mentioning: ["linux.resources", "rootless", "limits need a cgroup"], rootless, id: id, pause: pause)
            }
        }

        /// Without XDG_RUNTIME_DIR, root of a user namespace falls back to /run/skiff as runc
        /// does, which this user cannot write: the error says what to do.
        @Test func noRuntimeDirFallsBackToRunSkiff() throws {
            try userNamespaced { rootless, pause in
                let id = rootless.id("podmannoxdg")
                let bundle = try bundle(rootless, args: ["true"])
                let outcome = rootless.skiff(["run", "--bundle", bundle, id], unset: ["XDG_RUNTIME_DIR"])
                expectRejected(outcome, mentioning: ["/run/skiff", "permission denied", "--root", "XDG_RUNTIME_DIR"],
                               rootless, id: id, pause: pause)
                #expect(!FileManager.default.fileExists(atPath: "/run/skiff/" + id))
            }
        }
    }
}
