import Glibc
import Testing

import SkiffLinux

/// Errors read like runc's Go errors, because podman and containerd match on their text:
/// `operation "path": errno text`, the errno text starting lowercase.
@Suite struct LinuxErrorTests {
    @Test func withPath() {
        let error = LinuxError("mount", path: "/proc/self/fd/7", errno: ENOENT)
        #expect(error.description == #"mount "/proc/self/fd/7": no such file or directory"#)
    }

    @Test func withoutPath() {
        #expect(LinuxError("pidfd_open 42", errno: ESRCH).description == "pidfd_open 42: no such process")
        #expect(LinuxError("setns", errno: EPERM).description == "setns: operation not permitted")
    }

    @Test func errnoTextStartsLowercase() {
        for code in [EACCES, EBUSY, EEXIST, EINVAL, ENOTDIR, ELOOP, EXDEV, ENOSPC] {
            let text = LinuxError.text(code)
            let first = try! #require(text.first)
            #expect(first.isLowercase, "\(code): \(text)")
            #expect(!text.hasSuffix("."))
        }
    }

    /// A real failing call produces the same text.
    @Test func realSyscallFailure() {
        let missing = "/nonexistent-skiff-test/x"
        #expect(throws: LinuxError("open", path: missing, errno: ENOENT)) {
            try Files.open(missing, flags: O_RDONLY)
        }
        do {
            _ = try Files.open(missing, flags: O_RDONLY)
            Issue.record("opening a missing file succeeded")
        } catch {
            #expect(error.description == #"open "/nonexistent-skiff-test/x": no such file or directory"#)
            #expect(error.errno.rawValue == ENOENT)
        }
    }
}
