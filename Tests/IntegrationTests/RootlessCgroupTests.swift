import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether this host has a pure cgroup v2 hierarchy at /sys/fs/cgroup (`make test-cgroup2`
/// runs the tests in such a guest).
let isPureCgroup2 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")

/// A cgroup v2 subtree handed to the test user as systemd's `Delegate=yes` hands
/// `user@<uid>.service` over: the directory and its cgroup.procs, cgroup.subtree_control and
/// cgroup.threads belong to the user; below it a leaf, all the user's, where the user's
/// commands run (the user's "session"). With `delegated: false` only the leaf is the user's.
final class DelegatedCgroup {
    let path: String
    var leaf: String { path + "/leaf" }

    init(user: RootlessUser, delegated: Bool = true) throws {
        path = "/sys/fs/cgroup/skiff-rootless-\(UUID().uuidString.prefix(8).lowercased())"
        let made = host("mkdir", "-p", path + "/leaf")
        try #require(made.succeeded, "\(made)")
        if delegated {
            for file in ["", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"] {
                try #require(chown(path + file, user.uid, user.gid) == 0, "chown \(path + file): \(String(cString: strerror(errno)))")
            }
        }
        let owned = host("chown", "-R", "\(user.uid):\(user.gid)", leaf)
        try #require(owned.succeeded, "\(owned)")
    }

    /// Runs every command of `sandbox` from the leaf: a shell joins it, then becomes skiff.
    func enter(_ sandbox: RootlessSandbox) {
        sandbox.launcher = ["/bin/sh", "-c", #"echo $$ > "$0/cgroup.procs" && exec "$@""#, leaf]
    }

    /// The directories below `path`, relative to it, sorted.
    var children: [String] {
        (FileManager.default.subpaths(atPath: path) ?? []).filter { child in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path + "/" + child, isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted()
    }

    func read(_ file: String) -> String? {
        readFile(path + "/" + file)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func remove() {
        _ = host("sh", "-c", "echo 1 > \"$0/cgroup.kill\"", path)
        for child in children.reversed() { poll(timeout: 5) { rmdir(path + "/" + child) == 0 || errno == ENOENT } }
        poll(timeout: 5) { rmdir(path) == 0 || errno == ENOENT }
    }

    static func with<T>(user: RootlessUser, delegated: Bool = true, _ body: (DelegatedCgroup) throws -> T) throws -> T {
        let cgroup = try DelegatedCgroup(user: user, delegated: delegated)
        defer { cgroup.remove() }
        return try body(cgroup)
    }
}

extension RootlessTests {
    /// Cgroups handed to the user, for real: in the pure cgroup v2 guest of `make test-cgroup2`.
    @Suite(.enabled(if: isPureCgroup2, "needs a pure cgroup v2 host to delegate a subtree (make test-cgroup2)"))
    struct DelegatedCgroups {
        let limits = LinuxResources(memory: LinuxMemory(limit: 64 << 20), pids: LinuxPids(limit: 20))

        @Test func limitsAreAppliedInTheDelegatedSubtree() throws {
            try RootlessSandbox.with { rootless in
                try DelegatedCgroup.with(user: rootless.user) { cgroup in
                    cgroup.enter(rootless)
                    let id = rootless.id("limits")
                    let bundle = try rootless.bundle(args: ["sleep", "1000"]) { $0.linux?.resources = limits }
                    let started = rootless.skiff("run", "--detach", "--bundle", bundle, id)
                    try #require(started.succeeded, "\(started)")
                    let pid = try #require(rootless.state(id)?["pid"] as? Int)

                    // Beside our own cgroup (the leaf), below the delegated parent, as runc puts it.
                    #expect(cgroup.children == ["leaf", id])
                    #expect(cgroup.read(id + "/memory.max") == "\(64 << 20)")
                    #expect(cgroup.read(id + "/pids.max") == "20")
                    #expect(cgroup.read(id + "/cgroup.procs") == "\(pid)")
                    let owner = try FileManager.default.attributesOfItem(atPath: cgroup.path + "/" + id)[.ownerAccountID] as? NSNumber
                    #expect(owner?.uint32Value == rootless.user.uid)

                    // The container's own view, through its cgroup namespace.
                    let inside = rootless.skiff("exec", id, "cat", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max")
                    #expect(inside.lines == ["\(64 << 20)", "20"], "\(inside)")

                    let ps = rootless.skiff("ps", "--format", "json", id)
                    #expect(ps.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\(pid)]", "\(ps)")
                    #expect(rootless.skiff("pause", id).succeeded)
                    #expect(rootless.status(id) == "paused")
                    #expect(cgroup.read(id + "/cgroup.freeze") == "1")
                    #expect(rootless.skiff("resume", id).succeeded)
                    #expect(rootless.status(id) == "running")

                    #expect(rootless.skiff("delete", "--force", id).succeeded)
                    #expect(cgroup.children == ["leaf"])
                    #expect(rootless.stateEntries == [])
                    #expect(rootless.userProcesses == [])
                }
            }
        }

        @Test func pidsLimitIsEnforced() throws {
            try RootlessSandbox.with { rootless in
                try DelegatedCgroup.with(user: rootless.user) { cgroup in
                    cgroup.enter(rootless)
                    let id = rootless.id("pids")
                    let bundle = try rootless.bundle(args: sh("for i in 1 2 3 4 5 6; do sleep 1 & done 2>&1; wait")) {
                        $0.linux?.resources = LinuxResources(pids: LinuxPids(limit: 4))
                    }
                    let outcome = rootless.skiff("run", "--bundle", bundle, id)
                    #expect(outcome.stdout.contains("can't fork"), "\(outcome)")
                    #expect(cgroup.children == ["leaf"])
                }
            }
        }

        @Test func relativeCgroupsPathLiesInTheDelegatedSubtree() throws {
            try RootlessSandbox.with { rootless in
                try DelegatedCgroup.with(user: rootless.user) { cgroup in
                    cgroup.enter(rootless)
                    let id = rootless.id("relative")
                    let bundle = try rootless.bundle(args: ["sleep", "1000"]) {
                        $0.linux?.cgroupsPath = "pod/" + id
                        $0.linux?.resources = LinuxResources(pids: LinuxPids(limit: 30))
                    }
                    try #require(rootless.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
                    #expect(cgroup.read("pod/\(id)/pids.max") == "30")
                    #expect(rootless.skiff("delete", "--force", id).succeeded)
                    #expect(cgroup.children == ["leaf", "pod"])
                }
            }
        }

        /// Only our own cgroup is the user's: the container gets a cgroup below it, to be
        /// tracked, frozen and killed, but limits have nowhere to go.
        @Test func onlyTheOwnCgroupIsTheUsers() throws {
            try RootlessSandbox.with { rootless in
                try DelegatedCgroup.with(user: rootless.user, delegated: false) { cgroup in
                    cgroup.enter(rootless)
                    let id = rootless.id("own")
                    let bundle = try rootless.bundle(args: ["sleep", "1000"])
                    try #require(rootless.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
                    let pid = try #require(rootless.state(id)?["pid"] as? Int)
                    #expect(cgroup.children == ["leaf", "leaf/" + id])
                    #expect(cgroup.read("leaf/\(id)/cgroup.procs") == "\(pid)")
                    #expect(rootless.skiff("delete", "--force", id).succeeded)
                    #expect(cgroup.children == ["leaf"])

                    let limited = rootless.id("ownlimits")
                    let withLimits = try rootless.bundle("limited", args: ["true"]) { $0.linux?.resources = limits }
                    let outcome = rootless.skiff("create", "--bundle", withLimits, limited)
                    expectRootlessRejected(outcome, mentioning: ["linux.resources", "no cgroup v2 subtree is delegated", "permission denied"],
                                           in: rootless, id: limited)
                    #expect(cgroup.children == ["leaf"])
                }
            }
        }
    }
}
