import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Real containers with linux.resources, on whatever this machine has: cgroup v1 controllers
// with a cgroup2 beside them (hybrid, as the CI host), or pure cgroup v2 (`make test` runs
// these again in ../shared/tools/cgroup2-vm). Each test checks what a user would: the limit
// in the kernel's file, the process that cannot fork or allocate, the command's output.

/// Where the host keeps a container's cgroup files.
enum CgroupHost {
    static let mounts = MountInfo.host().filter { $0.fsType == "cgroup" || $0.fsType == "cgroup2" }

    /// No v1 hierarchy at all: every controller is on cgroup2.
    static var pureV2: Bool { !mounts.contains { $0.fsType == "cgroup" } }

    /// The directory of cgroup `path` (like "/skiff/web") in the hierarchy that drives
    /// `controller`: the v1 hierarchy carrying it, else cgroup2.
    static func directory(_ controller: String, _ path: String) -> String {
        if let v1 = mounts.first(where: { $0.fsType == "cgroup" && $0.superOptions.contains(controller) }) {
            return v1.mountPoint + path
        }
        let v2 = mounts.first { $0.fsType == "cgroup2" }?.mountPoint ?? "/sys/fs/cgroup"
        return v2 + path
    }

    /// A control file of the container's cgroup, trimmed; nil when missing.
    static func read(_ controller: String, _ path: String, _ file: String) -> String? {
        readFile(directory(controller, path) + "/" + file)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `controller` is driven through cgroup v2 here.
    static func onV2(_ controller: String) -> Bool {
        !mounts.contains { $0.fsType == "cgroup" && $0.superOptions.contains(controller) }
    }
}

/// Generous waits: under emulation (the cgroup v2 VM) everything is 5-30 times slower.
let slow: Double = 60

extension Sandbox {
    /// create with the config changed by `configure`; returns the container's init pid.
    @discardableResult
    func createContainer(_ id: String, args: [String], configure: (inout Spec) throws -> Void = { _ in }) throws -> Int {
        let bundle = try self.bundle(id, args: args, configure: configure)
        let created = skiff(["create", "--bundle", bundle, id], timeout: slow)
        try #require(created.succeeded, "create: \(created)")
        return try #require(state(id)?["pid"] as? Int, "pid of \(id)")
    }

