import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One malicious bundle per escape runc or crun shipped, each checked from the host: the
/// host's file or directory is as it was, and skiff either built the container inside its
/// rootfs or refused with one clear line. (EscapeTests covers symlinked mount destinations,
/// /dev, /proc and /sys symlinks and process.cwd through /proc/self/fd.)
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct SecurityEscapeTests {
    static let oPath: Int32 = 0o10000000

    func expectUntouched(_ directory: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect((try? FileManager.default.contentsOfDirectory(atPath: directory)) == ["sentinel"],
                "something was created in the host directory", sourceLocation: sourceLocation)
        #expect(!MountInfo.host().contains { $0.mountPoint.hasPrefix(directory) }, "a mount landed on the host",
                sourceLocation: sourceLocation)
    }

    /// runc CVE-2019-5736: a container process keeps `/proc/<init>/exe` open and, once the
    /// runtime has exited, reopens it for writing to replace the host's runtime binary. skiff
    /// runs init from a read-only overlay of its binary: the reopen fails with EROFS.
    @Test func theRuntimeBinaryCannotBeReopenedForWriting() throws {
        try Sandbox.with { sandbox in
            var before = Glibc.stat()
            try #require(stat(Paths.binary, &before) == 0)
            let id = sandbox.id("exeseal")
            let bundle = try sandbox.bundle(args: ["true"])
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            try #require(created.succeeded, "\(created)")
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)

            let exe = open("/proc/\(pid)/exe", Self.oPath | O_CLOEXEC)
            try #require(exe >= 0, "open /proc/\(pid)/exe: \(String(cString: strerror(errno)))")
            defer { close(exe) }
            // Not the host's file: another filesystem (the overlay), mounted read-only.
            var fs = statvfs()
            #expect(fstatvfs(exe, &fs) == 0)
            #expect(fs.f_flag & UInt(ST_RDONLY) != 0, "init's binary is on a writable mount")
            var st = Glibc.stat()
            #expect(fstat(exe, &st) == 0)
            #expect(st.st_dev != before.st_dev, "init runs the host's binary itself")

            // Init gone, as after `start` and exec of the container process.
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            let writable = open("/proc/self/fd/\(exe)", O_WRONLY | O_CLOEXEC)
            let error = errno
            if writable >= 0 { close(writable) }
            #expect(writable == -1 && error == EROFS, "reopened for writing: \(String(cString: strerror(error)))")

            var after = Glibc.stat()
            #expect(stat(Paths.binary, &after) == 0)
            #expect(after.st_size == before.st_size && after.st_mtim.tv_sec == before.st_mtim.tv_sec
                    && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        }
    }

    /// runc CVE-2016-9962: while init waits for `start` it must not be ptrace-able by a
    /// process of the container (exec'd into it), and it holds no directory of the host.
    @Test func initWaitingForStartIsNotDumpableAndHoldsNoHostDirectory() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("dumpable")
            let bundle = try sandbox.bundle(args: ["true"])
            let created = sandbox.skiff("create", "--bundle", bundle, id)
            try #require(created.succeeded, "\(created)")
            let pid = try #require(sandbox.state(id)?["pid"] as? Int)

            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
                var st = Glibc.stat()
                if stat("/proc/\(pid)/fd/\(entry)", &st) == 0 {
                    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)")) ?? "?"
                    #expect(st.st_mode & S_IFMT != S_IFDIR, "init holds directory fd \(entry) -> \(target)")
                }
            }
            let probe = sandbox.skiff(["exec", id] + sh("cat /proc/1/environ >/dev/null 2>&1 && echo readable || echo denied"))
            #expect(probe.stdout == "denied\n", "\(probe)")
        }
    }

    /// runc CVE-2024-21626, the exec variant: `exec --cwd /proc/self/fd/N` through an fd the
    /// runtime leaked would start the process in a host directory.
    @Test(arguments: 3...8)
    func execCwdThroughProcSelfFd(_ fd: Int) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("execcwd")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            let started = sandbox.skiff("run", "--detach", "--bundle", bundle, id)
            try #require(started.succeeded, "\(started)")
            let outcome = sandbox.skiff(["exec", "--cwd", "/proc/self/fd/\(fd)", id] + sh("readlink /proc/self/cwd; ls /proc/self/fd"))
            if outcome.status == 0 {
                #expect(outcome.lines.first?.hasPrefix("/") == true, "\(outcome)")
                #expect(!outcome.stdout.contains("unreachable"), "the cwd is outside the container: \(outcome)")
                #expect(Array(outcome.lines.dropFirst()) == ["0", "1", "2", "3"], "only stdio (and ls's own fd): \(outcome)")
            } else {
                #expect(outcome.stderrLines.count == 1, "\(outcome)")
            }
        }
    }

    /// An exec's init has joined the container's mount namespace before Swift's `main` runs,
    /// and Swift read its arguments from /proc/self/cmdline (today's runtime parses
    /// /proc/self/maps; skiff's binary takes argv from glibc, Sources/CShims/argv.c). A container that unmounts its
    /// /proc, uncovering a file planted at that path, chose what the init — still holding the
    /// runtime's capabilities, outside the container's seccomp filter — ran: with the planted
    /// line `skiff --version` the exec printed skiff's version and failed ("receive on sync
    /// socket: connection reset by peer"); with another, any command of the CLI. `main` now
    /// asks the C stage whether it is the init (`Runtime.isContainerInit`), not argv. The
    /// container needs CAP_SYS_ADMIN here only to unmount /proc (a user-namespaced container's
    /// root can do that without it).
    @Test func anExecsInitIgnoresArgumentsPlantedInTheContainersProc() throws {
        try Sandbox.with { sandbox in
            let (rootfs, _) = try sandbox.hostileRootfs()
            try FileManager.default.createDirectory(atPath: rootfs + "/proc/self", withIntermediateDirectories: true)
            try Data("skiff\0--version\0".utf8).write(to: URL(fileURLWithPath: rootfs + "/proc/self/cmdline"))
            let container = try sandbox.runningContainer("fakeproc", args: sh("umount -l /proc && touch /unmounted; exec sleep 1000")) {
                $0.root = Root(path: rootfs, readonly: false)
                $0.process?.capabilities?.bounding?.append("CAP_SYS_ADMIN")
                $0.process?.capabilities?.effective?.append("CAP_SYS_ADMIN")
                $0.process?.capabilities?.permitted?.append("CAP_SYS_ADMIN")
            }
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: rootfs + "/unmounted") { usleep(20_000) }
            try #require(FileManager.default.fileExists(atPath: rootfs + "/unmounted"), "the container did not unmount /proc")
            let outcome = sandbox.skiff("exec", container.id, "echo", "inside")
            #expect(!outcome.stdout.contains("skiff version"), "the planted arguments ran: \(outcome)")
            #expect(!outcome.stdout.contains("USAGE"), "the planted arguments ran: \(outcome)")
            // Without /proc the exec may be refused, with one line; or it runs.
            if outcome.status == 0 {
                #expect(outcome.lines == ["inside"], "\(outcome)")
            } else {
                #expect(outcome.stderrLines.count == 1, "\(outcome)")
            }
            // runc on the same bundle: its init takes argv from the kernel, not /proc; its exec
            // refuses ("open /proc/self/fd: no such file or directory"), skiff's runs.
            try FileManager.default.removeItem(atPath: rootfs + "/unmounted")
            let runcID = container.id + "-runc"
            if let started = sandbox.runc(["run", "--detach", "--bundle", sandbox.path("bundle-\(container.id)"), runcID]) {
                try #require(started.succeeded, "runc run --detach: \(started)")
                for _ in 0..<100 where !FileManager.default.fileExists(atPath: rootfs + "/unmounted") { usleep(20_000) }
                let runc = try #require(sandbox.runc(["exec", runcID, "echo", "inside"]))
                #expect(!runc.stdout.contains("runc version") && !runc.stdout.contains("USAGE"), "\(runc)")
                #expect(runc.succeeded ? runc.lines == ["inside"] : runc.stderrLines.count == 1, "\(runc)")
            }
        }
    }

    /// runc CVE-2025-31133 and CVE-2026-41579: an image whose /dev entries are symlinks (to
    /// a procfs file that would make masking a writable bind of core_pattern, to host paths)
    /// when the config has no /dev tmpfs, so the image's /dev is used.
    @Test func devSymlinksInTheImageRedirectNothing() throws {
        try Sandbox.with { sandbox in
            let (rootfs, hostDirectory) = try sandbox.hostileRootfs()
            let dev = rootfs + "/dev"
            host("rm", "-rf", dev)
            try FileManager.default.createDirectory(atPath: dev, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: dev + "/null", withDestinationPath: "/proc/sys/kernel/core_pattern")
            try FileManager.default.createSymbolicLink(atPath: dev + "/zero", withDestinationPath: hostDirectory + "/zero")
            try FileManager.default.createSymbolicLink(
                atPath: dev + "/full", withDestinationPath: String(repeating: "../", count: 12) + hostDirectory.dropFirst() + "/full")
            try FileManager.default.createSymbolicLink(atPath: dev + "/tty", withDestinationPath: hostDirectory)
            let corePattern = readFile("/proc/sys/kernel/core_pattern")

            let id = sandbox.id("devlinks")
            let bundle = try sandbox.bundle(args: sh("head -c 64 /proc/timer_list | wc -c; stat -c %t:%T /proc/timer_list /dev/null")) {
                $0.root = Root(path: rootfs, readonly: false)
                $0.mounts = $0.mounts?.filter { $0.destination != "/dev" }
                $0.linux?.maskedPaths = ["/proc/timer_list"]
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            if outcome.status == 0 {
                #expect(outcome.lines == ["0", "1:3", "1:3"], "masking is a bind of the real /dev/null: \(outcome)")
            } else {
                #expect(outcome.stderrLines.count == 1, "\(outcome)")
            }
            expectUntouched(hostDirectory)
            #expect(readFile("/proc/sys/kernel/core_pattern") == corePattern)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// runc CVE-2024-45310 and crun CVE-2019-18837: the missing directories of a bind mount's
    /// destination are made through a relative symlink that climbs out of the rootfs.
    @Test func bindDestinationBelowAClimbingSymlinkCreatesNothingOnTheHost() throws {
        try Sandbox.with { sandbox in
            let (rootfs, hostDirectory) = try sandbox.hostileRootfs()
            try FileManager.default.createSymbolicLink(
                atPath: rootfs + "/evil", withDestinationPath: String(repeating: "../", count: 12) + hostDirectory.dropFirst())
            let source = sandbox.path("volume")
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)

            let id = sandbox.id("mkdirall")
            let bundle = try sandbox.bundle(args: sh("ls /evil/a/b/c && echo mounted")) {
                $0.root = Root(path: rootfs, readonly: false)
                $0.mounts?.append(Mount(destination: "/evil/a/b/c", type: "bind", source: source, options: ["rbind"]))
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            if outcome.status == 0 {
                #expect(outcome.stdout == "mounted\n", "\(outcome)")
            } else {
                #expect(outcome.stderrLines.count == 1, "\(outcome)")
            }
            expectUntouched(hostDirectory)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
