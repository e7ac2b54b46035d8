import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Crash safety as a property (issue 15): a skiff command SIGKILLed at any instant leaves
/// nothing that `delete --force ID` cannot remove — no process, no mount, no cgroup directory
/// in any hierarchy, no state directory — and no init that outlives every record of it.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct CrashSafetyTests {
    /// Processes whose command line is exactly `arguments` (the container's unique `sleep N`).
    static func processes(running arguments: [String]) -> [String] {
        let wanted = arguments.joined(separator: "\u{0}") + "\u{0}"
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { entry in
            guard Int32(entry) != nil, let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self) == wanted
        }
    }

    /// Starts `skiff arguments…`, SIGKILLs it after `delay` seconds (or lets it finish first).
    func killed(_ sandbox: Sandbox, _ arguments: [String], after delay: Double) throws {
        let spawned = try sandbox.spawn(arguments)
        usleep(UInt32(delay * 1_000_000))
        kill(spawned.pid, SIGKILL)
        _ = spawned.wait()
    }

    /// `delete --force` succeeds (or there is nothing to delete), then nothing of `id` remains.
    func expectRemovable(_ sandbox: Sandbox, _ id: String, marker: [[String]], what: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
        let deleted = sandbox.skiff("delete", "--force", id)
        let nothingThere = !deleted.succeeded && deleted.stderr.contains("does not exist")
            && !FileManager.default.fileExists(atPath: sandbox.root + "/" + id)
        #expect(deleted.succeeded || nothingThere, "\(what): delete --force: \(deleted)", sourceLocation: sourceLocation)
        // A killed create's init exits by itself when the sync socket closes: allow it a moment.
        let clean = poll(timeout: 5, interval: 0.02) {
            sandbox.leftovers(id: id).isEmpty && marker.allSatisfy { Self.processes(running: $0).isEmpty }
        }
        #expect(clean, "\(what): left \(sandbox.leftovers(id: id)) \(marker.flatMap { Self.processes(running: $0) })",
                sourceLocation: sourceLocation)
    }

    /// 112 kills: create at 0–40 ms, start, exec and delete --force at 0–24 ms. After each,
    /// delete --force leaves nothing.
    @Test func commandsKilledAtAnyInstantLeaveNothingDeleteForceCannotRemove() throws {
        try Sandbox.with { sandbox in
            var kills = 0
            for step in 0...40 {
                let id = sandbox.id("kill-create-\(step)")
                let marker = ["sleep", String(200_000 + step)]
                let bundle = try sandbox.bundle("create-\(step)", args: marker)
                try killed(sandbox, ["create", "--bundle", bundle, id], after: Double(step) / 1000)
                kills += 1
                // Whatever the instant, the container is either fully recorded or not listed as one.
                let state = sandbox.skiff("state", id)
                if state.succeeded, let json = try? JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any] {
                    #expect(["creating", "created", "stopped"].contains(json["status"] as? String ?? ""), "\(state)")
                }
                expectRemovable(sandbox, id, marker: [marker], what: "create killed at \(step) ms")
            }
            let bundle = try sandbox.bundle("long", args: ["sleep", "200100"])
            for step in 0..<24 {
                let id = sandbox.id("kill-start-\(step)")
                try #require(sandbox.skiff("create", "--bundle", bundle, id).succeeded)
                try killed(sandbox, ["start", id], after: Double(step) / 4000)
                kills += 1
                expectRemovable(sandbox, id, marker: [["sleep", "200100"]], what: "start killed at \(step / 4) ms")
            }
            for step in 0..<24 {
                let id = sandbox.id("kill-exec-\(step)")
                try #require(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
                let marker = ["sleep", String(200_200 + step)]
                try killed(sandbox, ["exec", id] + marker, after: Double(step) / 1000)
                kills += 1
                expectRemovable(sandbox, id, marker: [marker, ["sleep", "200100"]], what: "exec killed at \(step) ms")
            }
            for step in 0..<24 {
                let id = sandbox.id("kill-delete-\(step)")
                try #require(sandbox.skiff("run", "--detach", "--bundle", bundle, id).succeeded)
                try killed(sandbox, ["delete", "--force", id], after: Double(step) / 1000)
                kills += 1
                expectRemovable(sandbox, id, marker: [["sleep", "200100"]], what: "delete killed at \(step) ms")
            }
            #expect(kills >= 100)
        }
    }

    /// A killed create whose caller never deletes: the init does not wait forever on
    /// exec.fifo where nothing names it (the probe found 3 such orphans in 12 kills).
    @Test func anUncommittedInitExitsByItself() throws {
        try Sandbox.with { sandbox in
            var orphans: [String] = []
            for step in 0..<20 {
                let id = sandbox.id("orphan-\(step)")
                let marker = ["sleep", String(200_300 + step)]
                let bundle = try sandbox.bundle("orphan-\(step)", args: marker)
                try killed(sandbox, ["create", "--bundle", bundle, id], after: Double(step) / 1000 + 0.005)
                let recorded = (sandbox.state(id)?["pid"] as? Int).map { $0 > 0 } ?? false
                if !recorded {
                    // Nothing names it: no process of it may stay in its cgroup.
                    let gone = poll(timeout: 5, interval: 0.02) {
                        !sandbox.leftovers(id: id).contains { $0.hasPrefix("process") }
                    }
                    if !gone { orphans.append("create killed at \(step + 5) ms: \(sandbox.leftovers(id: id))") }
                }
            }
            #expect(orphans == [])
        }
    }

    /// 200 lifecycles at once on this 2-core machine: every one succeeds and leaves nothing.
    @Test func twoHundredParallelLifecyclesLeaveNothing() throws {
        try Sandbox.with { sandbox in
            let bundle = try sandbox.bundle(args: ["true"])
            let ids = (0..<200).map { sandbox.id("parallel-\($0)") }
            let runs = try ids.map { try sandbox.spawn(["run", "--bundle", bundle, $0]) }
            var failures: [String] = []
            for (id, run) in zip(ids, runs) {
                let outcome = run.wait(timeout: 120)
                if !outcome.succeeded { failures.append("\(id): \(outcome)") }
            }
            #expect(failures == [])
            let leaked = ids.flatMap { sandbox.leftovers(id: $0) }
            #expect(leaked == [])
            #expect(sandbox.rootEntries == [])
        }
    }
}
