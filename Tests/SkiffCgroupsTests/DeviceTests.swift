import Foundation
import Glibc
import Testing

import SkiffOCI
@testable import SkiffCgroups

/// Device rules: the list a container gets, v1's writes in order, the emulated rule set, and
/// the v2 eBPF program, which a small interpreter here runs on every device and access to
/// check it decides as the rule set does.
@Suite struct DeviceTests {
    /// runc's default: deny everything, the config's rules, then the defaults.
    static let containerRules = try! DeviceRule.container(
        resources: [LinuxDeviceCgroup(allow: false, access: "rwm"),
                    LinuxDeviceCgroup(allow: true, type: "c", major: 10, minor: 229, access: "rwm"),
                    LinuxDeviceCgroup(allow: true, type: "b", major: 8, minor: 0, access: "rwm")])

    @Test func containerRulesAreConfigThenDefaults() {
        #expect(Self.containerRules.map(\.description) == [
            "a", "c 10:229 rwm", "b 8:0 rwm", "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
            "c 1:5 rwm", "c 1:9 rwm", "c 5:1 rwm", "c 136:* rwm", "c 5:2 rwm",
        ])
        #expect(Self.containerRules.first?.allow == false)
    }

    @Test func v1WritesDenyAllThenEachRuleInOrder() throws {
        let fs = try FakeCgroupfs()
        let m = try CgroupManager(hierarchies: try fs.v1Host(["devices"]), cgroupsPath: "/skiff/c1")
        let rules = try DeviceRule.container(
            resources: [LinuxDeviceCgroup(allow: false, access: "rwm"),
                        LinuxDeviceCgroup(allow: true, type: "c", major: 4, minor: 64, access: "rw"),
                        LinuxDeviceCgroup(allow: false, type: "c", major: 4, minor: 64, access: "w")])
        let writes = try recordingWrites(fs) { try m.applyDevices(rules) }
        #expect(writes.prefix(5) == [
            "devices/skiff/c1/devices.deny <- a", "devices/skiff/c1/devices.deny <- a",
            "devices/skiff/c1/devices.allow <- c 4:64 rw", "devices/skiff/c1/devices.deny <- c 4:64 w",
            "devices/skiff/c1/devices.allow <- c *:* m",
        ])
        #expect(writes.count == 1 + rules.count)
    }

    @Test func ruleSetFollowsV1Semantics() throws {
        let set = try DeviceRuleSet(rules: Self.containerRules)
        #expect(!set.defaultAllow)
        #expect(set.allows(.char, major: 1, minor: 3, [.read, .write]))
        #expect(set.allows(.char, major: 136, minor: 7, .all))
        #expect(set.allows(.block, major: 8, minor: 0, .read))
        #expect(set.allows(.block, major: 8, minor: 16, .mknod))
        #expect(!set.allows(.block, major: 8, minor: 16, .read))
        #expect(!set.allows(.char, major: 1, minor: 1, .read))  // /dev/mem
        #expect(!set.allows(.char, major: 10, minor: 200, .write))  // tun: not by default

        // "a" resets whatever came before; a later deny takes back part of an exception.
        var privileged = try DeviceRuleSet(rules: Self.containerRules + [DeviceRule(allow: true, kind: .all)])
        #expect(privileged.defaultAllow && privileged.rules.isEmpty)
        try privileged.apply(DeviceRule(allow: false, kind: .char, major: 1, minor: 1, access: .write))
        #expect(privileged.allows(.char, major: 1, minor: 1, .read))
        #expect(!privileged.allows(.char, major: 1, minor: 1, .write))
        var narrowed = try DeviceRuleSet(rules: Self.containerRules)
        try narrowed.apply(DeviceRule(allow: false, kind: .char, major: 1, minor: 3, access: .write))
        #expect(narrowed.allows(.char, major: 1, minor: 3, .read))
        #expect(!narrowed.allows(.char, major: 1, minor: 3, .write))
    }

    /// v1 ignores a deny that would punch a hole in a wider allow, leaving more allowed than
    /// the config says: refused.
    @Test func holePunchingIsRefused() {
        #expect(errorText {
            _ = try DeviceRuleSet(rules: Self.containerRules + [DeviceRule(allow: false, kind: .char, major: 136, minor: 3)])
        } == "linux.resources.devices: rule \"c 136:3 rwm\" (deny) cannot punch a hole in the wider rule \"c 136:* rwm\"")
    }

    /// The program's layout for one rule, instruction by instruction (runc's devicefilter
    /// test case "c 1:3 rwm" after deny-all, in runc's encoding).
    @Test func programLayout() throws {
        let set = try DeviceRuleSet(rules: [DeviceRule(allow: false, kind: .all), DeviceRule(allow: true, kind: .char, major: 1, minor: 3),
                                            DeviceRule(allow: true, kind: .block, access: .mknod)])
        let program = DeviceFilter.program(for: set)
        let expected: [(UInt8, UInt8, UInt8, Int16, Int32)] = [
            (0x61, 2, 1, 0, 0), (0x54, 2, 0, 0, 0xffff), (0x61, 3, 1, 0, 0), (0x74, 3, 0, 0, 16), (0x61, 4, 1, 4, 0),
            (0x61, 5, 1, 8, 0),
            // b *:* m
            (0x55, 2, 0, 5, 1), (0xbc, 1, 3, 0, 0), (0x54, 1, 0, 0, 1), (0x5d, 1, 3, 2, 0), (0xb4, 0, 0, 0, 1), (0x95, 0, 0, 0, 0),
            // c 1:3 rwm
            (0x55, 2, 0, 4, 2), (0x55, 4, 0, 3, 1), (0x55, 5, 0, 2, 3), (0xb4, 0, 0, 0, 1), (0x95, 0, 0, 0, 0),
            // default: deny
            (0xb4, 0, 0, 0, 0), (0x95, 0, 0, 0, 0),
        ]
        #expect(program.map { [$0.code, $0.dst, $0.src] } == expected.map { [$0.0, $0.1, $0.2] })
        #expect(program.map(\.offset) == expected.map(\.3))
        #expect(program.map(\.imm) == expected.map(\.4))
        // The wire format: code, dst|src<<4, offset, imm, little-endian.
        #expect(program[9].word == 0x0000_0000_0002_315d)
    }

    static let ruleSets: [[DeviceRule]] = [
        containerRules,
        [DeviceRule(allow: true, kind: .all)],
        containerRules + [DeviceRule(allow: true, kind: .all), DeviceRule(allow: false, kind: .char, major: 1, minor: 1, access: [.read, .write])],
        [DeviceRule(allow: false, kind: .all), DeviceRule(allow: true, kind: .char, major: 4, access: .read),
         DeviceRule(allow: true, kind: .char, minor: 5, access: .write), DeviceRule(allow: true, kind: .block, major: 8, minor: 0, access: [.read, .mknod])],
    ]

    @Test(arguments: ruleSets.indices)
    func programDecidesAsTheRuleSet(index: Int) throws {
        let set = try DeviceRuleSet(rules: Self.ruleSets[index])
        let program = DeviceFilter.program(for: set)
        let accesses: [DeviceAccess] = [.read, .write, .mknod, [.read, .write], .all]
        for kind in [DeviceRule.Kind.char, .block] {
            for major: Int64 in [1, 4, 5, 8, 10, 136, 254] {
                for minor: Int64 in [0, 1, 2, 3, 5, 7, 8, 9, 64, 200] {
                    for access in accesses {
                        let bpf = BPFInterpreter.run(program, kind: kind, major: UInt32(major), minor: UInt32(minor), access: access)
                        #expect(bpf == set.allows(kind, major: major, minor: minor, access),
                                "\(kind.rawValue) \(major):\(minor) \(access) in rule set \(index)")
                    }
                }
            }
        }
    }

    /// Without a devices controller, only an allow-everything rule set can be honored.
    @Test func noDevicesController() throws {
        let fs = try FakeCgroupfs()
        let m = try CgroupManager(hierarchies: try fs.v1Host(["memory"]), cgroupsPath: "/skiff/c1")
        try m.applyDevices([DeviceRule(allow: true, kind: .all)])
        #expect(errorText { try m.applyDevices(Self.containerRules) }
            == "linux.resources.devices: cannot apply: \"devices.allow\" does not exist (no devices controller on this host)")
    }
}