    /// Polls a file in the sandbox until it holds a number above `value`.
    func waitForCount(_ name: String, above value: Int, timeout: Double = slow) -> Int? {
        var seen: Int?
        let ok = poll(timeout: timeout, interval: 0.02) {
            seen = readFile(path(name)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return (seen ?? Int.min) > value
        }
        return ok ? seen : nil
    }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct CgroupResourceTests {
    /// dd's 64 MiB buffer cannot fit under a 16 MiB limit: the OOM killer takes it, and
    /// `events` (started before the container) reports it.
    @Test func oomKillAtTheMemoryLimitIsReportedByEvents() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("oom")
            try sandbox.createContainer(id, args: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]) {
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 16 << 20, swap: 16 << 20))
            }
            #expect(CgroupHost.read("memory", "/skiff/" + id, CgroupHost.onV2("memory") ? "memory.max" : "memory.limit_in_bytes")
                == "16777216")
            let events = try sandbox.spawn(["events", "--interval", "100ms", id])
            // The first stats line shows the stream runs (and has read the OOM count) before
            // the container starts.
            #expect(poll(timeout: slow) { events.stdout.contains(#""type":"stats""#) }, "no stats from events: \(events.stdout)")
            let started = sandbox.skiff("start", id)
            #expect(started.succeeded, "\(started)")
            let outcome = events.wait(timeout: slow)
            #expect(outcome.succeeded, "\(outcome)")
            let lines = outcome.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains(#"{"type":"oom","id":"\#(id)"}"#), "events: \(outcome.stdout)")
            let stats = try #require(lines.first { $0.contains(#""type":"stats""#) })
            let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])
            let memory = (json["data"] as? [String: Any])?["memory"] as? [String: Any]
            #expect((memory?["usage"] as? [String: Any])?["limit"] as? Int == 16 << 20, "\(stats)")
            #expect(sandbox.status(id) == "stopped")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// A fork loop stops at pids.limit: the shell reports the failed fork, and the cgroup
    /// never holds more than the limit.
    @Test func pidsLimitStopsAForkLoop() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("pids")
            let bundle = try sandbox.bundle(args: sh("i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done; echo spawned $i")) {
                $0.linux?.resources = LinuxResources(pids: LinuxPids(limit: 8))
            }
            let run = sandbox.skiff(["run", "--bundle", bundle, id], timeout: slow)
            #expect(!run.succeeded, "the loop should not get through: \(run)")
            #expect(run.stderr.contains("can't fork") || run.stderr.contains("Resource temporarily unavailable"), "\(run)")
            #expect(!run.stdout.contains("spawned 40"), "\(run)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// Only what runs inside the container is charged to its v1 cgroups: stages 0 and 1 of the
    /// C stage stay outside, and init moves itself in before any of the container's code runs
    /// (docs/nsexec.md). So a pids.max of 1 is enough for a process that does not fork, as with
    /// runc and crun (skiff's clones of stages 1 and 2 used to count and fail), and `run` /bin/true
    /// fits in a 640 KiB memory limit, swap equal (the namespaces and clones, ~280 KB of kernel
    /// memory, were charged to the container before, and it needed 768 KiB). The floor is now
    /// between 448 and 512 KiB (512 KiB: 30 runs of 30; `make bench` measures it); the test keeps
    /// a margin so that it fails only if that memory comes back. On cgroup2 stage 0 is born in
    /// the container's cgroup (clone3 CLONE_INTO_CGROUP), so this is v1's.
    @Test(.enabled(if: !CgroupHost.onV2("pids") && !CgroupHost.onV2("memory")))
    func onlyWhatRunsInsideIsChargedToTheContainer() throws {
        try Sandbox.with { sandbox in
            let pids = try sandbox.bundle("pids", args: ["cat", "/proc/self/cgroup"]) {
                $0.linux?.resources = LinuxResources(pids: LinuxPids(limit: 1))
            }
            let id = sandbox.id("pids1")
            let one = sandbox.skiff(["run", "--bundle", pids, id], timeout: slow)
            #expect(one.succeeded, "\(one)")
            #expect(one.stdout.contains("pids:/\n"), "the cgroup namespace is rooted at the container's cgroup: \(one)")
            #expect(sandbox.leftovers(id: id) == [])
            let memory = try sandbox.bundle("memory", args: ["true"]) {
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 640 << 10, swap: 640 << 10))
            }
            for attempt in 1...3 {
                let id = sandbox.id("mem640-\(attempt)")
                let run = sandbox.skiff(["run", "--bundle", memory, id], timeout: slow)
                #expect(run.succeeded, "attempt \(attempt): \(run)")
                _ = sandbox.skiff("delete", "--force", id)
                #expect(sandbox.leftovers(id: id) == [])
            }
        }
    }

    @Test func pidsLimitHoldsWhileRunning() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("pidsrun")
            // The loop runs in a subshell: busybox sh gives up on a failed fork, and the init
            // must stay.
            try sandbox.createContainer(id, args: sh("(for i in $(seq 1 20); do sleep 1000 & done) 2>/dev/null & exec sleep 1000")) {
                $0.linux?.resources = LinuxResources(pids: LinuxPids(limit: 8))
            }
            #expect(CgroupHost.read("pids", "/skiff/" + id, "pids.max") == "8")
            #expect(sandbox.skiff("start", id).succeeded)
            let cgroup = "/skiff/" + id
            #expect(poll(timeout: slow) { (CgroupHost.read("pids", cgroup, "pids.events") ?? "").contains("max ") &&
                                          CgroupHost.read("pids", cgroup, "pids.events") != "max 0" },
                    "pids.events: \(CgroupHost.read("pids", cgroup, "pids.events") ?? "-")")
            let current = Int(CgroupHost.read("pids", cgroup, "pids.current") ?? "") ?? 0
            #expect(current > 0 && current <= 8)
            let ps = sandbox.skiff("ps", "--format", "json", id)
            let pids = try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [Int] ?? []
            #expect(pids.count <= 8 && pids.count >= 2, "\(ps)")
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// cpu.shares and the quota land in v1's files as they are, in v2's converted.
    @Test func cpuQuotaAndWeightLandInTheFiles() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cpu")
            try sandbox.createContainer(id, args: ["sleep", "1000"]) {
                $0.linux?.resources = LinuxResources(cpu: LinuxCPU(shares: 512, quota: 25_000, period: 100_000))
            }
            let cgroup = "/skiff/" + id
            if CgroupHost.onV2("cpu") {
                #expect(CgroupHost.read("cpu", cgroup, "cpu.weight") == "59")
                #expect(CgroupHost.read("cpu", cgroup, "cpu.max") == "25000 100000")
            } else {
                #expect(CgroupHost.read("cpu", cgroup, "cpu.shares") == "512")
                #expect(CgroupHost.read("cpu", cgroup, "cpu.cfs_quota_us") == "25000")
                #expect(CgroupHost.read("cpu", cgroup, "cpu.cfs_period_us") == "100000")
            }
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// hugetlb lives on cgroup2 on a hybrid host: the limit lands there, in the container's
    /// cgroup2 directory, with the controller delegated down to it.
    @Test func hugepageLimitLandsWhereHugetlbLives() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("huge")
            try sandbox.createContainer(id, args: ["true"]) {
                $0.linux?.resources = LinuxResources(hugepageLimits: [LinuxHugepageLimit(pageSize: "2MB", limit: 4 << 20)])
            }
            let file = CgroupHost.onV2("hugetlb") ? "hugetlb.2MB.max" : "hugetlb.2MB.limit_in_bytes"
            #expect(CgroupHost.read("hugetlb", "/skiff/" + id, file) == "4194304")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// Everything is denied but the defaults and the config's rules: a node made with mknod
    /// (which stays allowed, as with runc) cannot be opened unless a rule allows that access.
    @Test func deniedDeviceCannotBeOpened() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("dev")
            // In /dev: the config's /tmp is nodev.
            let script = """
                mknod /dev/t-kmsg c 1 11 && echo made-kmsg
                echo '<6>skiff device test' > /dev/t-kmsg && echo wrote-kmsg
                cat /dev/t-kmsg >/dev/null 2>/tmp/err || echo "read-kmsg: $(cat /tmp/err)"
                mknod /dev/t-tun c 10 200 && echo made-tun
                cat /dev/t-tun 2>/tmp/err || echo "read-tun: $(cat /tmp/err)"
                echo x 2>/tmp/err >/dev/t-tun || echo "write-tun: $(cat /tmp/err)"
                mknod /dev/t-zero c 1 5 && head -c 3 /dev/t-zero | wc -c
                """
            let bundle = try sandbox.bundle(args: sh(script)) {
                for set in [\LinuxCapabilities.bounding, \.effective, \.permitted] {
                    $0.process?.capabilities?[keyPath: set]?.append("CAP_MKNOD")
                }
                $0.linux?.resources = LinuxResources(devices: [
                    LinuxDeviceCgroup(allow: false, access: "rwm"),
                    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 11, access: "w"),
                ])
            }
            let run = sandbox.skiff(["run", "--bundle", bundle, id], timeout: slow)
            #expect(run.succeeded, "\(run)")
            #expect(run.lines == [
                "made-kmsg", "wrote-kmsg", "read-kmsg: cat: can't open '/dev/t-kmsg': Operation not permitted",
                "made-tun", "read-tun: cat: can't open '/dev/t-tun': Operation not permitted",
                "write-tun: sh: can't create /dev/t-tun: Operation not permitted", "3",
            ], "\(run)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct CgroupCommandTests {
    /// A counter in a host file: pause stops it, resume lets it go on.
    @Test func pauseStopsACounterThatResumeLetsContinue() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("pause")
            let control = try Control(sandbox)
            try sandbox.createContainer(id, args: sh("i=0; while true; do i=$((i+1)); echo $i > /tmp/ctl/count.new; mv /tmp/ctl/count.new /tmp/ctl/count; usleep 10000; done")) {
                $0.mounts?.append(control.mount)
            }
            #expect(sandbox.skiff("start", id).succeeded)
            let counting = try #require(sandbox.waitForCount("ctl/count", above: 3), "the counter never ran")
            let paused = sandbox.skiff("pause", id)
            #expect(paused.succeeded && paused.stdout.isEmpty && paused.stderr.isEmpty, "\(paused)")
            #expect(sandbox.status(id) == "paused")
            let frozenAt = Int(control.read("count")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
            #expect(frozenAt >= counting)
            usleep(400_000)
            #expect(Int(control.read("count")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") == frozenAt,
                    "the counter went on while paused")
            // Paused twice, or resumed while running: runc's refusals.
            #expect(sandbox.skiff("pause", id).stderrLines == ["container not running"])
            let resumed = sandbox.skiff("resume", id)
            #expect(resumed.succeeded, "\(resumed)")
            #expect(sandbox.status(id) == "running")
            #expect(sandbox.waitForCount("ctl/count", above: frozenAt) != nil, "the counter did not go on after resume")
            #expect(sandbox.skiff("resume", id).stderrLines == ["container not paused"])
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// delete --force of a paused container: frozen processes are killed too (a frozen v1
    /// task acts on SIGKILL only once thawed), and nothing is left.
    @Test func forceDeleteOfAPausedContainer() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("pausedel")
            let pid = try sandbox.createContainer(id, args: sh("sleep 1000 & sleep 1000 & wait"))
            #expect(sandbox.skiff("start", id).succeeded)
            #expect(sandbox.skiff("pause", id).succeeded)
            let start = Date()
            let deleted = sandbox.skiff(["delete", "--force", id], timeout: slow)
            #expect(deleted.succeeded, "\(deleted)")
            #expect(Date().timeIntervalSince(start) < slow / 2)
            #expect(!isAlive(pid))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// kill --all signals every process of the cgroup, also in a paused container.
    @Test func killAllReachesEveryProcessAlsoWhenPaused() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("killall")
            try sandbox.createContainer(id, args: sh("sleep 1000 & sleep 1000 & wait")) {
                $0.linux?.namespaces?.removeAll { namespace in namespace.type == .pid }
            }
            #expect(sandbox.skiff("start", id).succeeded)
            let cgroup = "/skiff/" + id
            #expect(poll(timeout: slow) { (CgroupHost.read("pids", cgroup, "cgroup.procs") ?? "").split(separator: "\n").count >= 3 })
            let pids = (CgroupHost.read("pids", cgroup, "cgroup.procs") ?? "").split(separator: "\n").compactMap { Int($0) }
            #expect(sandbox.skiff("pause", id).succeeded)
            let killed = sandbox.skiff("kill", "--all", id, "KILL")
            #expect(killed.succeeded, "\(killed)")
            #expect(poll(timeout: slow) { pids.allSatisfy { !isAlive($0) } }, "still alive: \(pids.filter(isAlive))")
            #expect(sandbox.waitFor(id, status: "stopped", timeout: slow))
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func updateRaisesARunningContainersMemoryLimit() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("update")
            try sandbox.createContainer(id, args: ["sleep", "1000"]) {
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 32 << 20), pids: LinuxPids(limit: 50))
            }
            #expect(sandbox.skiff("start", id).succeeded)
            let cgroup = "/skiff/" + id
            let memoryFile = CgroupHost.onV2("memory") ? "memory.max" : "memory.limit_in_bytes"
            #expect(CgroupHost.read("memory", cgroup, memoryFile) == "33554432")
            let updated = sandbox.skiff("update", "--memory", "64m", "--cpu-quota", "50000", "--cpu-period", "100000", id)
            #expect(updated.succeeded && updated.stderr.isEmpty, "\(updated)")
            #expect(CgroupHost.read("memory", cgroup, memoryFile) == "67108864")
            #expect(CgroupHost.read("cpu", cgroup, CgroupHost.onV2("cpu") ? "cpu.max" : "cpu.cfs_quota_us")
                == (CgroupHost.onV2("cpu") ? "50000 100000" : "50000"))
            // Untouched by the update.
            #expect(CgroupHost.read("pids", cgroup, "pids.max") == "50")

            let resources = sandbox.path("resources.json")
            try Data(#"{"pids": {"limit": 20}, "memory": {"limit": 100663296}}"#.utf8).write(to: URL(fileURLWithPath: resources))
            let fromFile = sandbox.skiff("update", "--resources", resources, id)
            #expect(fromFile.succeeded, "\(fromFile)")
            #expect(CgroupHost.read("pids", cgroup, "pids.max") == "20")
            #expect(CgroupHost.read("memory", cgroup, memoryFile) == "100663296")

            // Paused containers can be updated too; events --stats shows the new limit.
            #expect(sandbox.skiff("pause", id).succeeded)
            #expect(sandbox.skiff("update", "--pids-limit", "30", id).succeeded)
            #expect(CgroupHost.read("pids", cgroup, "pids.max") == "30")
            #expect(sandbox.skiff("resume", id).succeeded)
            let stats = sandbox.skiff("events", "--stats", id)
            #expect(stats.succeeded, "\(stats)")
            let event = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
            #expect(event["type"] as? String == "stats" && event["id"] as? String == id)
            let data = try #require(event["data"] as? [String: Any])
            #expect((data["pids"] as? [String: Any])?["limit"] as? Int == 30)
            #expect((data["pids"] as? [String: Any])?["current"] as? Int ?? 0 >= 1)
            #expect(((data["memory"] as? [String: Any])?["usage"] as? [String: Any])?["limit"] as? Int == 100_663_296)
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func psListsTheContainersProcesses() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("ps")
            let pid = try sandbox.createContainer(id, args: sh("sleep 1001 & sleep 1002 & wait"))
            #expect(sandbox.skiff("start", id).succeeded)
            let cgroup = "/skiff/" + id
            #expect(poll(timeout: slow) { (CgroupHost.read("pids", cgroup, "cgroup.procs") ?? "").split(separator: "\n").count == 3 })
            let json = sandbox.skiff("ps", "--format", "json", id)
            #expect(json.succeeded, "\(json)")
            let pids = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [Int])
            #expect(pids.count == 3 && pids.contains(pid), "\(json)")

            // Three pids in the cgroup can still include a forked `sh` that has not exec'd its
            // sleep yet: ask again until both show (a loaded machine took >1 s).
            var table = sandbox.skiff("ps", id)
            _ = poll(timeout: slow) {
                table = sandbox.skiff("ps", id)
                return table.lines.contains { $0.hasSuffix("sleep 1001") } && table.lines.contains { $0.hasSuffix("sleep 1002") }
            }
            #expect(table.succeeded, "\(table)")
            #expect(table.lines.first?.split(separator: " ").contains("PID") == true, "\(table)")
            #expect(table.lines.count == 4, "\(table)")
            #expect(table.lines.contains { $0.hasSuffix("sleep 1001") } && table.lines.contains { $0.hasSuffix("sleep 1002") }, "\(table)")

            let custom = sandbox.skiff("ps", id, "-o", "pid,comm")
            #expect(custom.lines.first?.trimmingCharacters(in: .whitespaces).hasPrefix("PID") == true, "\(custom)")
            #expect(Set(custom.lines.dropFirst().compactMap { Int($0.split(separator: " ").first ?? "") }) == Set(pids))
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    /// Sub-cgroups made inside the container's cgroup go with it on delete, in every hierarchy.
    @Test func deleteLeavesNoCgroupDirectoryInAnyHierarchy() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("gone")
            try sandbox.createContainer(id, args: ["sleep", "1000"]) {
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 64 << 20), cpu: LinuxCPU(shares: 256),
                                                     pids: LinuxPids(limit: 32))
            }
            #expect(sandbox.skiff("start", id).succeeded)
            for mount in CgroupHost.mounts {
                let directory = mount.mountPoint + "/skiff/" + id
                #expect(FileManager.default.fileExists(atPath: directory), "no cgroup at \(directory)")
                try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
            }
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct CgroupBadInputTests {
    /// A refused create is one line on stderr, and leaves no state dir and no cgroup.
    func expectRefused(_ sandbox: Sandbox, _ id: String, cgroup: String? = nil, configure: (inout Spec) -> Void,
                       message: (String) -> Bool) throws {
        let bundle = try sandbox.bundle(args: ["true"], configure: configure)
        let outcome = sandbox.skiff(["create", "--bundle", bundle, id], timeout: slow)
        #expect(!outcome.succeeded)
        #expect(outcome.stderrLines.count == 1, "\(outcome)")
        #expect(message(outcome.stderrLines.first ?? ""), "\(outcome)")
        #expect(sandbox.rootEntries == [])
        #expect(sandbox.leftovers(id: id, cgroup: cgroup) == [])
    }

    @Test func cgroupsPathEscapingTheHierarchy() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("escape")
            try expectRefused(sandbox, id, cgroup: "/skiff-escape-\(id)", configure: { $0.linux?.cgroupsPath = "/skiff/../../skiff-escape-\(id)" }) {
                $0 == #"linux.cgroupsPath: "/skiff/../../skiff-escape-\#(id)" must not contain "..""#
            }
            for mount in CgroupHost.mounts {
                #expect(!FileManager.default.fileExists(atPath: mount.mountPoint + "/skiff-escape-" + id))
            }
        }
    }

    @Test func cpusOutsideTheMachine() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cpus")
            try expectRefused(sandbox, id, configure: { $0.linux?.resources = LinuxResources(cpu: LinuxCPU(cpus: "0-4095")) }) {
                // Linux says EINVAL or ERANGE, by version.
                $0.hasPrefix(#"linux.resources.cpu.cpus = "0-4095": write ""#)
                    && ($0.hasSuffix("cpuset.cpus\": invalid argument") || $0.hasSuffix("cpuset.cpus\": numerical result out of range"))
            }
        }
    }

    /// net_cls exists only as a v1 hierarchy, and neither host of the tests mounts one.
    @Test func controllerThatIsNotThere() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("netcls")
            try expectRefused(sandbox, id, configure: { $0.linux?.resources = LinuxResources(network: LinuxNetwork(classID: 0x100001)) }) {
                $0 == #"linux.resources.network.classID: cannot apply: "net_cls.classid" does not exist (\#(CgroupHost.pureV2 ? "cgroup v2 has no net_cls controller" : "no net_cls controller on this host"))"#
            }
        }
    }

    @Test func unifiedFileForAControllerOnV1() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("unified")
            try expectRefused(sandbox, id, configure: { $0.linux?.resources = LinuxResources(unified: ["memory.high": "1073741824", "bogus.file": "1"]) }) {
                $0.hasPrefix(#"linux.resources.unified["bogus.file"]: cannot apply: "#)
            }
        }
    }

    /// Memory a container holds (a 24 MB file in its tmpfs) cannot be limited below: with
    /// checkBeforeUpdate the update is refused up front; on v1 the kernel refuses too.
    @Test func memoryLimitBelowCurrentUsage() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("below")
            let control = try Control(sandbox)
            try sandbox.createContainer(id, args: sh("head -c 24000000 /dev/zero > /tmp/fill && echo 1 > /tmp/ctl/count; sleep 1000")) {
                $0.mounts?.append(control.mount)
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 64 << 20))
            }
            #expect(sandbox.skiff("start", id).succeeded)
            #expect(sandbox.waitForCount("ctl/count", above: 0) != nil)
            let resources = sandbox.path("r.json")
            try Data(#"{"memory": {"limit": 8388608, "checkBeforeUpdate": true}}"#.utf8).write(to: URL(fileURLWithPath: resources))
            let checked = sandbox.skiff("update", "-r", resources, id)
            #expect(!checked.succeeded)
            #expect(checked.stderrLines.count == 1 && checked.stderr.hasPrefix(
                "update \(id): linux.resources.memory.limit: rejecting 8388608, below the current usage "), "\(checked)")
            if !CgroupHost.onV2("memory") {
                let refused = sandbox.skiff("update", "--memory", "8m", id)
                #expect(refused.stderrLines.count == 1 && refused.stderr.contains("memory.limit_in_bytes\": device or resource busy (current usage "),
                        "\(refused)")
            }
            #expect(sandbox.status(id) == "running")
            #expect(sandbox.skiff("delete", "--force", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func commandsOnAStoppedContainer() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("stopped")
            let bundle = try sandbox.bundle(args: ["true"])
            #expect(sandbox.skiff("run", "--keep", "--bundle", bundle, id).succeeded)
            #expect(sandbox.skiff("update", "--memory", "64m", id).stderrLines == ["container not running"])
            #expect(sandbox.skiff("pause", id).stderrLines == ["container not running"])
            #expect(sandbox.skiff("resume", id).stderrLines == ["container not paused"])
            #expect(sandbox.skiff("events", "--stats", id).stderrLines == ["container with id \(id) is not running"])
            #expect(sandbox.skiff("ps", "--format", "json", id).stdout == "null\n")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}

