import Foundation
import Testing

@testable import Skiff
import SkiffLinux

/// The binary init is exec'd from (runc CVE-2019-5736): whatever the method, opening it for
/// writing fails and its content is the runtime's.
@Suite struct SecuritySealedExecutableTests {
    static let isRoot = getuid() == 0

    func size(_ path: String) -> Int64? {
        var st = Glibc.stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    @Test(.enabled(if: isRoot, "mounting an overlay needs CAP_SYS_ADMIN"))
    func theOverlayIsReadOnlyAndHoldsTheBinary() throws {
        let temp = try TemporaryDirectory("skiff-seal")
        let sealed = try SealedExecutable.make(dummyLayer: temp.path)
        #expect(sealed.method == .overlay)
        #expect(sealed.path == "/proc/\(getpid())/fd/\(sealed.fd.raw)")
        #expect(size(sealed.path) == size("/proc/self/exe"))
        let writable = open(sealed.path, O_WRONLY | O_CLOEXEC)
        let error = errno
        if writable >= 0 { close(writable) }
        #expect(writable == -1 && error == EROFS)
    }

    /// A state root below the binary's own directory (the test binary's: the build directory)
    /// still gets the overlay, not the 33 MB memfd copy: overlapping layers were refused with
    /// ELOOP and create fell back to copying.
    @Test(.enabled(if: isRoot, "mounting an overlay needs CAP_SYS_ADMIN"))
    func aStateRootInsideTheBinarysDirectoryStillGetsTheOverlay() throws {
        let binaryDirectory = try Files.realpath("/proc/self/exe").split(separator: "/").dropLast().joined(separator: "/")
        let inside = "/" + binaryDirectory + "/skiff-seal-state-\(getpid())"
        try Files.mkdirAll(inside)
        defer { try? Files.rmdir(inside) }
        let sealed = try SealedExecutable.make(dummyLayer: inside)
        #expect(sealed.method == .overlay)
        #expect(size(sealed.path) == size("/proc/self/exe"))
    }

    @Test func theDummyLayerNeverOverlapsTheBinarysDirectory() {
        #expect(SealedExecutable.nonOverlapping("/run/skiff", with: "/usr/bin") == "/run/skiff")
        #expect(SealedExecutable.nonOverlapping("/nonexistent-x/tmp/r", with: "/nonexistent-x") == "/dev")
        #expect(SealedExecutable.nonOverlapping("/nonexistent-x", with: "/nonexistent-x/bin") == "/dev")
        #expect(SealedExecutable.nonOverlapping("/nonexistent-y", with: "/dev") == "/nonexistent-y")
        #expect(SealedExecutable.nonOverlapping("/dev/x", with: "/dev") == "/run")
    }

    /// The rootless fallback: a copy nobody can change, not even its creator.
    @Test func theMemfdCopyIsSealed() throws {
        let memfd = try SealedExecutable.memfdCopy()
        #expect(SealedMemfd.isSealed(memfd))
        #expect(size("/proc/self/fd/\(memfd.raw)") == size("/proc/self/exe"))
        let writable = open("/proc/self/fd/\(memfd.raw)", O_WRONLY | O_CLOEXEC)
        var error = errno
        if writable >= 0 {
            var byte: UInt8 = 0
            if write(writable, &byte, 1) == 1 { error = 0 } else { error = errno }
            close(writable)
        }
        #expect(error == EPERM, "a write-sealed memfd refuses writes")
    }

    @Test func overlayLayerPathsAreEscaped() {
        #expect(SealedExecutable.escape("/opt/a:b\\c") == "/opt/a\\:b\\\\c")
        #expect(SealedExecutable.escape("/usr/local/bin") == "/usr/local/bin")
    }

    @Test func aBinaryWeOwnIsWritableByUs() throws {
        let temp = try TemporaryDirectory("skiff-seal")
        _ = FileManager.default.createFile(atPath: temp.file("bin"), contents: Data([0]), attributes: [.posixPermissions: 0o755])
        #expect(SealedExecutable.writableByUs(temp.file("bin")))
    }
}
