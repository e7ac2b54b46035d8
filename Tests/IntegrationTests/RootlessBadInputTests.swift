import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension RootlessTests {
    /// What an unprivileged user may ask for and not get: one clear line, nothing left behind.
    @Suite struct BadInput {
        /// `create` as the user; expects it rejected naming `words`.
        func expectCreateRejected(
            _ rootless: RootlessSandbox, _ name: String, mentioning words: [String], env: [String] = [],
            sourceLocation: SourceLocation = #_sourceLocation, configure: (inout Spec) throws -> Void
        ) throws {
            let id = rootless.id(name)
            let bundle = try rootless.bundle(args: ["true"], configure: configure)
            let outcome = rootless.skiff(["create", "--bundle", bundle, id], env: env)
            expectRootlessRejected(outcome, mentioning: words, in: rootless, id: id, sourceLocation: sourceLocation)
        }

        // MARK: id maps

        /// Host root is nobody's to map: newuidmap refuses, and its own words reach the user.
        @Test func mappingIDsTheUserDoesNotOwn() throws {
            try RootlessSandbox.with { rootless in
                try expectCreateRejected(rootless, "notmine", mentioning: ["newuidmap", "[0-1) -> [0-1) not allowed"]) {
                    $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 0, size: 1)]
                }
            }
        }

        /// A range beyond the user's own subordinate range.
        @Test func mappingMoreSubordinateIDsThanGiven() throws {
            try RootlessSandbox.with { rootless in
                let user = rootless.user
                try expectCreateRejected(rootless, "toomany", mentioning: ["newgidmap", "not allowed"]) {
                    rootless.mapSubordinateIDs(&$0)
                    $0.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: user.gid, size: 1),
                                             LinuxIDMapping(containerID: 1, hostID: user.subgidStart, size: user.subgidCount + 1)]
                }
            }
        }

        /// A user without an entry in /etc/subuid can map only itself.
        @Test func userWithoutSubordinateIDs() throws {
            let user = try RootlessUser.withoutSubordinateIDs.get()
            try RootlessSandbox.with(user: user) { rootless in
                // Told before anything is made, with the file and the fix (not newuidmap's
                // terse "not allowed" once the namespace exists).
                try expectCreateRejected(rootless, "nosubuid",
                                         mentioning: ["linux.uidMappings", "/etc/subuid", "no range for user \(user.name)",
                                                      "usermod --add-subuids"]) {
                    $0.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: user.uid, size: 1),
                                             LinuxIDMapping(containerID: 1, hostID: 100_000, size: 65536)]
                }
            }
        }

        /// The same user runs a single-id map without any help from /etc/subuid.
        @Test func userWithoutSubordinateIDsCanMapItself() throws {
            let user = try RootlessUser.withoutSubordinateIDs.get()
            try RootlessSandbox.with(user: user) { rootless in
                let id = rootless.id("self")
                let bundle = try rootless.bundle(args: ["cat", "/proc/self/uid_map"])
                let outcome = rootless.skiff("run", "--bundle", bundle, id)
                #expect(outcome.succeeded && outcome.stdout.split(separator: " ") == ["0", "\(user.uid)", "1\n"], "\(outcome)")
            }
        }

        /// uidmap not installed, simulated without uninstalling it: skiff looks newuidmap up in
        /// PATH (as runc does), so a PATH without it is a machine without it.
        @Test func severalRangesWithoutUidmapInstalled() throws {
            try RootlessSandbox.with { rootless in
                try expectCreateRejected(rootless, "nouidmap", mentioning: ["newuidmap not found", "uidmap"],
                                         env: ["PATH=/nonexistent"]) {
                    rootless.mapSubordinateIDs(&$0)
                }
            }
        }

        /// A single map of the user's own ids needs no tool at all.
        @Test func ownIDsNeedNoUidmap() throws {
            try RootlessSandbox.with { rootless in
                let id = rootless.id("ownids")
                let bundle = try rootless.bundle(args: ["true"])
                let outcome = rootless.skiff(["run", "--bundle", bundle, id], env: ["PATH=/nonexistent"])
                #expect(outcome.succeeded, "\(outcome)")
            }
        }

        @Test func noUserNamespace() throws {
            try RootlessSandbox.with { rootless in
                try expectCreateRejected(rootless, "nouserns", mentioning: ["linux.namespaces", "user namespace"]) {
                    let namespaces = $0.linux?.namespaces ?? []
                    $0.linux?.namespaces = namespaces.filter { $0.type != .user }
                    $0.linux?.uidMappings = nil
                    $0.linux?.gidMappings = nil
                }
            }
        }

        // MARK: state root

        @Test func stateRootTheUserCannotWrite() throws {
            try RootlessSandbox.with { rootless in
                let id = rootless.id("root")
                // Root's, inside the user's sandbox: the user can look but not write.
                let root = rootless.path("roots")
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                let bundle = try rootless.bundle(args: ["true"])
                for stateRoot in [root, root + "/state"] {
                    let outcome = rootless.skiff("--root", stateRoot, "run", "--bundle", bundle, id)
                    expectRootlessRejected(outcome, mentioning: [root, "permission denied", "pass --root"], in: rootless, id: id)
                    #expect(((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? ["?"]) == [])
                }
            }
        }

        @Test func noRuntimeDirAndNoRoot() throws {
            try RootlessSandbox.with { rootless in
                let id = rootless.id("noxdg")
                let bundle = try rootless.bundle(args: ["true"])
                let outcome = rootless.skiff(["run", "--bundle", bundle, id], unset: ["XDG_RUNTIME_DIR"])
                expectRootlessRejected(outcome, mentioning: ["XDG_RUNTIME_DIR", "--root"], in: rootless, id: id)
            }
        }

        // MARK: cgroups

        /// Limits need a cgroup. With nothing delegated or writable for this user (cgroup v2
        /// without delegation, or any cgroup v1 hierarchy), create fails rather than run
        /// unlimited (runc: "rootless needs no limits + no cgrouppath when no permission is
        /// granted for cgroups", "cannot set pids limit: container could not join or create
        /// cgroup").
        @Test func limitsWithoutADelegatedCgroup() throws {
            try RootlessSandbox.with { rootless in
                try expectCreateRejected(rootless, "limits", mentioning: ["linux.resources", "rootless", "cgroup"]) {
                    $0.linux?.resources = LinuxResources(pids: LinuxPids(limit: 10))
                }
            }
        }

        /// Without limits the container runs, without a cgroup of its own, and skiff says so.
        @Test func noLimitsAndNoDelegatedCgroupRuns() throws {
            try RootlessSandbox.with { rootless in
                let id = rootless.id("nolimits")
                let bundle = try rootless.bundle(args: ["true"])
                let outcome = rootless.skiff("run", "--bundle", bundle, id)
                #expect(outcome.succeeded, "\(outcome)")
                let warned = outcome.stderrLines.count == 1 && outcome.stderr.contains("level=warning")
                    && outcome.stderr.contains("rootless: container \(id) runs without a cgroup")
                // With cgroup v1 controllers nothing is writable for this user; a pure v2 host
                // may still give it a cgroup below its own (then nothing is said).
                let v1 = MountInfo.host().contains { $0.fsType == "cgroup" }
                #expect(warned || (!v1 && outcome.stderr == ""), "\(outcome)")
            }
        }

        @Test func explicitCgroupsPathTheUserCannotWrite() throws {
            try RootlessSandbox.with { rootless in
                try expectCreateRejected(rootless, "cgpath", mentioning: ["linux.cgroupsPath", "permission denied"]) {
                    $0.linux?.cgroupsPath = "/skiff-rootless-test/denied"
                }
            }
        }
    }
}