/// mounts[]'s cgroup entry (nosuid, noexec, nodev, relatime, ro in the default config) lands on
/// the tmpfs at /sys/fs/cgroup and on every hierarchy mounted in it (on a pure v2 host, on its
/// one cgroup2 mount), and nothing there is
/// writable. Every hierarchy runc 1.1.5 mounts has the same options under skiff; runc mounts
/// the tmpfs itself rw (its mode keeps the process out; skiff applies the entry's "ro" to it
/// too) and, on a hybrid host, no cgroup2 (skiff adds it at "unified", as the host has it).
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct CgroupMountTests {
    @Test func theEntrysFlagsAreOnEveryCgroupMountAsRuncSetsThem() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cgmount")
            let script = """
                awk '$5 ~ "^/sys/fs/cgroup" { print $5, $6 }' /proc/self/mountinfo | sort
                for d in /sys/fs/cgroup /sys/fs/cgroup/*; do mkdir $d/skiff-probe 2>/dev/null && echo "$d writable"; done; true
                """
            let bundle = try sandbox.bundle(args: sh(script))
            let run = sandbox.skiff(["run", "--bundle", bundle, id], timeout: slow)
            #expect(run.succeeded, "\(run)")
            let mounts = run.stdout.split(separator: "\n").map(String.init)
            #expect(!mounts.isEmpty, "\(run)")
            #expect(mounts.allSatisfy { $0.hasSuffix(" ro,nosuid,nodev,noexec,relatime") }, "\(mounts)")
            #expect(sandbox.leftovers(id: id) == [])

            let runc = try runcRun(sandbox, bundle: bundle, id: id)
            #expect(runc.succeeded, "runc: \(runc)")
            // On v1, every line but the tmpfs's; on a pure v2 host the one cgroup2 mount.
            let runcLines = runc.stdout.split(separator: "\n").map(String.init)
            let runcHierarchies = runcLines.count > 1 ? runcLines.filter { !$0.hasPrefix("/sys/fs/cgroup ") } : runcLines
            #expect(!runcHierarchies.isEmpty && runcHierarchies.allSatisfy { mounts.contains($0) },
                    "runc's: \(runc.stdout)")
            #expect(!runc.stdout.contains("writable"), "runc: \(runc.stdout)")
        }
    }
}

