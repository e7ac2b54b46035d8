import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A rootfs the image author controls must not let the runtime touch the host: symlinks in
/// place of mount destinations, /dev or /proc (runc CVE-2021-30465, 2024-45310, 2026-41579,
/// crun CVE-2019-18837), `..` in destinations, and a cwd that points at an inherited fd (runc
/// CVE-2024-21626). skiff may refuse such a container or build it inside the rootfs; either
/// way the host path stays as it was and nothing is left behind.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct EscapeTests {
    /// One hostile layout: what to plant in a copy of the rootfs and what to ask for.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        /// The rootfs entry replaced by a symlink to the host dir (nil: none).
        var symlink: String?
        /// Whether the symlink is written relative (`../../..`) rather than absolute.
        var relative = false
        /// A tmpfs mount added to the config; `$HOST` stands for the host dir.
        var tmpfsDestination: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "tmpfs on an absolute symlink", symlink: "evil", tmpfsDestination: "/evil"),
        Case(name: "tmpfs on a relative symlink", symlink: "evil", relative: true, tmpfsDestination: "/evil"),
        Case(name: "tmpfs below a symlinked dir", symlink: "evil", tmpfsDestination: "/evil/sub"),
        Case(name: "tmpfs on a path with ..", tmpfsDestination: "/tmp/../../../../../../$HOST"),
        Case(name: "/dev a symlink", symlink: "dev"),
        Case(name: "/proc a symlink", symlink: "proc"),
        Case(name: "/sys a symlink", symlink: "sys"),
    ]

    @Test(arguments: cases)
    func hostPathStaysUntouched(_ hostile: Case) throws {
        try Sandbox.with { sandbox in
            let (rootfs, target) = try sandbox.hostileRootfs()
            if let entry = hostile.symlink {
                let link = rootfs + "/" + entry
                host("rm", "-rf", link)
                let depth = link.split(separator: "/").count - 1
                let destination = hostile.relative
                    ? String(repeating: "../", count: depth) + target.dropFirst() : target
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: destination)
            }

            let id = sandbox.id("escape")
            let bundle = try sandbox.bundle(args: ["true"]) { spec in
                spec.root = Root(path: rootfs, readonly: false)
                if let destination = hostile.tmpfsDestination {
                    spec.mounts?.append(Mount(
                        destination: destination.replacingOccurrences(of: "$HOST", with: target.dropFirst()),
                        type: "tmpfs", source: "tmpfs", options: ["size=1m"]))
                }
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            if outcome.status != 0 {
                #expect(outcome.stderrLines.count == 1, "\(outcome)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: target) == ["sentinel"])
            #expect(!MountInfo.host().contains { $0.mountPoint.hasPrefix(target) }, "a mount landed on the host path")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// The container sees its own tmpfs where the symlink leads, not the host dir.
    @Test func symlinkedDestinationIsMountedInsideTheContainer() throws {
        try Sandbox.with { sandbox in
            let rootfs = sandbox.path("rootfs")
            let copied = host("cp", "-a", Paths.rootfs, rootfs)
            try #require(copied.succeeded, "\(copied)")
            let target = sandbox.path("hostdir")
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            try "host\n".write(toFile: target + "/sentinel", atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/evil", withDestinationPath: target)

            let id = sandbox.id("symlink")
            let bundle = try sandbox.bundle(args: sh("ls -A /evil/; touch /evil/inside && echo wrote")) {
                $0.root = Root(path: rootfs, readonly: false)
                $0.mounts?.append(Mount(destination: "/evil", type: "tmpfs", source: "tmpfs", options: ["size=1m"]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            if outcome.status == 0 {
                #expect(outcome.stdout == "wrote\n", "\(outcome)")
            } else {
                expectRejected(outcome, mentioning: ["/evil"], in: sandbox, id: id)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: target) == ["sentinel"])
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A bind of a file onto a symlink to a host file must not replace what the host sees.
    @Test func fileBindOnASymlinkToAHostFile() throws {
        try Sandbox.with { sandbox in
            let rootfs = sandbox.path("rootfs")
            let copied = host("cp", "-a", Paths.rootfs, rootfs)
            try #require(copied.succeeded, "\(copied)")
            let hostFile = sandbox.path("host-secret")
            try "host\n".write(toFile: hostFile, atomically: false, encoding: .utf8)
            let source = sandbox.path("from-bundle")
            try "bundle\n".write(toFile: source, atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/evilfile", withDestinationPath: hostFile)

            let id = sandbox.id("filebind")
            let bundle = try sandbox.bundle(args: ["true"]) {
                $0.root = Root(path: rootfs, readonly: false)
                $0.mounts?.append(Mount(destination: "/evilfile", type: "bind", source: source, options: ["bind", "ro"]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            if outcome.status != 0 {
                #expect(outcome.stderrLines.count == 1, "\(outcome)")
            }
            #expect(readFile(hostFile) == "host\n")
            #expect(!MountInfo.host().contains { $0.mountPoint == hostFile }, "a mount landed on the host file")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// runc CVE-2024-21626: a cwd through an fd the runtime leaked reaches the host's files.
    @Test(arguments: 3...8)
    func cwdThroughProcSelfFd(_ fd: Int) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cwdfd")
            let bundle = try sandbox.bundle(args: sh("readlink /proc/self/cwd")) {
                $0.process?.cwd = "/proc/self/fd/\(fd)"
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            if outcome.status == 0 {
                #expect(!outcome.stdout.contains("unreachable"), "the cwd is outside the container: \(outcome)")
                #expect(outcome.stdout.hasPrefix("/"), "\(outcome)")
            } else {
                #expect(outcome.stderrLines.count == 1, "\(outcome)")
            }
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// linux.devices paths belong in the container's /dev: one that climbs out with `..` must
    /// not put a device node into the image, least of all a read-only one.
    @Test func devicePathOutsideDev() throws {
        try Sandbox.with { sandbox in
            let rootfs = sandbox.path("rootfs")
            let copied = host("cp", "-a", Paths.rootfs, rootfs)
            try #require(copied.succeeded, "\(copied)")
            let before = try FileManager.default.contentsOfDirectory(atPath: rootfs).sorted()
            let id = sandbox.id("devpath")
            let bundle = try sandbox.bundle(args: ["true"]) {
                $0.root = Root(path: rootfs, readonly: true)
                $0.linux?.devices = [LinuxDevice(path: "/dev/../evil", type: "c", major: 1, minor: 3)]
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            if outcome.status != 0 {
                #expect(outcome.stderrLines.count == 1, "\(outcome)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: rootfs).sorted() == before,
                    "the image changed: \(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A bundle's owner who rewrites config.json while create runs must not get an
    /// unvalidated config into init: init decodes the bytes the runtime validated (a sealed
    /// memfd), so during create the file is opened once, by the runtime.
    @Test func initUsesTheConfigTheRuntimeValidated() throws {
        try Sandbox.with { sandbox in
            let bundle = try sandbox.bundle(args: ["true"])
            let inotify = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
            try #require(inotify >= 0)
            defer { close(inotify) }
            // Opens and closes both: inotify merges an event identical to the last one queued,
            // so two opens in a row would read as one.
            try #require(inotify_add_watch(inotify, bundle + "/config.json", UInt32(IN_OPEN | IN_CLOSE_NOWRITE)) >= 0)
            let id = sandbox.id("config-once")
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            #expect(created.succeeded, "\(created)")
            var buffer = [UInt8](repeating: 0, count: 4096)
            let got = max(0, read(inotify, &buffer, buffer.count))
            // A watch on a file reports events without a name: each is one inotify_event.
            let size = MemoryLayout<inotify_event>.size
            let opens = stride(from: 0, to: got - size + 1, by: size).filter { offset in
                buffer.withUnsafeBytes { $0.load(fromByteOffset: offset, as: inotify_event.self).mask & UInt32(IN_OPEN) != 0 }
            }.count
            #expect(opens == 1, "config.json opened \(opens) times during create")
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
        }
    }
}