/// Just enough of the eBPF machine for the device filter: the instructions it uses, on a
/// struct bpf_cgroup_dev_ctx.
enum BPFInterpreter {
    static func run(_ program: [DeviceFilter.Instruction], kind: DeviceRule.Kind, major: UInt32, minor: UInt32,
                    access: DeviceAccess) -> Bool {
        var bpfAccess: UInt32 = 0
        if access.contains(.mknod) { bpfAccess |= 1 }
        if access.contains(.read) { bpfAccess |= 2 }
        if access.contains(.write) { bpfAccess |= 4 }
        let context: [UInt32] = [(kind == .block ? 1 : 2) | bpfAccess << 16, major, minor]
        var r = [UInt64](repeating: 0, count: 11)
        var pc = 0
        var steps = 0
        while pc < program.count, steps < 10_000 {
            let i = program[pc]
            steps += 1
            pc += 1
            let dst = Int(i.dst), src = Int(i.src)
            switch i.code {
            case DeviceFilter.loadWord:
                precondition(src == 1 && i.offset % 4 == 0)
                r[dst] = UInt64(context[Int(i.offset) / 4])
            case DeviceFilter.andImm32: r[dst] = UInt64(UInt32(truncatingIfNeeded: r[dst]) & UInt32(bitPattern: i.imm))
            case DeviceFilter.rshImm32: r[dst] = UInt64(UInt32(truncatingIfNeeded: r[dst]) >> UInt32(i.imm))
            case DeviceFilter.movReg32: r[dst] = UInt64(UInt32(truncatingIfNeeded: r[src]))
            case DeviceFilter.movImm32: r[dst] = UInt64(UInt32(bitPattern: i.imm))
            case DeviceFilter.jneImm: if r[dst] != UInt64(bitPattern: Int64(i.imm)) { pc += Int(i.offset) }
            case DeviceFilter.jneReg: if r[dst] != r[src] { pc += Int(i.offset) }
            case DeviceFilter.exit: return r[0] == 1
            default: preconditionFailure("unexpected opcode \(i)")
            }
        }
        preconditionFailure("program ran off its end")
    }
}
