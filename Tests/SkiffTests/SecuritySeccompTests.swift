import Foundation
import Testing

import CSeccomp
@testable import Skiff
@testable import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// linux.seccomp compiled by the runtime, checked by running the BPF program the kernel would
/// get on seccomp_data for chosen syscalls: the semantics, not libseccomp's instruction choice.
@Suite struct SecuritySeccompTests {
    // x86_64 syscall numbers and AUDIT_ARCH values.
    static let x86_64: UInt32 = 0xc000_003e
    static let i386: UInt32 = 0x4000_0003
    static let x32Bit: Int32 = 0x4000_0000
    enum NR {
        static let read: Int32 = 0, write: Int32 = 1, socket: Int32 = 41, kill: Int32 = 62, getcwd: Int32 = 79,
                   mkdir: Int32 = 83, personality: Int32 = 135, openat: Int32 = 257, mkdirat: Int32 = 258,
                   clone3: Int32 = 435
    }
    static let allow: UInt32 = 0x7fff_0000
    static func errno(_ code: Int32) -> UInt32 { 0x0005_0000 | UInt32(code) }

    func compile(_ seccomp: LinuxSeccomp) throws -> SeccompProgram { try SeccompCompiler.compile(seccomp) }

    func run(_ program: SeccompProgram, _ nr: Int32, arch: UInt32 = x86_64, args: [UInt64] = []) -> UInt32 {
        ClassicBPF.run(program.instructions, nr: nr, arch: arch, args: args)
    }

    func message(_ seccomp: LinuxSeccomp) -> String? {
        thrown(SkiffError.self) { _ = try SeccompCompiler.compile(seccomp) }?.message
    }

