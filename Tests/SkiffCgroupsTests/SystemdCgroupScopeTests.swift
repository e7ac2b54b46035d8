import Testing

import SkiffOCI
@testable import SkiffCgroups
import SkiffLinux

/// --systemd-cgroup without a manager: how linux.cgroupsPath names the scope, where its cgroup
/// is, and which unit properties linux.resources becomes (runc's mapping). The same driver
/// against a real systemd is IntegrationTests/SystemdCgroupTests.
@Suite struct SystemdCgroupScopeTests {
    @Test func cgroupsPathIsSlicePrefixName() throws {
        let scope = try SystemdScope.parse(cgroupsPath: "machine.slice:libpod:abc123", id: "x", rootless: false)
        #expect(scope.slice == "machine.slice")
        #expect(scope.unit == "libpod-abc123.scope")
        #expect(try scope.cgroupPath() == "/machine.slice/libpod-abc123.scope")
    }

    /// runc's defaults with skiff's prefix; an empty slice field means the default slice.
    @Test func emptyCgroupsPathIsTheDefaultSliceSkiffAndTheID() throws {
        let root = try SystemdScope.parse(cgroupsPath: nil, id: "web", rootless: false)
        #expect(root.slice == "system.slice")
        #expect(root.unit == "skiff-web.scope")
        let user = try SystemdScope.parse(cgroupsPath: "", id: "web", rootless: true)
        #expect(try user.cgroupPath(managerCgroup: "/user.slice/user-1000.slice/user@1000.service")
            == "/user.slice/user-1000.slice/user@1000.service/user.slice/skiff-web.scope")
        #expect(try SystemdScope.parse(cgroupsPath: ":crio:c1", id: "x", rootless: false).slice == "system.slice")
        #expect(try SystemdScope.parse(cgroupsPath: "system.slice::c1", id: "x", rootless: false).unit == "c1.scope")
    }

    @Test func nestedSlicesExpandAsSystemdNamesThem() throws {
        #expect(try SystemdScope.expandSlice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice")
        #expect(try SystemdScope.expandSlice("-.slice") == "/")
        #expect(try SystemdScope.parse(cgroupsPath: "-.slice:p:n", id: "x", rootless: false).cgroupPath() == "/p-n.scope")
    }

    @Test(arguments: [
        ("/skiff/c1", "linux.cgroupsPath: \"/skiff/c1\" is not \"slice:prefix:name\" (--systemd-cgroup)"),
        ("a:b:c:d", "linux.cgroupsPath: \"a:b:c:d\" is not \"slice:prefix:name\" (--systemd-cgroup)"),
        ("system:skiff:c1", "linux.cgroupsPath: \"system:skiff:c1\": invalid slice name \"system\" (want NAME.slice, NAME without \"/\" or \"--\")"),
        ("a--b.slice:skiff:c1", "linux.cgroupsPath: \"a--b.slice:skiff:c1\": invalid slice name \"a--b.slice\" (want NAME.slice, NAME without \"/\" or \"--\")"),
        ("system.slice:skiff:", "linux.cgroupsPath: \"system.slice:skiff:\": the name (after the second \":\") is empty"),
        ("system.slice:skiff:../etc", "linux.cgroupsPath: \"system.slice:skiff:../etc\": prefix and name may hold only letters, digits and \"_.-@\\\" (systemd unit names)"),
        ("system.slice:skiff:pod.slice", "linux.cgroupsPath: \"system.slice:skiff:pod.slice\": a name ending in \".slice\" asks for a slice unit; skiff makes scopes only"),
    ])
    func malformedCgroupsPathIsOneLineNamingTheField(path: String, message: String) {
        #expect(throws: CgroupError(message)) { try SystemdScope.parse(cgroupsPath: path, id: "x", rootless: false) }
    }

    @Test func resourcesBecomeV2UnitPropertiesAsRuncMapsThem() throws {
        let resources = LinuxResources(
            memory: LinuxMemory(limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20),
            cpu: LinuxCPU(shares: 1024, quota: 25_000, period: 100_000, cpus: "0-1,3", mems: "0"),
            pids: LinuxPids(limit: 50), blockIO: LinuxBlockIO(weight: 500))
        let properties = try SystemdScope.resourceProperties(resources, unified: true, version: 252)
        #expect(properties.map(\.description) == [
            "MemoryMax=67108864", "MemoryLow=33554432", "MemorySwapMax=33554432", "CPUWeight=100",
            "CPUQuotaPeriodUSec=100000", "CPUQuotaPerSecUSec=250000", "TasksMax=50",
            "AllowedCPUs=b", "AllowedMemoryNodes=1", "IOWeight=4950",
        ])
    }

    /// v1 hosts get v1 names; properties older managers lack are left to the files.
    @Test func v1NamesAndOldManagers() throws {
        let resources = LinuxResources(memory: LinuxMemory(limit: -1), cpu: LinuxCPU(shares: 512, period: 50_000, cpus: "1"),
                                       pids: LinuxPids(limit: -1), blockIO: LinuxBlockIO(weight: 300))
        #expect(try SystemdScope.resourceProperties(resources, unified: false, version: 240).map(\.description) == [
            "MemoryLimit=infinity", "CPUShares=512", "CPUQuotaPerSecUSec=infinity", "TasksMax=infinity", "BlockIOWeight=300",
        ])
    }

    /// systemd keeps CPUQuota in whole percent: 33.3 % is rounded up to 340 ms per second.
    @Test func fractionalCPUQuotaRoundsUpToTheNextPercent() throws {
        let properties = try SystemdScope.resourceProperties(LinuxResources(cpu: LinuxCPU(quota: 33_333, period: 100_000)),
                                                             unified: true, version: 252)
        #expect(properties.last == SystemdProperty("CPUQuotaPerSecUSec", .uint64(340_000)))
    }

    @Test func badCPUListNamesTheField() {
        #expect(throws: CgroupError("linux.resources.cpu.cpus = \"3-1\": not a list of numbers and ranges (\"0-3,7\")")) {
            try SystemdScope.resourceProperties(LinuxResources(cpu: LinuxCPU(cpus: "3-1")), unified: true, version: 252)
        }
    }

    @Test func rangeBitsPutCPUZeroInTheLowestBitOfTheFirstByte() throws {
        #expect(try SystemdScope.rangeBits("0", field: "f") == [0x01])
        #expect(try SystemdScope.rangeBits("0-3,7", field: "f") == [0x8f])
        #expect(try SystemdScope.rangeBits("9", field: "f") == [0x00, 0x02])
    }

    /// runc's container rules as DevicePolicy=strict and one DeviceAllow entry per exception.
    @Test func deviceRulesBecomeStrictPolicyWithAllowEntries() throws {
        let rules = try DeviceRule.container(resources: [LinuxDeviceCgroup(allow: false, access: "rwm"),
                                                         LinuxDeviceCgroup(allow: true, type: "c", major: 10, minor: 229, access: "rw")])
        let procDevices = "Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n\nBlock devices:\n  8 sd\n"
        let (properties, warnings) = try SystemdScope.deviceProperties(rules, procDevices: procDevices)
        #expect(warnings.isEmpty)
        #expect(properties.first == SystemdProperty("DevicePolicy", .string("strict")))
        guard case .pairs(let allow)? = properties.last?.value else {
            Issue.record("no DeviceAllow: \(properties)")
            return
        }
        #expect(allow.map { "\($0.0) \($0.1)" } == [
            "block-* m", "char-* m", "/dev/char/1:3 rwm", "/dev/char/1:5 rwm", "/dev/char/1:7 rwm", "/dev/char/1:8 rwm",
            "/dev/char/1:9 rwm", "/dev/char/5:0 rwm", "/dev/char/5:1 rwm", "/dev/char/5:2 rwm", "/dev/char/10:229 rw",
            "char-pts rwm",
        ])
    }

    /// podman's annotations as runc passes them: typed or bare values, seconds as USec.
    @Test func systemdPropertyAnnotationsBecomeUnitProperties() throws {
        let properties = try SystemdScope.annotationProperties([
            "org.systemd.property.KillSignal": "3",
            "org.systemd.property.TimeoutStopUSec": "uint64 10000000",
            "org.systemd.property.RuntimeMaxSec": "uint64 60",
            "org.systemd.property.CollectMode": "'inactive-or-failed'",
            "org.systemd.property.SendSIGHUP": "true",
            "io.podman.other": "ignored",
        ])
        #expect(properties.map(\.description) == [
            "CollectMode=inactive-or-failed", "KillSignal=3", "RuntimeMaxUSec=60000000", "SendSIGHUP=yes",
            "TimeoutStopUSec=10000000",
        ])
        #expect(properties.first { $0.name == "KillSignal" }?.value == .int32(3))
    }

    @Test func badSystemdPropertyAnnotationNamesIt() {
        #expect(throws: CgroupError("annotations[\"org.systemd.property.Kill-Signal\"]: \"Kill-Signal\" is not a systemd property name (letters and digits, a capital first)")) {
            try SystemdScope.annotationProperties(["org.systemd.property.Kill-Signal": "3"])
        }
        #expect(throws: CgroupError("annotations[\"org.systemd.property.KillSignal\"] = \"@as []\": not a value skiff can pass (true, false, 'text', N, uint64 N, int64 N, uint32 N, int32 N)")) {
            try SystemdScope.annotationProperties(["org.systemd.property.KillSignal": "@as []"])
        }
    }
}
