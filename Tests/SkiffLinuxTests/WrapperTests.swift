import Foundation
import Glibc
import Testing

import SkiffLinux

/// The wrappers Skiff and SkiffCgroups reach the kernel through: each failure is a LinuxError
/// whose operation, path and errno are values a caller can test, not only text.
@Suite struct WrapperTests {
    /// A borrowed fd (stdout, stderr, a log file held for the run) is written whole and left
    /// open; a failed write is a LinuxError naming the operation and errno.
    @Test func aBorrowedFDIsWrittenWholeAndLeftOpen() throws {
        let pipe = try Sockets.pipe()
        let borrowed = BorrowedFD(pipe.write.raw)
        let text = String(repeating: "line of a log\n", count: 1000)
        try borrowed.writeAll(Array(text.utf8))
        #expect(fcntl(pipe.write.raw, F_GETFD) >= 0, "still open")
        pipe.write.close()
        var received: [UInt8] = []
        while true {
            let chunk = try pipe.read.read(upTo: 65536)
            if chunk.isEmpty { break }
            received += chunk
        }
        #expect(String(decoding: received, as: UTF8.self) == text)
        do {
            try BorrowedFD(pipe.read.raw).writeAll(Array("x".utf8), operation: "write log")
            Issue.record("writing to a pipe's read end succeeded")
        } catch {
            #expect(error.operation == "write log")
            #expect(error.errno.rawValue == EBADF)
        }
    }

    /// SCM_RIGHTS in one place: the fd arrives usable, close-on-exec, with the body as its name.
    @Test func anFDPassesOverASocketWithItsName() throws {
        let (a, b) = try Sockets.pair(type: Int32(SOCK_STREAM.rawValue))
        let pipe = try Sockets.pipe()
        try Sockets.sendFD(a, pipe.write, name: "/dev/ptmx", operation: "send console master")
        let received = try Sockets.receiveFD(b, operation: "receive console master")
        #expect(received.name == "/dev/ptmx")
        #expect(fcntl(received.fd.raw, F_GETFD) & FD_CLOEXEC != 0)
        pipe.write.close()
        try received.fd.writeAll("x")
        received.fd.close()
        #expect(try pipe.read.readAll() == Array("x".utf8))
    }

    /// A peer that closes without sending an fd: ECONNRESET, which the seccomp listener's
    /// receiver takes as "init failed earlier".
    @Test func aClosedPeerIsECONNRESET() throws {
        let (a, b) = try Sockets.pair(type: Int32(SOCK_STREAM.rawValue))
        a.close()
        #expect(throws: LinuxError("receive seccomp listener fd", errno: ECONNRESET)) {
            _ = try Sockets.receiveFD(b, operation: "receive seccomp listener fd")
        }
    }

    /// What init reads from a sealed memfd is what the runtime wrote, and nobody can change it.
    @Test func aSealedMemfdKeepsItsContents() throws {
        let fd = try SealedMemfd.make(name: "skiff-test", contents: Array("config".utf8))
        #expect(SealedMemfd.isSealed(fd))
        #expect(try fd.preadAll() == Array("config".utf8))
        let error = #expect(throws: LinuxError.self) { try fd.writeAll("more", path: "skiff-test") }
        #expect(error?.code == EPERM)
        #expect(error?.path == "skiff-test")
    }

    /// exec.fifo: 0622 whatever the umask; a second one at the same path is EEXIST, naming it.
    @Test func aFifoIsWritableByOthersWhateverTheUmask() throws {
        let temp = try TemporaryDirectory("skiff-fifo")
        let path = temp.file("exec.fifo")
        let old = umask(0o077)
        defer { umask(old) }
        try Files.makeFifo(path, mode: 0o622)
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFIFO)
        #expect(st.st_mode & 0o7777 == 0o622)
        #expect(throws: LinuxError("mkfifo", path: path, errno: EEXIST)) { try Files.makeFifo(path, mode: 0o622) }
    }

    /// The *at calls name the path the user knows, not the directory fd.
    @Test func atCallsNameThePathTheUserKnows() throws {
        let temp = try TemporaryDirectory("skiff-at")
        try temp.makeDirectory("dev/pts")
        let dev = try Files.open(temp.file("dev"), flags: O_RDONLY | O_DIRECTORY)
        #expect(throws: LinuxError("mkdir", path: "/dev/pts", errno: EEXIST)) {
            try Files.mkdirAt(dev, "pts", mode: 0o755, display: "/dev/pts")
        }
        try Files.symlinkAt("/proc/self/fd", dev, "fd", display: "/dev/fd")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: temp.file("dev/fd")) == "/proc/self/fd")
        #expect(throws: LinuxError("symlink", path: "/dev/fd", errno: EEXIST)) {
            try Files.symlinkAt("/proc/self/fd", dev, "fd", display: "/dev/fd")
        }
    }

    @Test func pollReturnsWhatIsReady() throws {
        let pipe = try Sockets.pipe()
        var entries = [pollfd(fd: pipe.read.raw, events: Int16(POLLIN), revents: 0)]
        #expect(try Poll.wait(&entries, timeout: 0) == 0)
        try pipe.write.writeAll("x")
        #expect(try Poll.wait(&entries, timeout: -1) == 1)
        #expect(entries[0].revents & Int16(POLLIN) != 0)
    }

    /// One spawn: with a cgroup fd that is no cgroup2 directory it falls back to a plain
    /// spawn and says so.
    @Test func spawnWithoutACgroupSaysItIsNotInOne() throws {
        let spawned = try Processes.spawn(path: "/bin/true", arguments: ["true"], environment: [], fds: [], closeFrom: 3)
        #expect(!spawned.inCgroup)
        #expect(try Processes.wait(spawned.pid) == .exited(0))
    }
}