/// With a cgroup namespace the container's cgroup is its root: in /proc/self/cgroup, and in the
/// cgroup filesystem mounted at /sys/fs/cgroup (one cgroup2 mount on a pure v2 host, a
/// directory per hierarchy on v1), which shows only its own processes and limits.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct CgroupNamespaceTests {
    @Test func theContainersCgroupIsTheRootInside() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("cgns")
            let script = """
                cat /proc/self/cgroup; echo --
                cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; echo --
                for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do [ -f $f ] && echo "$f $(wc -l < $f)"; done; true
                """
            let bundle = try sandbox.bundle(args: sh(script)) {
                $0.linux?.resources = LinuxResources(memory: LinuxMemory(limit: 48 << 20))
            }
            let run = sandbox.skiff(["run", "--bundle", bundle, id], timeout: slow)
            #expect(run.succeeded, "\(run)")
            let sections = run.stdout.components(separatedBy: "--\n")
            try #require(sections.count == 3, "\(run)")
            let own = sections[0].split(separator: "\n")
            #expect(!own.isEmpty && own.allSatisfy { $0.hasSuffix(":/") }, "\(sections[0])")
            #expect(sections[1] == "50331648\n", "the memory limit seen inside: \(sections[1])")
            let procs = sections[2].split(separator: "\n")
            #expect(!procs.isEmpty)
            for line in procs {
                // The shell and its command substitution at most: no host process.
                let count = Int(line.split(separator: " ").last ?? "") ?? 0
                #expect((1...3).contains(count), "\(line)")
            }
            if CgroupHost.pureV2 {
                #expect(procs == ["/sys/fs/cgroup/cgroup.procs \(procs.first?.split(separator: " ").last ?? "")"])
            }
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