    @Test func aDeniedSyscallGetsItsErrnoAndOthersPass() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13),
            LinuxSyscall(names: ["getcwd"], action: "SCMP_ACT_ERRNO"),
        ]))
        #expect(run(program, NR.mkdir) == Self.errno(EACCES))
        #expect(run(program, NR.mkdirat) == Self.errno(EACCES))
        #expect(run(program, NR.getcwd) == Self.errno(EPERM))
        #expect(run(program, NR.read) == Self.allow)
        #expect(run(program, NR.clone3) == Self.allow, "an allowing default needs no ENOSYS prologue")
        #expect(program.flags == 0)
        #expect(!program.hasListener)
    }

    /// runc's patched filter: the default action for what the profile knows about, ENOSYS
    /// for syscalls newer than all of it, so libc falls back (clone3 → clone).
    @Test func syscallsNewerThanTheProfileGetENOSYS() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [
            LinuxSyscall(names: ["read", "write", "openat"], action: "SCMP_ACT_ALLOW"),
        ]))
        #expect(run(program, NR.read) == Self.allow)
        #expect(run(program, NR.openat) == Self.allow)
        #expect(run(program, NR.mkdir) == Self.errno(EPERM), "older than the profile: the default action")
        #expect(run(program, NR.openat + 1) == Self.errno(ENOSYS))
        #expect(run(program, NR.clone3) == Self.errno(ENOSYS))
        #expect(run(program, 100_000) == Self.errno(ENOSYS))
        // An x32 call on a filter without x32 is libseccomp's business, not ENOSYS.
        #expect(run(program, Self.x32Bit | NR.read) != Self.errno(ENOSYS))
        #expect(run(program, Self.x32Bit | NR.read) != Self.allow)
    }

    @Test func defaultErrnoRetIsTheDefaultsErrno() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: UInt(EIO), syscalls: [
            LinuxSyscall(names: ["read", "openat"], action: "SCMP_ACT_ALLOW"),
        ]))
        #expect(run(program, NR.mkdir) == Self.errno(EIO))
        #expect(run(program, NR.clone3) == Self.errno(ENOSYS))
    }

    @Test func anENOSYSDefaultNeedsNoPrologue() throws {
        let seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: UInt(ENOSYS), syscalls: [
            LinuxSyscall(names: ["read"], action: "SCMP_ACT_ALLOW"),
        ])
        let program = try compile(seccomp)
        #expect(run(program, NR.mkdir) == Self.errno(ENOSYS))
        #expect(SeccompCompiler.enosysPrologue(defaultAction: Self.errno(ENOSYS), defaultErrnoRet: UInt(ENOSYS),
                                               architectures: [Self.x86_64], names: ["read"]) == [])
    }

    @Test(arguments: [("SCMP_ACT_LOG", UInt32(0x7ffc_0000)), ("SCMP_ACT_TRACE", UInt32(0x7ff0_0000) | UInt32(EPERM))])
    func allowingDefaultsGetNoPrologue(_ action: String, _ value: UInt32) throws {
        let program = try compile(LinuxSeccomp(defaultAction: action, syscalls: [
            LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_ERRNO"),
        ]))
        #expect(run(program, NR.clone3) == value)
        #expect(run(program, NR.mkdir) == Self.errno(EPERM))
    }

    @Test func killingDefaultsStillGetENOSYSForNewSyscalls() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_KILL_PROCESS", syscalls: [
            LinuxSyscall(names: ["read", "write", "openat"], action: "SCMP_ACT_ALLOW"),
        ]))
        #expect(run(program, NR.mkdir) == 0x8000_0000)
        #expect(run(program, NR.clone3) == Self.errno(ENOSYS))
    }

    @Test(arguments: [
        ("SCMP_ACT_KILL", UInt32(0)), ("SCMP_ACT_KILL_THREAD", UInt32(0)), ("SCMP_ACT_KILL_PROCESS", UInt32(0x8000_0000)),
        ("SCMP_ACT_TRAP", UInt32(0x0003_0000)), ("SCMP_ACT_TRACE", UInt32(0x7ff0_0000) | UInt32(EPERM)),
        ("SCMP_ACT_LOG", UInt32(0x7ffc_0000)), ("SCMP_ACT_ERRNO", UInt32(0x0005_0000) | UInt32(EPERM)),
    ])
    func everyActionReachesTheKernelValue(_ action: String, _ value: UInt32) throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["mkdir"], action: action),
        ]))
        #expect(run(program, NR.mkdir) == value)
        #expect(run(program, NR.read) == Self.allow)
    }

    @Test func traceCarriesItsErrnoRet() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_TRACE", errnoRet: 42),
        ]))
        #expect(run(program, NR.mkdir) == 0x7ff0_0000 | 42)
    }

    /// SCMP_CMP_MASKED_EQ: `value` is the mask, `valueTwo` what the masked argument must be.
    @Test func maskedEqualCompares() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [
            LinuxSyscall(names: ["personality"], action: "SCMP_ACT_ALLOW", args: [
                LinuxSeccompArg(index: 0, value: 0xff, valueTwo: 0x08, op: "SCMP_CMP_MASKED_EQ"),
            ]),
        ]))
        #expect(run(program, NR.personality, args: [0x0108]) == Self.allow)
        #expect(run(program, NR.personality, args: [0x0008]) == Self.allow)
        #expect(run(program, NR.personality, args: [0x0010]) == Self.errno(EPERM))
    }

    @Test(arguments: [
        ("SCMP_CMP_EQ", [(5, true), (4, false), (6, false)]),
        ("SCMP_CMP_NE", [(5, false), (4, true)]),
        ("SCMP_CMP_LT", [(4, true), (5, false)]),
        ("SCMP_CMP_LE", [(5, true), (6, false)]),
        ("SCMP_CMP_GT", [(6, true), (5, false)]),
        ("SCMP_CMP_GE", [(5, true), (4, false)]),
    ])
    func everyOperatorCompares(_ op: String, _ cases: [(UInt64, Bool)]) throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["write"], action: "SCMP_ACT_ERRNO", errnoRet: 9,
                         args: [LinuxSeccompArg(index: 2, value: 5, op: op)]),
        ]))
        for (value, denied) in cases {
            #expect(run(program, NR.write, args: [1, 0, value]) == (denied ? Self.errno(9) : Self.allow),
                    "\(op) \(value)")
        }
    }

    /// Docker's profiles rely on this: conditions on different arguments all must hold, two on
    /// the same argument are alternatives.
    @Test func conditionsOnOneArgumentAreAlternatives() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [
            LinuxSyscall(names: ["socket"], action: "SCMP_ACT_ALLOW", args: [
                LinuxSeccompArg(index: 0, value: 1, op: "SCMP_CMP_EQ"),
                LinuxSeccompArg(index: 0, value: 2, op: "SCMP_CMP_EQ"),
            ]),
            LinuxSyscall(names: ["kill"], action: "SCMP_ACT_ALLOW", args: [
                LinuxSeccompArg(index: 0, value: 1, op: "SCMP_CMP_EQ"),
                LinuxSeccompArg(index: 1, value: 0, op: "SCMP_CMP_EQ"),
            ]),
        ]))
        #expect(run(program, NR.socket, args: [1]) == Self.allow)
        #expect(run(program, NR.socket, args: [2]) == Self.allow)
        #expect(run(program, NR.socket, args: [10]) == Self.errno(EPERM))
        #expect(run(program, NR.kill, args: [1, 0]) == Self.allow)
        #expect(run(program, NR.kill, args: [1, 9]) == Self.errno(EPERM))
        #expect(run(program, NR.kill, args: [2, 0]) == Self.errno(EPERM))
    }

    @Test func unknownSyscallNamesAreSkipped() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["no_such_syscall", "mkdir"], action: "SCMP_ACT_ERRNO"),
        ]))
        #expect(run(program, NR.mkdir) == Self.errno(EPERM))
    }

    @Test func aRuleLikeTheDefaultIsSkipped() throws {
        // libseccomp refuses such a rule; Docker's profile has them.
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", syscalls: [
            LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_ERRNO"),
            LinuxSyscall(names: ["read"], action: "SCMP_ACT_ALLOW"),
        ]))
        #expect(run(program, NR.mkdir) == Self.errno(EPERM))
    }

    @Test func otherArchitecturesGetTheirOwnENOSYSBoundary() throws {
        let program = try compile(LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            syscalls: [LinuxSyscall(names: ["read", "write", "openat"], action: "SCMP_ACT_ALLOW")]))
        // i386: read is 3, openat 295.
        #expect(run(program, 3, arch: Self.i386) == Self.allow)
        #expect(run(program, 295, arch: Self.i386) == Self.allow)
        #expect(run(program, 296, arch: Self.i386) == Self.errno(ENOSYS))
        #expect(run(program, 39, arch: Self.i386) == Self.errno(EPERM))
        // x32: native numbers with bit 30.
        #expect(run(program, Self.x32Bit | NR.read) == Self.allow)
        #expect(run(program, Self.x32Bit | NR.clone3) == Self.errno(ENOSYS))
        #expect(run(program, Self.x32Bit | NR.mkdir) == Self.errno(EPERM))
        #expect(run(program, NR.clone3) == Self.errno(ENOSYS))
        #expect(run(program, NR.read) == Self.allow)
    }

    @Test func notifyAsksForAListener() throws {
        let program = try compile(LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_LOG"],
            listenerPath: "/run/agent.sock", listenerMetadata: "meta",
            syscalls: [LinuxSyscall(names: ["getppid"], action: "SCMP_ACT_NOTIFY")]))
        #expect(program.hasListener)
        #expect(program.flags == 8 | 32 | 2)
        #expect(program.listenerPath == "/run/agent.sock")
        #expect(program.listenerMetadata == "meta")
        #expect(run(program, 110) == 0x7fc0_0000)
    }

    @Test func waitKillableWithoutAListenerIsIgnored() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW",
                                               flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                                               listenerPath: "/run/agent.sock"))
        #expect(program.flags == 4)
        #expect(program.listenerPath == nil)
    }

    @Test func tsyncWithAListenerUsesTsyncEsrch() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_TSYNC"],
                                               listenerPath: "/a", syscalls: [LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_NOTIFY")]))
        #expect(program.flags == 1 | 8 | 16)
    }

    @Test func errorsNameTheJSONPath() {
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_FOO"))
            == #"linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_FOO""#)
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_NOTIFY"))
            == "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["read"], action: "SCMP_ACT_ERRNO"),
            LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_FOO"),
        ])) == #"linux.seccomp.syscalls[1].action: unknown seccomp action "SCMP_ACT_FOO""#)
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["kill"], action: "SCMP_ACT_ERRNO", args: [
                LinuxSeccompArg(index: 0, value: 1, op: "SCMP_CMP_EQ"), LinuxSeccompArg(index: 1, value: 1, op: "SCMP_CMP_FOO"),
            ]),
        ])) == #"linux.seccomp.syscalls[0].args[1].op: unknown seccomp operator "SCMP_CMP_FOO""#)
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["kill"], action: "SCMP_ACT_ERRNO", args: [LinuxSeccompArg(index: 6, value: 1, op: "SCMP_CMP_EQ")]),
        ])) == "linux.seccomp.syscalls[0].args[0].index: must be less than 6")
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]))
            == #"linux.seccomp.architectures[1]: unknown seccomp architecture "SCMP_ARCH_VAX""#)
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_FOO"]))
            == #"linux.seccomp.flags[0]: unknown seccomp flag "SECCOMP_FILTER_FLAG_FOO""#)
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_ALLOW", errnoRet: 1),
        ])) == "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")
        #expect(message(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/a", syscalls: [
            LinuxSyscall(names: ["read", "sendmsg"], action: "SCMP_ACT_NOTIFY"),
        ])) == "linux.seccomp.syscalls[0].names: SCMP_ACT_NOTIFY cannot be used for sendmsg: init hands the listener fd to the runtime with it")
    }

    @Test func aPodmanSizedProfileCompilesIntoAKernelSizedProgram() throws {
        // Every syscall libseccomp knows, as podman's default profile nearly does.
        let names = (0..<460).compactMap { Self.syscallName($0) }
        #expect(names.count > 300)
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1,
                                               architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                                               syscalls: [LinuxSyscall(names: names, action: "SCMP_ACT_ALLOW")]))
        #expect(program.instructions.count < SeccompProgram.maxInstructions)
        #expect(run(program, NR.openat) == Self.allow)
    }

    /// libseccomp's name for a native syscall number.
    static func syscallName(_ number: Int32) -> String? {
        guard let name = seccomp_syscall_resolve_num_arch(seccomp_arch_native(), number) else { return nil }
        defer { free(name) }
        return String(cString: name)
    }

    // MARK: - The encoded form

    @Test func theEncodedProgramRoundTrips() throws {
        let program = try compile(LinuxSeccomp(defaultAction: "SCMP_ACT_ERRNO", listenerPath: "/run/a b.sock",
                                               listenerMetadata: "x=1", syscalls: [
            LinuxSyscall(names: ["read"], action: "SCMP_ACT_ALLOW"), LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_NOTIFY"),
        ]))
        #expect(try SeccompProgram(decoding: program.encoded()) == program)
        let memfd = try program.sealedMemfd()
        #expect(SealedMemfd.isSealed(memfd))
        #expect(try SeccompProgram.read(from: memfd) == program)
    }

    @Test func aDamagedProgramIsRefused() throws {
        let bytes = SeccompProgram(instructions: [.init(code: 6, jt: 0, jf: 0, k: Self.allow)], flags: 0).encoded()
        for (damaged, why) in [
            (Array(bytes.dropLast()), "length mismatch"), (Array(bytes.prefix(10)), "truncated header"),
            ([0] + Array(bytes.dropFirst()), "bad magic"), (bytes + [0], "length mismatch"),
        ] {
            #expect(thrown(SkiffError.self) { _ = try SeccompProgram(decoding: damaged) }?.message == "seccomp program: \(why)")
        }
        var huge = bytes
        huge.replaceSubrange(12..<16, with: [0xff, 0xff, 0xff, 0x7f])
        #expect(thrown(SkiffError.self) { _ = try SeccompProgram(decoding: huge) }?.message == "seccomp program: 2147483647 instructions")
    }
}

