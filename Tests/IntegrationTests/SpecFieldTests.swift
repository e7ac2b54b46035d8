import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The runtime-spec 1.2 fields issue 11 left: idmapped mounts, linux.netDevices, tmpcopyup.
/// Each is checked from inside the container and from the host. runc 1.1.5 refuses idmapped
/// mounts unless they repeat the container's user namespace maps and ignores netDevices and
/// tmpcopyup on 1.1's terms; the reference is runc 1.2's behaviour (its tests/integration/
/// idmap.bats and netdev.bats).
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, mounts and network links"))
struct SpecFieldTests {
    /// A directory on the sandbox's filesystem (ext4 or tmpfs, both idmappable on 6.x) with a
    /// file owned by host root, reachable by any uid.
    private func source(_ sandbox: Sandbox) throws -> String {
        chmod(sandbox.directory, 0o755)
        let source = sandbox.path("idmap-src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        chmod(source, 0o777)
        #expect(FileManager.default.createFile(atPath: source + "/owned-by-root", contents: Data()))
        #expect(chown(source + "/owned-by-root", 0, 0) == 0)
        return source
    }

    private func owner(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return "\(info.st_uid):\(info.st_gid)"
    }

    /// Without a user namespace (runc 1.2 "simple idmap mount [no userns]"): host root's file
    /// shows as the mapped 1000 inside; root inside is unmapped on the mount, so its write
    /// fails with EOVERFLOW (runc 1.2: "Value too large for defined data type"), and the mount
    /// is marked idmapped in mountinfo.
    @Test func idmappedMountWithoutUserNamespace() throws {
        try Sandbox.with { sandbox in
            let source = try source(sandbox)
            let id = sandbox.id("idmap")
            let bundle = try sandbox.bundle(args: sh("""
                stat -c %u:%g /tmp/data/owned-by-root; grep -c ' /tmp/data .*idmapped' /proc/self/mountinfo
                touch /tmp/data/by-root 2>&1 | grep -o 'Value too large for defined data type'
                """)) { spec in
                spec.mounts?.append(Mount(destination: "/tmp/data", type: "bind", source: source, options: ["bind"],
                                          uidMappings: [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)],
                                          gidMappings: [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["1000:1000", "1", "Value too large for defined data type"], "\(outcome)")
            #expect(!FileManager.default.fileExists(atPath: source + "/by-root"))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// `idmap` alone takes the container's user namespace maps (spec 1.2). Host root's file is
    /// root's inside (through a plain bind it would be nobody's), and what root makes inside
    /// lands as host root, not as the namespace's 100000.
    @Test(arguments: ["idmap", "ridmap"])
    func idmapOptionUsesTheContainersMaps(option: String) throws {
        try Sandbox.with { sandbox in
            let source = try source(sandbox)
            let id = sandbox.id("idmap-userns")
            let bundle = try sandbox.bundle(args: sh("""
                stat -c %u:%g /tmp/data/owned-by-root /tmp/plain/owned-by-root; touch /tmp/data/made-inside && stat -c %u:%g /tmp/data/made-inside
                """)) { spec in
                spec.linux?.namespaces?.append(LinuxNamespace(type: .user))
                spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)]
                spec.mounts?.append(Mount(destination: "/tmp/data", type: "bind", source: source, options: ["rbind", option]))
                spec.mounts?.append(Mount(destination: "/tmp/plain", type: "bind", source: source, options: ["rbind"]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["0:0", "65534:65534", "0:0"], "\(outcome)")
            #expect(owner(source + "/made-inside") == "0:0")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A filesystem that cannot be idmapped (sysfs) fails create with the field named.
    @Test func unsupportedFilesystemIsRefusedNamingTheField() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("idmap-sysfs")
            let bundle = try sandbox.bundle(args: ["true"]) { spec in
                spec.mounts?.append(Mount(destination: "/tmp/k", type: "bind", source: "/sys/kernel", options: ["bind"],
                                          uidMappings: [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)],
                                          gidMappings: [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]))
            }
            let index = try Sandbox.baseSpec().mounts?.count ?? 0
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(!created.succeeded)
            #expect(created.stderr.contains("mounts[\(index)].uidMappings: mount_setattr MOUNT_ATTR_IDMAP \"/sys/kernel\": invalid argument"), "\(created)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// linux.netDevices (runc 1.2): one end of a veth pair moves into the container renamed
    /// and up, is gone from the host meanwhile, and comes back under its own name on delete.
    @Test func netDeviceMovesInAndBack() throws {
        try Sandbox.with { sandbox in
            let base = "sk\(getpid() % 10000)"
            let added = host("ip", "link", "add", base + "a", "type", "veth", "peer", "name", base + "b")
            try #require(added.succeeded, "\(added)")
            defer { host("ip", "link", "delete", base + "a") }
            let id = sandbox.id("netdev")
            let bundle = try sandbox.bundle(args: ["sleep", "30"]) { spec in
                spec.linux?.netDevices = [base + "b": LinuxNetDevice(name: "ctr0")]
            }
            #expect(sandbox.skiff("run", "-d", "--bundle", bundle, id).succeeded)
            let inside = sandbox.skiff("exec", id, "sh", "-c", "ls /sys/class/net; cat /sys/class/net/ctr0/operstate; ip -o link show ctr0 | grep -o '<.*UP.*>' >/dev/null && echo up")
            // The operstate line is the kernel's view of a veth whose peer is down, and it moves:
            // "lowerlayerdown", or "unknown" just after the link came up (seen in CI). The
            // device's own UP flag is the check.
            #expect(Array(inside.lines.prefix(2)) == ["ctr0", "lo"] && inside.lines.last == "up" && inside.lines.count == 4, "\(inside)")
            #expect(!host("ip", "link", "show", base + "b").succeeded, "still on the host")
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            let back = host("ip", "-o", "link", "show", base + "b")
            #expect(back.succeeded && back.stdout.contains(base + "b@" + base + "a"), "\(back)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A device that does not exist fails create naming it, and nothing is left behind.
    @Test func missingNetDeviceIsRefused() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("netdev-missing")
            let bundle = try sandbox.bundle(args: ["true"]) { spec in
                spec.linux?.netDevices = ["skiff-none0": LinuxNetDevice()]
            }
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(!created.succeeded)
            #expect(created.stderr.contains(#"linux.netDevices["skiff-none0"]: find link "skiff-none0": no such device"#), "\(created)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// tmpcopyup (runc): the image's /etc shows through in the tmpfs mounted over it, with its
    /// owners and modes, while writes go to the tmpfs and never reach the image; read-only
    /// holds after the copy.
    @Test func tmpcopyupCopiesTheImageIntoTheTmpfs() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("tmpcopyup")
            let bundle = try sandbox.bundle(args: sh("""
                grep -c '^root:' /etc/passwd; stat -c '%a %u' /etc/passwd; echo x > /etc/new-file && cat /etc/new-file
                grep ' /etc ' /proc/self/mountinfo | grep -o tmpfs | head -1; touch /home/x 2>&1 | grep -o 'Read-only file system'
                stat -c '%n %u' /home/*
                """)) { spec in
                spec.mounts?.append(Mount(destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "nosuid", "mode=755"]))
                spec.mounts?.append(Mount(destination: "/home", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "ro"]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["1", "644 0", "x", "tmpfs", "Read-only file system", "/home/user 1000"], "\(outcome)")
            #expect(!FileManager.default.fileExists(atPath: Paths.rootfs + "/etc/new-file"))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
