import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// User namespaces with id mappings and joining namespaces that already exist.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct NamespaceTests {
    @Test func userNamespaceMapsRootToAHostRange() throws {
        try Sandbox.with { sandbox in
            // The mapped root is an unprivileged host user: it must be able to reach the bind
            // source, and write into it.
            chmod(sandbox.directory, 0o755)
            let shared = sandbox.path("shared")
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            chmod(shared, 0o777)

            let id = sandbox.id("userns")
            let bundle = try sandbox.bundle(args: sh("""
                cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /tmp/shared/made-inside
                """)) { spec in
                spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
                spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                spec.mounts?.append(Mount(destination: "/tmp/shared", type: "bind", source: shared, options: ["rbind"]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            let words = outcome.lines.map { $0.split(separator: " ").joined(separator: " ") }
            #expect(words == ["0 100000 65536", "0 100000 65536", "0", "0"])

            var info = stat()
            let found = stat(shared + "/made-inside", &info) == 0
            #expect(found, "the file made inside is not on the host")
            if found {
                #expect(info.st_uid == 100000)
                #expect(info.st_gid == 100000)
            }
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func joinsANetworkNamespaceByPath() throws {
        try Sandbox.with { sandbox in
            let namespace = try sandbox.networkNamespace()
            var info = stat()
            try #require(stat(namespace, &info) == 0, "stat \(namespace)")
            let hostView = "net:[\(info.st_ino)]"

            let id = sandbox.id("netns")
            let bundle = try sandbox.bundle(args: ["readlink", "/proc/self/ns/net"]) { spec in
                spec.join(.network, at: namespace)
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == hostView + "\n")
            #expect(outcome.stdout != (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")).map { $0 + "\n" })
            #expect(sandbox.leftovers(id: id) == [])
            // The namespace belongs to whoever made it: it outlives the container.
            #expect(MountInfo.host().contains { $0.mountPoint == namespace && $0.fsType == "nsfs" },
                    "\(namespace) is no longer mounted")
        }
    }

    @Test func joinsTheUtsNamespaceOfAnotherContainer() throws {
        try Sandbox.with { sandbox in
            let first = sandbox.id("uts-owner")
            let owner = try sandbox.bundle("owner", args: ["sleep", "1000"]) { $0.hostname = "shared-uts" }
            #expect(sandbox.skiff("run", "--detach", "--bundle", owner, first).succeeded)
            let pid = try #require(sandbox.state(first)?["pid"] as? Int)

            let second = sandbox.id("uts-guest")
            let guest = try sandbox.bundle("guest", args: ["hostname"]) { spec in
                spec.hostname = nil
                spec.join(.uts, at: "/proc/\(pid)/ns/uts")
            }
            let outcome = sandbox.skiff("run", "--bundle", guest, second)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "shared-uts\n")
            #expect(sandbox.skiff("delete", "--force", first).succeeded)
            #expect(sandbox.leftovers(id: first) == [])
            #expect(sandbox.leftovers(id: second) == [])
        }
    }

    /// An `rslave` bind receives mounts made later under its host source, and sends none back.
    @Test func rslaveBindReceivesHostMounts() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("propagated")
            try FileManager.default.createDirectory(atPath: source + "/later", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: source + "/back", withIntermediateDirectories: true)
            try sandbox.mountOnHost(["--bind", source], target: source)
            try sandbox.mountOnHost(["--make-shared"], target: source)
            let control = try Control(sandbox)

            let id = sandbox.id("rslave")
            let bundle = try sandbox.bundle(args: sh("""
                echo > /tmp/ctl/ready; \(Control.waitForGo)
                cat /tmp/prop/later/file; mount -t tmpfs back /tmp/prop/back && echo mounted-back
                """)) { spec in
                spec.mounts? += [
                    control.mount,
                    Mount(destination: "/tmp/prop", type: "bind", source: source, options: ["rbind", "rslave"]),
                ]
                // The container mounts on its side of the bind: it needs CAP_SYS_ADMIN.
                spec.process?.capabilities = LinuxCapabilities(
                    bounding: ["CAP_SYS_ADMIN"], effective: ["CAP_SYS_ADMIN"], permitted: ["CAP_SYS_ADMIN"])
            }
            let run = try sandbox.spawn(["run", "--bundle", bundle, id])
            try #require(poll { control.read("ready") != nil }, "the container never became ready: \(run.stdout)")
            try sandbox.mountOnHost(["-t", "tmpfs", "later"], target: source + "/later")
            try "from the host later\n".write(toFile: source + "/later/file", atomically: false, encoding: .utf8)
            control.release()
            let outcome = run.wait(timeout: 10)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.stdout == "from the host later\nmounted-back\n")
            #expect(!MountInfo.host().contains { $0.mountPoint == source + "/back" }, "a container mount reached the host")
            sandbox.unmountHost()
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A user namespace joining a network namespace it does not own: sysfs cannot be mounted
    /// fresh there, and the container must still start with a readable /sys.
    @Test func userNamespaceJoiningAHostOwnedNetworkNamespace() throws {
        try Sandbox.with { sandbox in
            let namespace = try sandbox.networkNamespace()
            var info = stat()
            try #require(stat(namespace, &info) == 0, "stat \(namespace)")
            chmod(sandbox.directory, 0o755)
            let id = sandbox.id("userns-netns")
            let bundle = try sandbox.bundle(args: sh("readlink /proc/self/ns/net; id -u; ls /sys/class/net")) { spec in
                spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
                spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                spec.join(.network, at: namespace)
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines.prefix(2) == ["net:[\(info.st_ino)]", "0"])
            #expect(outcome.lines.count > 2, "/sys/class/net is empty: \(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func userNamespaceWithANonRootUser() throws {
        try Sandbox.with { sandbox in
            chmod(sandbox.directory, 0o755)
            let shared = sandbox.path("shared")
            try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
            chmod(shared, 0o777)
            let id = sandbox.id("userns-user")
            let bundle = try sandbox.bundle(args: sh("id -u; id -g; id -G; touch /tmp/shared/by-user")) { spec in
                spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
                spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 200000, size: 65536)]
                spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 200000, size: 65536)]
                spec.process?.user = User(uid: 1000, gid: 1000, additionalGids: [5])
                spec.mounts?.append(Mount(destination: "/tmp/shared", type: "bind", source: shared, options: ["rbind"]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["1000", "1000", "1000 5"])
            var info = stat()
            #expect(stat(shared + "/by-user", &info) == 0)
            #expect(info.st_uid == 201000 && info.st_gid == 201000, "owner \(info.st_uid):\(info.st_gid)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