/// Just enough of the classic BPF machine (the instructions libseccomp and the prologue use)
/// to evaluate a seccomp program on a seccomp_data.
enum ClassicBPF {
    static func run(_ program: [SeccompProgram.Instruction], nr: Int32, arch: UInt32, args: [UInt64]) -> UInt32 {
        var data = [UInt32](repeating: 0, count: 16)
        data[0] = UInt32(bitPattern: nr)
        data[1] = arch
        for (i, arg) in args.enumerated() {
            data[4 + 2 * i] = UInt32(truncatingIfNeeded: arg)       // little endian: low word first
            data[5 + 2 * i] = UInt32(truncatingIfNeeded: arg >> 32)
        }
        var a: UInt32 = 0, x: UInt32 = 0
        var memory = [UInt32](repeating: 0, count: 16)
        var pc = 0
        while pc < program.count {
            let insn = program[pc]
            pc += 1
            let code = insn.code
            let operand = code & 0x08 == 0 ? insn.k : x
            switch code & 0x07 {
            case 0x00:  // LD
                switch code & 0xe0 {
                case 0x20: a = data[Int(insn.k) / 4]
                case 0x60: a = memory[Int(insn.k)]
                case 0x00: a = insn.k
                default: fatalError("unsupported ld \(code)")
                }
            case 0x01:  // LDX
                switch code & 0xe0 {
                case 0x60: x = memory[Int(insn.k)]
                case 0x00: x = insn.k
                default: fatalError("unsupported ldx \(code)")
                }
            case 0x02: memory[Int(insn.k)] = a
            case 0x03: memory[Int(insn.k)] = x
            case 0x04:  // ALU
                switch code & 0xf0 {
                case 0x00: a = a &+ operand
                case 0x10: a = a &- operand
                case 0x40: a |= operand
                case 0x50: a &= operand
                case 0x60: a <<= operand
                case 0x70: a >>= operand
                case 0xa0: a ^= operand
                default: fatalError("unsupported alu \(code)")
                }
            case 0x05:  // JMP
                let taken: Bool
                switch code & 0xf0 {
                case 0x00:
                    pc += Int(insn.k)
                    continue
                case 0x10: taken = a == operand
                case 0x20: taken = a > operand
                case 0x30: taken = a >= operand
                case 0x40: taken = a & operand != 0
                default: fatalError("unsupported jmp \(code)")
                }
                pc += Int(taken ? insn.jt : insn.jf)
            case 0x06: return code & 0x18 == 0x10 ? a : insn.k
            default:
                if code == 0x07 { x = a } else if code == 0x87 { a = x } else { fatalError("unsupported misc \(code)") }
            }
        }
        fatalError("fell off the end of the program")
    }
}
