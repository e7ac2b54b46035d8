import CShims
import Foundation
import Glibc
import Testing

import SkiffLinux

/// A container image is hostile input: its symlinks and `..` must never let the runtime
/// create or open anything outside the rootfs (runc CVE-2021-30465, CVE-2024-45310).
@Suite struct RootedPathTests {
    /// A temp dir holding `root/` (the rootfs) and `outside/` (a host directory next to it).
    let temp: TemporaryDirectory
    let rooted: RootedPath

    init() throws {
        temp = try TemporaryDirectory("skiff-rooted")
        try temp.makeDirectory("root")
        try temp.makeDirectory("outside")
        rooted = try RootedPath.open(temp.file("root"))
    }

    @Test func mkdirAllCreatesNestedDirectories() throws {
        let fd = try rooted.mkdirAll("/a/b/c", mode: 0o750)
        #expect(temp.isDirectory("root/a/b/c"))
        // The fd it returns is the directory it made.
        #expect(try #require(identity(fd: fd.raw)) == #require(identity(temp.file("root/a/b/c"))))
        var st = stat()
        _ = lstat(temp.file("root/a/b/c"), &st)
        #expect(st.st_mode & 0o7777 == 0o750 & ~(try currentUmask()))
    }

    @Test func mkdirAllAcceptsExistingAndRelativePaths() throws {
        try temp.makeDirectory("root/a")
        try temp.write("root/a/keep", "x")
        _ = try rooted.mkdirAll("a/./b//c")
        #expect(temp.isDirectory("root/a/b/c"))
        #expect(try temp.read("root/a/keep") == "x")
        _ = try rooted.mkdirAll("a/b/c")  // all there: no error
    }

    @Test func mkdirAllThroughARegularFileFails() throws {
        try temp.write("root/file", "x")
        #expect(throws: LinuxError.self) { try rooted.mkdirAll("/file/sub") }
        #expect(try temp.read("root/file") == "x")
    }

    /// An absolute symlink in the image names a path of the container, never of the host.
    @Test func absoluteSymlinkResolvesInsideTheRoot() throws {
        let host = temp.file("outside")            // /tmp/skiff-rooted-XXXX/outside on the host
        try temp.symlink("root/link", to: host)
        try temp.makeDirectory("root" + host)      // the same path inside the rootfs
        _ = try rooted.mkdirAll("/link/created")
        #expect(temp.isDirectory("root" + host + "/created"))
        #expect(try temp.entries("outside") == [])
    }

    /// A path that exists in full is opened in one resolution (no mkdirat per component): it
    /// must be the directory inside the root, even where an absolute symlink names a host path
    /// that exists on the host too.
    @Test func existingPathThroughASymlinkOpensTheDirectoryInsideTheRoot() throws {
        let host = temp.file("outside")
        try temp.makeDirectory("outside/existing")
        try temp.symlink("root/link", to: host)
        try temp.makeDirectory("root" + host + "/existing")
        let fd = try rooted.mkdirAll("/link/existing")
        #expect(try #require(identity(fd: fd.raw)) == #require(identity(temp.file("root" + host + "/existing"))))
        #expect(try #require(identity(fd: fd.raw)) != #require(identity(temp.file("outside/existing"))))
        // Only the last component missing: made in the parent as resolved inside the root.
        let made = try rooted.mkdirAll("/link/existing/new")
        #expect(temp.isDirectory("root" + host + "/existing/new"))
        #expect(try temp.entries("outside/existing") == [])
        #expect(try #require(identity(fd: made.raw)) == #require(identity(temp.file("root" + host + "/existing/new"))))
        // A regular file where the directory should be still fails, naming the path.
        try temp.write("root/plain", "x")
        #expect(throws: LinuxError.self) { try rooted.mkdirAll("/plain") }
        #expect(throws: LinuxError.self) { try rooted.mkdirAll("/plain/sub") }
    }

    /// A dangling absolute symlink: whatever mkdirAll does, the host directory stays untouched,
    /// and anything made is made inside the root.
    @Test func danglingAbsoluteSymlinkNeverReachesTheHost() throws {
        let host = temp.file("outside")
        try temp.symlink("root/link", to: host)
        let made = try? rooted.mkdirAll("/link/created")
        #expect(try temp.entries("outside") == [])
        if made != nil {
            #expect(temp.isDirectory("root" + host + "/created"))
        }
    }

