import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The commands that need no container: --version, spec, list on an empty root.
@Suite(.serialized, .enabled(if: isRoot, "needs root: runs the containers the generated specs describe"))
struct CLITests {
    @Test func versionNamesTheSpec() throws {
        let outcome = execute(Paths.binary, ["--version"])
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines.count == 3, "\(outcome)")
        #expect(outcome.lines.first?.hasPrefix("skiff version ") == true)
        #expect(outcome.lines.last == "spec: \(OCIVersion.current)")
    }

    /// The static Swift runtime located argv by parsing /proc/self/maps in a constructor
    /// (CommandLine.cpp); where /proc was not procfs (a chroot, an initramfs, a container
    /// that mounted over it) skiff got no arguments at all and printed its help with exit 0
    /// for `skiff --version`, `skiff delete ID`, anything. argv now comes from glibc's
    /// constructor arguments (Sources/CShims/argv.c). runc (Go reads argv from the stack)
    /// beside it.
    @Test func argumentsAreReadWithoutProc() throws {
        let script = "mount -t tmpfs none /proc && exec \"$0\" --version"
        let outcome = execute("/usr/bin/unshare", ["-m", "--propagation", "private", "sh", "-c", script, Paths.binary])
        #expect(outcome.succeeded, "\(outcome)")
        #expect(outcome.lines.first?.hasPrefix("skiff version ") == true, "arguments lost without /proc: \(outcome)")
        // An argument with a space, an empty one, and non-ASCII reach the parser intact.
        let odd = execute("/usr/bin/unshare", ["-m", "--propagation", "private", "sh", "-c",
                                               "mount -t tmpfs none /proc && exec \"$0\" \"$@\"",
                                               Paths.binary, "--root", "/nonexistent dir/é", "state", ""])
        #expect(odd.status != 0 && odd.stderrLines.count == 1, "\(odd)")
        #expect(odd.stderr.contains("container id"), "the empty id did not reach the parser: \(odd)")
        if let runc = Sandbox.runcBinary {
            let reference = execute("/usr/bin/unshare", ["-m", "--propagation", "private", "sh", "-c", script, runc])
            #expect(reference.succeeded && reference.stdout.contains("runc version"), "\(reference)")
        }
    }

    @Test func specWritesAConfigThatRuns() throws {
        try Sandbox.with { sandbox in
            let directory = sandbox.path("spec")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let outcome = sandbox.skiff("spec", "--bundle", directory)
            #expect(outcome.succeeded, "\(outcome)")
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/config.json"))
            var spec = try Spec.decode(data)
            try spec.validate()
            #expect(spec.root == Root(path: "rootfs", readonly: true))
            #expect(spec.process?.args == ["sh"])
            #expect(spec.process?.terminal == true)

            // The same file again is refused, and left as it was.
            let again = sandbox.skiff("spec", "--bundle", directory)
            #expect(again.status != 0 && again.stderrLines.count == 1, "\(again)")
            #expect(again.stderr.contains("config.json"), "\(again)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/config.json")) == data)

            // With a rootfs and no terminal, the default spec runs.
            spec.root = Root(path: Paths.rootfs, readonly: true)
            spec.process?.terminal = false
            spec.process?.args = sh("echo $$ $(hostname)")
            let id = sandbox.id("defaultspec")
            let bundle = try sandbox.bundle(config: try spec.jsonData())
            let run = sandbox.skiff("run", "--bundle", bundle, id)
            #expect(run.succeeded, "\(run)")
            #expect(run.stdout == "1 \(spec.hostname ?? "")\n")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func rootlessSpecMapsTheCaller() throws {
        try Sandbox.with { sandbox in
            let directory = sandbox.path("rootless")
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let outcome = sandbox.skiff("spec", "--rootless", "--bundle", directory)
            #expect(outcome.succeeded, "\(outcome)")
            let data = try #require(FileManager.default.contents(atPath: directory + "/config.json"), "no config.json")
            let spec = try Spec.decode(data)
            #expect(spec.linux?.namespaces?.contains { $0.type == .user } == true)
            #expect(spec.linux?.uidMappings == [LinuxIDMapping(containerID: 0, hostID: getuid(), size: 1)])
            #expect(spec.linux?.gidMappings == [LinuxIDMapping(containerID: 0, hostID: getgid(), size: 1)])
        }
    }

    @Test func listOfAnEmptyRoot() throws {
        try Sandbox.with { sandbox in
            let table = sandbox.skiff("--root", sandbox.path("never-made"), "list")
            #expect(table.succeeded, "\(table)")
            #expect(table.lines.count == 1 && table.lines.first?.hasPrefix("ID") == true, "\(table)")
            let json = sandbox.skiff("list", "--format", "json")
            #expect(json.succeeded, "\(json)")
            #expect(json.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        }
    }

    /// Usage mistakes: one line naming the mistake, as runtime errors are.
    @Test(arguments: [
        (["list", "--format", "yaml"], "yaml"),
        (["--log-format", "xml", "list"], "xml"),
        (["kill"], "id"),
        (["frobnicate", "it-x"], "frobnicate"),
        (["--root", "/tmp", "frobnicate", "it-x"], "frobnicate"),
    ])
    func usageErrors(_ arguments: [String], _ word: String) throws {
        try Sandbox.with { sandbox in
            let outcome = execute(Paths.binary, arguments)
            #expect(outcome.status != 0, "\(outcome)")
            #expect(outcome.stderrLines.count == 1, "stderr should be one line: \(outcome.stderr.debugDescription)")
            #expect(outcome.stderr.contains(word), "\(outcome)")
        }
    }
}
