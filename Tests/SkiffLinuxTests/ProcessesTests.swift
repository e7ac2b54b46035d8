import Foundation
import Glibc
import Testing

import SkiffLinux

@Suite struct ProcessesTests {
    /// Runs `arguments` with stdout on a pipe and returns what it printed and how it ended.
    func run(_ arguments: [String], extra: [Processes.FDMapping] = [], closeFrom: Int32 = 3,
             workingDirectory: String? = nil) throws -> (output: String, exit: Processes.Exit) {
        let pipe = try Sockets.pipe()
        let null = try Files.open("/dev/null", flags: O_RDWR)
        let fds = [
            Processes.FDMapping(source: null.raw, target: 0),
            Processes.FDMapping(source: pipe.write.raw, target: 1),
            Processes.FDMapping(source: null.raw, target: 2),
        ] + extra
        let pid = try Processes.spawn(path: arguments[0], arguments: arguments, environment: ["PATH=/usr/bin:/bin"],
                                      fds: fds, closeFrom: closeFrom, workingDirectory: workingDirectory).pid
        pipe.write.close()
        let output = String(decoding: try pipe.read.readAll(), as: UTF8.self)
        return (output, try Processes.wait(pid))
    }

    /// The child gets exactly stdio and the mapped fd: nothing of the runtime leaks, even an fd
    /// the runtime forgot to mark close-on-exec.
    @Test func spawnPassesOnlyTheMappedFds() throws {
        let extra = try Files.open("/dev/null", flags: O_RDONLY)
        // A deliberately inheritable fd, high up: closeFrom must close it.
        let leaky = fcntl(extra.raw, F_DUPFD, 40)
        #expect(leaky >= 40)
        defer { close(leaky) }
        let result = try run(["/bin/sh", "-c", "ls /proc/self/fd"],
                             extra: [Processes.FDMapping(source: extra.raw, target: 3)], closeFrom: 4)
        #expect(result.exit == .exited(0))
        // 0-2 and 3 as mapped; 4 is the directory ls itself opened to list /proc/self/fd.
        let fds = result.output.split(separator: "\n").compactMap { Int($0) }.sorted()
        #expect(fds == [0, 1, 2, 3, 4])
    }

    /// The mapped fd is the file it was mapped from, and it is not close-on-exec in the child.
    @Test func mappedFdIsTheSourceFile() throws {
        let temp = try TemporaryDirectory("skiff-spawn")
        try temp.write("input", "from fd 5\n")
        let input = try Files.open(temp.file("input"), flags: O_RDONLY)
        let result = try run(["/bin/sh", "-c", "cat <&5"],
                             extra: [Processes.FDMapping(source: input.raw, target: 5)], closeFrom: 6)
        #expect(result.exit == .exited(0))
        #expect(result.output == "from fd 5\n")
    }

    /// Mappings that swap fds (a source is another mapping's target) are not clobbered.
    @Test func crossingMappingsAreNotClobbered() throws {
        let temp = try TemporaryDirectory("skiff-spawn")
        try temp.write("a", "A")
        try temp.write("b", "B")
        let a = try Files.open(temp.file("a"), flags: O_RDONLY)
        let b = try Files.open(temp.file("b"), flags: O_RDONLY)
        // a → a fresh number, b → a's number: the second dup2 would hit a's source if done in
        // place.
        let high = max(a.raw, b.raw) + 1
        let result = try run(["/bin/cat", "/proc/self/fd/\(high)", "/proc/self/fd/\(a.raw)"],
                             extra: [Processes.FDMapping(source: a.raw, target: high),
                                     Processes.FDMapping(source: b.raw, target: a.raw)],
                             closeFrom: high + 1)
        #expect(result.output == "AB")
    }

    @Test func spawnRunsInTheWorkingDirectory() throws {
        let temp = try TemporaryDirectory("skiff-spawn")
        let result = try run(["/bin/pwd"], workingDirectory: temp.path)
        #expect(result.output == temp.path + "\n")
    }

    @Test func spawnOfAMissingProgramFails() {
        #expect(throws: LinuxError("posix_spawn", path: "/nonexistent/prog", errno: ENOENT)) {
            try Processes.spawn(path: "/nonexistent/prog", arguments: ["prog"], environment: [], fds: [], closeFrom: 3)
        }
    }

    /// The child starts with default dispositions and an empty mask, whatever the parent has
    /// (a container process must not inherit the runtime's ignored SIGPIPE).
    @Test func spawnResetsSignalState() throws {
        signal(SIGPIPE, SIG_IGN)  // harmless for the test process: writes then fail with EPIPE
        let result = try run(["/bin/grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"])
        let masks = Dictionary(uniqueKeysWithValues: result.output.split(separator: "\n").map {
            let parts = $0.split(separator: "\t")
            return (String(parts[0]), UInt64(parts[1], radix: 16) ?? .max)
        })
        let blocked = try #require(masks["SigBlk:"])
        let ignored = try #require(masks["SigIgn:"])
        #expect(blocked == 0)
        // Signals 1-31: bit n-1 for signal n.
        #expect(ignored & 0x7fff_ffff == 0, "ignored: \(String(ignored, radix: 16))")
        // glibc's posix_spawn sets its internal signals 32 and 33 (SIGCANCEL, SIGSETXID) to
        // SIG_IGN in the child, SIG_IGN survives exec, and sigfillset leaves them out of the
        // setsigdefault set: every container process starts with them ignored.
        withKnownIssue("glibc posix_spawn leaks SIG_IGN for signals 32 and 33") {
            #expect(ignored == 0, "ignored: \(String(ignored, radix: 16))")
        }
    }

    @Test func exitCodeOfANormalExit() throws {
        let result = try run(["/bin/sh", "-c", "exit 7"])
        #expect(result.exit == .exited(7))
        #expect(result.exit.shellCode == 7)
    }

    @Test func exitCodeOfASignal() throws {
        let result = try run(["/bin/sh", "-c", "kill -TERM $$"])
        #expect(result.exit == .signaled(SIGTERM))
        #expect(result.exit.shellCode == 128 + 15)
    }

    @Test func exitFromRawWaitStatus() {
        #expect(Processes.Exit(status: 0) == .exited(0))
        #expect(Processes.Exit(status: 3 << 8) == .exited(3))
        #expect(Processes.Exit(status: 9) == .signaled(9))
        #expect(Processes.Exit(status: 9 | 0x80) == .signaled(9))  // with a core dump
        #expect(Processes.Exit.exited(255).shellCode == 255)
        #expect(Processes.Exit.signaled(SIGKILL).shellCode == 137)
    }

    @Test func pidfdSignalsAndWaits() throws {
        let pid = try Processes.spawn(path: "/bin/sleep", arguments: ["sleep", "30"], environment: [],
                                      fds: [], closeFrom: 3).pid
        let pidfd = try Processes.pidfd(pid)
        #expect(Processes.isAlive(pid))
        #expect(try Processes.tryWait(pid) == nil)
        #expect(try Processes.waitExit(pidfd, timeoutMilliseconds: 0) == false)
        try Processes.signal(pidfd, SIGKILL)
        #expect(try Processes.waitExit(pidfd, timeoutMilliseconds: 10_000))
        #expect(try Processes.wait(pid) == .signaled(SIGKILL))
    }
}
