import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What an outside adversarial probe found at 5a38d01 (issue 15), one test per finding, each
/// failing on that binary. Where runc is installed the same bundle runs under runc in the same
/// test: runc's behaviour is the reference where the spec is silent.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct ProbeFindingsTests {
    // MARK: uid 4294967295 (HIGH)

    /// setresuid(-1) means "no change": a process.user of 4294967295 ran as the runtime's uid 0.
    @Test(arguments: [
        (#"{"uid":4294967295,"gid":4294967295}"#, "process.user.uid"),
        (#"{"uid":4294967295,"gid":0}"#, "process.user.uid"),
        (#"{"uid":1000,"gid":4294967295}"#, "process.user.gid"),
        (#"{"uid":1000,"gid":1000,"additionalGids":[5,2147483648]}"#, "process.user.additionalGids[1]"),
    ])
    func idsAboveTheRangeAreRefused(userJSON: String, field: String) throws {
        let user = try JSONSerialization.jsonObject(with: Data(userJSON.utf8))
        try Sandbox.with { sandbox in
            let id = sandbox.id("uidmax")
            let bundle = try sandbox.bundle(args: ["id"], edits: [(["process", "user"], user)])
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            expectRejected(outcome, mentioning: [field, "0-2147483647"], in: sandbox, id: id)
            #expect(!outcome.stdout.contains("uid=0"))
            if let runc = sandbox.runc(["run", "--bundle", bundle, id + "-runc"]) {
                #expect(!runc.succeeded, "runc refuses it too: \(runc)")
            }
        }
    }

    @Test func execAsUid4294967295IsRefused() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("uidmaxexec")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            try #require(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            for user in ["4294967295:4294967295", "4294967295", "0:4294967295"] {
                let outcome = sandbox.skiff("exec", "--user", user, id, "id", "-u")
                #expect(outcome.status != 0 && outcome.stdout == "", "exec --user \(user): \(outcome)")
                #expect(outcome.stderr.contains("0-2147483647"), "exec --user \(user): \(outcome)")
            }
        }
    }

    /// The same id read by init from the container's own /etc/passwd (`exec --user evil`).
    @Test func aPasswdEntryWithUid4294967295IsRefusedInInit() throws {
        try Sandbox.with { sandbox in
            let (rootfs, _) = try sandbox.hostileRootfs()
            let passwd = try String(contentsOfFile: rootfs + "/etc/passwd", encoding: .utf8)
            try (passwd + "evil:x:4294967295:4294967295::/:/bin/sh\n").write(toFile: rootfs + "/etc/passwd", atomically: false, encoding: .utf8)
            let id = sandbox.id("uidmaxpasswd")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"]) { $0.root = Root(path: rootfs, readonly: true) }
            try #require(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            let outcome = sandbox.skiff("exec", "--user", "evil", id, "id", "-u")
            #expect(outcome.status != 0 && outcome.stdout == "", "\(outcome)")
            #expect(outcome.stderr.contains("0-2147483647"), "\(outcome)")
        }
    }

    // MARK: masked and read-only symlinks (HIGH)

    /// A masked or read-only path that is a symlink in the image is followed inside the
    /// container's root, as runc does; it used to be skipped, leaving the target readable.
    @Test func maskedAndReadonlySymlinksProtectTheirTargets() throws {
        try Sandbox.with { sandbox in
            let (rootfs, _) = try sandbox.hostileRootfs()
            try FileManager.default.createDirectory(atPath: rootfs + "/data", withIntermediateDirectories: true)
            try "secret\n".write(toFile: rootfs + "/data/secret", atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/datalink", withDestinationPath: "/data")
            try FileManager.default.createDirectory(atPath: rootfs + "/rw", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/rwlink", withDestinationPath: "../rw")
            try "s\n".write(toFile: rootfs + "/data/file", atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/filelink", withDestinationPath: "/data/file")
            let script = """
                cat /datalink/secret 2>/dev/null || echo masked-dir
                cat /filelink; echo "file:$(cat /data/file)"
                touch /rwlink/f 2>/dev/null && echo writable || echo read-only
                ls /sys/dev/char/1:3 | wc -l
                """
            let bundle = try sandbox.bundle(args: sh(script)) { spec in
                spec.root = Root(path: rootfs, readonly: false)
                let masked = spec.linux?.maskedPaths ?? []
                spec.linux?.maskedPaths = masked + ["/datalink", "/filelink", "/sys/dev/char/1:3"]
                spec.linux?.readonlyPaths = ["/rwlink"]
            }
            let outcome = sandbox.skiff("run", "--bundle", bundle, sandbox.id("masklink"))
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["masked-dir", "file:", "read-only", "0"], "\(outcome)")
            if let runc = sandbox.runc(["run", "--bundle", bundle, sandbox.id("masklink-runc")]) {
                #expect(runc.lines == outcome.lines, "runc: \(runc)")
            }
        }
    }

    // MARK: symlinked /proc (MEDIUM-LOW)

    @Test func procfsIsNotMountedThroughASymlink() throws {
        try Sandbox.with { sandbox in
            let (rootfs, _) = try sandbox.hostileRootfs()
            try FileManager.default.removeItem(atPath: rootfs + "/proc")
            try FileManager.default.createDirectory(atPath: rootfs + "/fakeproc", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: rootfs + "/proc", withDestinationPath: "/fakeproc")
            let id = sandbox.id("proclink")
            let bundle = try sandbox.bundle(args: ["true"]) { $0.root = Root(path: rootfs, readonly: false) }
            let outcome = sandbox.skiff("run", "--bundle", bundle, id)
            expectRejected(outcome, mentioning: ["/proc", "\"proc\" must be mounted on an ordinary directory"], in: sandbox, id: id)
            #expect((try? FileManager.default.contentsOfDirectory(atPath: rootfs + "/fakeproc")) == [])
            if let runc = sandbox.runc(["run", "--bundle", bundle, id + "-runc"]) {
                #expect(!runc.succeeded, "runc refuses it too: \(runc)")
            }
        }
    }

    // MARK: corrupt state.json (LOW)

    @Test(arguments: ["truncated", "empty", "garbage", "no pid", "other id"])
    func aCorruptStateIsReportedByListAndRemovedByDeleteForce(corruption: String) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("corrupt")
            let bundle = try sandbox.bundle(args: ["sleep", "1000"])
            try #require(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
            let path = sandbox.root + "/" + id + "/state.json"
            let original = try String(contentsOfFile: path, encoding: .utf8)
            let corrupted: String
            switch corruption {
            case "truncated": corrupted = String(original.prefix(original.count / 2))
            case "empty": corrupted = ""
            case "garbage": corrupted = "\u{1}\u{2}not json at all"
            case "no pid": corrupted = original.replacingOccurrences(of: #""pid":"#, with: #""nopid":"#)
            default: corrupted = original.replacingOccurrences(of: #""id":"\#(id)""#, with: #""id":"../../x""#)
            }
            #expect(corrupted != original)
            try corrupted.write(toFile: path, atomically: false, encoding: .utf8)

            let list = sandbox.skiff("list")
            #expect(list.succeeded, "\(list)")
            #expect(list.stderr.hasPrefix("load container \(id): "), "list says nothing of it: \(list)")
            #expect(!list.stdout.contains("../../x"))
            let state = sandbox.skiff("state", id)
            #expect(!state.succeeded && !state.stdout.contains("../../x"), "\(state)")
            let plainDelete = sandbox.skiff("delete", id)
            #expect(!plainDelete.succeeded, "\(plainDelete)")

            let deleted = sandbox.skiff("delete", "--force", id)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(poll(timeout: 5) { sandbox.leftovers(id: id) == [] }, "\(sandbox.leftovers(id: id))")
        }
    }

    // MARK: config.json size (LOW)

    /// A valid config of 20 MiB (a big annotation) runs, as under runc; beyond skiff's limit
    /// the error says so instead of "malformed JSON".
    @Test func aLargeConfigRunsAndAnOversizedOneIsNamed() throws {
        try Sandbox.with { sandbox in
            let big = try sandbox.bundle("big", args: ["true"]) { spec in
                spec.annotations = ["big": String(repeating: "x", count: 20 << 20)]
            }
            let ran = sandbox.skiff("run", "--bundle", big, sandbox.id("bigconfig"))
            #expect(ran.succeeded, "\(ran.status) \(ran.stderr.prefix(300))")

            let id = sandbox.id("hugeconfig")
            let huge = try sandbox.bundle("huge", args: ["true"]) { spec in
                spec.annotations = ["big": String(repeating: "x", count: 65 << 20)]
            }
            expectRejected(sandbox.skiff("run", "--bundle", huge, id), mentioning: ["config.json too large"], in: sandbox, id: id)
        }
    }

    // MARK: NUL bytes (LOW)

    @Test(arguments: [
        (["mounts", "0", "destination"], "/pr\u{0}oc", "mounts[0].destination"),
        (["root", "path"], "rootfs\u{0}/x", "root.path"),
        (["process", "cwd"], "/tmp\u{0}/x", "process.cwd"),
        (["hostname"], "host\u{0}name", "hostname"),
        (["process", "args", "0"], "tr\u{0}ue", "process.args[0]"),
        (["linux", "maskedPaths", "0"], "/proc/kc\u{0}ore", "linux.maskedPaths[0]"),
    ] as [([String], String, String)])
    func nulBytesAreRefusedNamingTheField(path: [String], value: String, field: String) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("nul")
            let bundle = try sandbox.bundle(args: ["true"], edits: [(path, value)])
            expectRejected(sandbox.skiff("create", "--bundle", bundle, id), mentioning: [field, "NUL byte"], in: sandbox, id: id)
            #expect(sandbox.rootEntries == [])
        }
    }
}
