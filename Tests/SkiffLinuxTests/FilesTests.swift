import Foundation
import Glibc
import Testing

import SkiffLinux

@Suite struct FilesTests {
    let temp: TemporaryDirectory

    init() throws {
        temp = try TemporaryDirectory("skiff-files")
    }

    /// state.json is replaced whole: a reader sees the old or the new content, and no temp
    /// file is left beside it.
    @Test func writeAtomicallyReplacesContentAndLeavesNoTempFile() throws {
        let path = temp.file("state.json")
        try Files.writeAtomically(path, Array(#"{"v":1,"long":"padding padding"}"#.utf8))
        #expect(try temp.read("state.json") == #"{"v":1,"long":"padding padding"}"#)
        try Files.writeAtomically(path, Array(#"{"v":2}"#.utf8))
        #expect(try temp.read("state.json") == #"{"v":2}"#)
        #expect(try temp.entries() == ["state.json"])
    }

    /// readAll grows its reads from 4 KiB: a file of many chunks comes back whole, in order,
    /// and so does a procfs file (whose size stat reports as 0).
    @Test func readAllReturnsWholeFilesOfAnySize() throws {
        for size in [0, 1, 4095, 4096, 4097, 200_000] {
            let content = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            try Files.writeAtomically(temp.file("data"), content)
            #expect(try Files.read(temp.file("data")) == content, "size \(size)")
        }
        let status = try Files.readString("/proc/self/status")
        #expect(status.hasPrefix("Name:"))
        #expect(status.contains("\nPid:\t\(getpid())\n"))
    }

    /// The replaced file is swapped out whole (renameat2's exchange, then unlinked): a reader
    /// that opened it keeps the old content, and nothing of it stays in the directory.
    @Test func aReaderOfTheReplacedFileKeepsItsContent() throws {
        let path = temp.file("state.json")
        try Files.writeAtomically(path, Array("old".utf8))
        let reader = try Files.open(path, flags: O_RDONLY)
        try Files.writeAtomically(path, Array("new".utf8))
        #expect(try reader.preadAll() == Array("old".utf8))
        var st = stat()
        #expect(fstat(reader.raw, &st) == 0)
        #expect(st.st_nlink == 0)
        #expect(try temp.read("state.json") == "new")
        #expect(try temp.entries() == ["state.json"])
    }

    @Test func writeAtomicallyUsesTheMode() throws {
        try Files.writeAtomically(temp.file("pid"), Array("42".utf8), mode: 0o600)
        var st = stat()
        #expect(lstat(temp.file("pid"), &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
    }

    /// Renaming over a symlink replaces the link; its target is not written through.
    @Test func writeAtomicallyDoesNotWriteThroughASymlink() throws {
        try temp.write("target", "original")
        try temp.symlink("state.json", to: temp.file("target"))
        try Files.writeAtomically(temp.file("state.json"), Array("new".utf8))
        #expect(try temp.read("target") == "original")
        #expect(temp.isRegularFile("state.json"))
        #expect(try temp.read("state.json") == "new")
    }

    @Test func writeAtomicallyIntoAMissingDirectoryFails() {
        let path = temp.file("missing/state.json")
        #expect(throws: LinuxError("open", path: path + ".tmp", errno: ENOENT)) {
            try Files.writeAtomically(path, Array("x".utf8))
        }
    }

    @Test func removeTreeRemovesNestedContent() throws {
        try temp.makeDirectory("c/a/b/c")
        try temp.write("c/state.json", "{}")
        try temp.write("c/a/b/c/deep", "x")
        #expect(mkfifo(temp.file("c/exec.fifo"), 0o600) == 0)
        try temp.symlink("c/dangling", to: "/nonexistent")
        try Files.removeTree(temp.file("c"))
        #expect(!temp.exists("c"))
    }

    /// A symlink in the tree is removed, never followed: what it points to survives.
    @Test func removeTreeDoesNotFollowSymlinks() throws {
        try temp.makeDirectory("outside/sub")
        try temp.write("outside/precious", "keep")
        try temp.write("outside/sub/also", "keep")
        try temp.makeDirectory("c/nested")
        try temp.symlink("c/link", to: temp.file("outside"))
        try temp.symlink("c/nested/rel", to: "../../outside")
        try Files.removeTree(temp.file("c"))
        #expect(!temp.exists("c"))
        #expect(try temp.read("outside/precious") == "keep")
        #expect(try temp.read("outside/sub/also") == "keep")
    }

    @Test func removeTreeOfAMissingPathSucceeds() throws {
        try Files.removeTree(temp.file("never-created"))
    }

    @Test func mkdirAllCreatesParentsAndToleratesExisting() throws {
        try Files.mkdirAll(temp.file("x/y/z"), mode: 0o711)
        try Files.mkdirAll(temp.file("x/y/z"))
        #expect(temp.isDirectory("x/y/z"))
    }

    /// Errors name the path in quotes like every other syscall error (STYLE: `operation
    /// "path": errno text`), so a user can grep for them.
    @Test func readErrorNamesThePath() throws {
        try temp.makeDirectory("state.json")
        let path = temp.file("state.json")
        do {
            _ = try Files.read(path)
            Issue.record("read of a directory succeeded")
        } catch {
            #expect(error.errno.rawValue == EISDIR)
            #expect(error.description == "read \"\(path)\": is a directory")
            #expect(error.path == path)
        }
    }

    @Test func listDirectoryOmitsDotEntries() throws {
        try temp.write("a", "")
        try temp.makeDirectory("b")
        #expect(try Files.listDirectory(temp.path).sorted() == ["a", "b"])
    }
}
