import Foundation
import Glibc
import Testing

import SkiffLinux

/// clone3 CLONE_INTO_CGROUP: the child is born in the cgroup2 directory, with the same fd,
/// directory and signal set-up as posix_spawn gives; a kernel or directory that cannot take
/// it leaves nothing started.
@Suite struct SpawnIntoCgroupTests {
    /// A cgroup2 mount of this machine (/sys/fs/cgroup on a v2 host, /sys/fs/cgroup/unified on
    /// a hybrid one), if any.
    static let cgroup2: String? = {
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 2 && fields[2] == "cgroup2" { return String(fields[1]) }
        }
        return nil
    }()

    /// The pid when the child was born in the cgroup; nil (the fallback child reaped) when
    /// spawn fell back to posix_spawn.
    func spawn(_ arguments: [String], into directory: String, output: OwnedFD? = nil) throws -> pid_t? {
        let cgroup = try Files.open(directory, flags: O_RDONLY | O_DIRECTORY)
        let null = try Files.open("/dev/null", flags: O_RDWR)
        let spawned = try Processes.spawn(
            path: arguments[0], arguments: arguments, environment: ["PATH=/usr/bin:/bin"],
            fds: [.init(source: null.raw, target: 0), .init(source: output?.raw ?? null.raw, target: 1),
                  .init(source: null.raw, target: 2)],
            closeFrom: 3, workingDirectory: "/", intoCgroup: cgroup)
        if spawned.inCgroup { return spawned.pid }
        _ = try Processes.wait(spawned.pid)
        return nil
    }

    @Test func aDirectoryThatIsNoCgroupFallsBackToAPlainSpawn() throws {
        let temp = try TemporaryDirectory()
        #expect(try spawn(["/bin/true"], into: temp.path) == nil)
    }

    @Test(.enabled(if: getuid() == 0 && cgroup2 != nil, "needs root and a cgroup2 mount"))
    func theChildIsBornInTheCgroup() throws {
        let directory = Self.cgroup2! + "/skiff-spawn-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { _ = rmdir(directory) }
        let pipe = try Sockets.pipe()
        let pid = try #require(try spawn(["/bin/sh", "-c", "grep '^0::' /proc/self/cgroup; pwd; ls /proc/self/fd | wc -l"],
                                         into: directory, output: pipe.write))
        pipe.write.close()
        let output = String(decoding: try pipe.read.readAll(), as: UTF8.self)
        #expect(try Processes.wait(pid) == .exited(0))
        let relative = String(directory.dropFirst(Self.cgroup2!.count))
        // 0-2, and the directory ls opened.
        #expect(output == "0::\(relative)\n/\n4\n")
    }

    @Test(.enabled(if: getuid() == 0 && cgroup2 != nil, "needs root and a cgroup2 mount"))
    func anExecFailureIsThrownAndTheChildReaped() throws {
        let directory = Self.cgroup2! + "/skiff-spawn-test-e\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { _ = rmdir(directory) }
        #expect(throws: LinuxError("execve", path: "/nonexistent/program", errno: ENOENT)) {
            _ = try spawn(["/nonexistent/program"], into: directory)
        }
        // Nothing stayed in the cgroup: it can go.
        #expect(rmdir(directory) == 0)
    }

    /// The child shares the runtime's memory until its execve (clone3 CLONE_VM | CLONE_VFORK):
    /// it must still start with default dispositions and an empty mask, whatever the parent has
    /// (a handler table and a mask of its own), and leave the parent's untouched.
    @Test(.enabled(if: getuid() == 0 && cgroup2 != nil, "needs root and a cgroup2 mount"))
    func theChildStartsWithDefaultSignalsAndTheParentKeepsItsOwn() throws {
        let directory = Self.cgroup2! + "/skiff-spawn-test-s\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { _ = rmdir(directory) }
        let previous = signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, previous) }
        var blocked = sigset_t(), old = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR2)
        pthread_sigmask(SIG_BLOCK, &blocked, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        for _ in 0..<3 {
            let pipe = try Sockets.pipe()
            let pid = try #require(try spawn(["/bin/sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"],
                                             into: directory, output: pipe.write))
            pipe.write.close()
            let output = String(decoding: try pipe.read.readAll(), as: UTF8.self)
            #expect(try Processes.wait(pid) == .exited(0))
            // sh itself ignores nothing here and blocks nothing.
            #expect(output == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
        }
        // The parent's own disposition and mask are as it set them.
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let ignored = status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }
            .flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) } ?? 0
        #expect(ignored & (1 << UInt64(SIGUSR1 - 1)) != 0)
        var current = sigset_t()
        pthread_sigmask(SIG_BLOCK, nil, &current)
        #expect(sigismember(&current, SIGUSR2) == 1)
    }
}