    /// `../../..` from inside the root is the root itself, as for a chrooted process.
    @Test func relativeSymlinkClimbingOutStaysAtTheRoot() throws {
        try temp.makeDirectory("root/etc")
        try temp.symlink("root/etc/up", to: "../../../../../../..")
        _ = try rooted.mkdirAll("/etc/up/escaped")
        #expect(temp.isDirectory("root/escaped"))
        #expect(!temp.exists("escaped"))
        #expect(!lexists("/escaped"))
    }

    @Test func dotDotInThePathStaysAtTheRoot() throws {
        _ = try rooted.mkdirAll("../../escaped/deeper")
        #expect(temp.isDirectory("root/escaped/deeper"))
        #expect(!temp.exists("escaped"))
    }

    @Test func openOfDotDotClimbsNoHigherThanTheRoot() throws {
        let root = try #require(identity(temp.file("root")))
        for path in ["..", "/..", "../../..", "/../../../..", "."] {
            let fd = try rooted.open(path, flags: SKIFF_O_PATH | O_DIRECTORY)
            #expect(try #require(identity(fd: fd.raw)) == root, "\(path)")
        }
        try temp.makeDirectory("root/a")
        let a = try rooted.open("a/../../a", flags: SKIFF_O_PATH | O_DIRECTORY)
        #expect(try #require(identity(fd: a.raw)) == #require(identity(temp.file("root/a"))))
    }

    @Test func openFollowsSymlinksInsideTheRoot() throws {
        try temp.makeDirectory("root/etc")
        try temp.write("root/etc/hostname", "container\n")
        try temp.write("outside/hostname", "host\n")
        try temp.symlink("root/abs", to: temp.file("outside/hostname"))
        try temp.symlink("root/rel", to: "../../outside/hostname")
        try temp.symlink("root/good", to: "/etc/hostname")
        // Absolute and climbing links to the host file do not reach it.
        #expect(throws: LinuxError.self) { try rooted.open("abs", flags: O_RDONLY) }
        #expect(throws: LinuxError.self) { try rooted.open("rel", flags: O_RDONLY) }
        let fd = try rooted.open("good", flags: O_RDONLY)
        #expect(String(decoding: try fd.readAll(), as: UTF8.self) == "container\n")
        // noFollow refuses a symlink as the last component.
        #expect(throws: LinuxError.self) { try rooted.open("good", flags: O_RDONLY, noFollow: true) }
    }

    @Test func openErrorNamesThePathInsideTheRoot() {
        do {
            _ = try rooted.open("missing/file", flags: O_RDONLY)
            Issue.record("opened a missing file")
        } catch {
            #expect(error.description == #"openat2 "/missing/file": no such file or directory"#)
        }
    }

    @Test func createFileMakesParentsAndTheFile() throws {
        let fd = try rooted.createFile("/dev/net/tun", mode: 0o600)
        #expect(temp.isDirectory("root/dev/net"))
        #expect(temp.isRegularFile("root/dev/net/tun"))
        #expect(try #require(identity(fd: fd.raw)) == #require(identity(temp.file("root/dev/net/tun"))))
    }

    @Test func createFileKeepsAnExistingFilesContent() throws {
        try temp.makeDirectory("root/etc")
        try temp.write("root/etc/resolv.conf", "nameserver 1.1.1.1\n")
        _ = try rooted.createFile("etc/resolv.conf")
        #expect(try temp.read("root/etc/resolv.conf") == "nameserver 1.1.1.1\n")
    }

    @Test func createFileThroughASymlinkedParentStaysInside() throws {
        try temp.symlink("root/etc", to: temp.file("outside"))
        try temp.makeDirectory("root" + temp.file("outside"))
        _ = try rooted.createFile("/etc/passwd")
        #expect(temp.isRegularFile("root" + temp.file("outside") + "/passwd"))
        #expect(try temp.entries("outside") == [])
    }

    @Test func splitGivesParentAndName() {
        #expect(rooted.split("/a/b/c").parent == "/a/b")
        #expect(rooted.split("/a/b/c").name == "c")
        #expect(rooted.split("c").parent == "/")
        #expect(rooted.split("c").name == "c")
        #expect(rooted.split("/").name == ".")
    }
}
