/// The cgroup v2 device filter: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE that the
/// kernel runs on every open and mknod of a device node by a process in the cgroup, returning
/// 1 to allow and 0 to deny (runc's and crun's design).
///
/// The program is generated from a `DeviceRuleSet`, whose exceptions all have the action
/// opposite to its default, so their order does not matter and the first match decides:
///
///     r2 = ctx->access_type & 0xffff   (BPF_DEVCG_DEV_CHAR 2, BPF_DEVCG_DEV_BLOCK 1)
///     r3 = ctx->access_type >> 16      (BPF_DEVCG_ACC_MKNOD 1, READ 2, WRITE 4)
///     r4 = ctx->major; r5 = ctx->minor
///     per exception: if r2 != type goto next; [if (r3 & access) != r3 goto next;]
///                    [if r4 != major goto next;] [if r5 != minor goto next;] return action
///     return default
public enum DeviceFilter {
    /// One eBPF instruction (struct bpf_insn) as the little-endian 64-bit word the kernel reads.
    public struct Instruction: Sendable, Equatable, CustomStringConvertible {
        public let code: UInt8
        public let dst: UInt8
        public let src: UInt8
        public var offset: Int16
        public let imm: Int32

        public var word: UInt64 {
            UInt64(code) | UInt64(dst & 0xf) << 8 | UInt64(src & 0xf) << 12 | UInt64(UInt16(bitPattern: offset)) << 16
                | UInt64(UInt32(bitPattern: imm)) << 32
        }

        public var description: String {
            "code=0x\(String(code, radix: 16)) dst=r\(dst) src=r\(src) off=\(offset) imm=\(imm)"
        }
    }

    // Opcodes (linux/bpf_common.h, linux/bpf.h).
    public static let loadWord: UInt8 = 0x61  // BPF_LDX | BPF_MEM | BPF_W
    public static let andImm32: UInt8 = 0x54  // BPF_ALU | BPF_AND | BPF_K
    public static let rshImm32: UInt8 = 0x74  // BPF_ALU | BPF_RSH | BPF_K
    public static let movReg32: UInt8 = 0xbc  // BPF_ALU | BPF_MOV | BPF_X
    public static let movImm32: UInt8 = 0xb4  // BPF_ALU | BPF_MOV | BPF_K
    public static let jneImm: UInt8 = 0x55  // BPF_JMP | BPF_JNE | BPF_K
    public static let jneReg: UInt8 = 0x5d  // BPF_JMP | BPF_JNE | BPF_X
    public static let exit: UInt8 = 0x95  // BPF_JMP | BPF_EXIT

    static let devChar: Int32 = 2, devBlock: Int32 = 1
    static let accMknod: Int32 = 1, accRead: Int32 = 2, accWrite: Int32 = 4

    public static func program(for set: DeviceRuleSet) -> [Instruction] {
        func insn(_ code: UInt8, _ dst: UInt8 = 0, _ src: UInt8 = 0, _ offset: Int16 = 0, imm: Int32 = 0) -> Instruction {
            Instruction(code: code, dst: dst, src: src, offset: offset, imm: imm)
        }
        var program = [
            insn(loadWord, 2, 1, 0), insn(andImm32, 2, imm: 0xffff),
            insn(loadWord, 3, 1, 0), insn(rshImm32, 3, imm: 16),
            insn(loadWord, 4, 1, 4),
            insn(loadWord, 5, 1, 8),
        ]
        for rule in set.rules {
            var block: [Instruction] = []
            block.append(insn(jneImm, 2, imm: rule.kind == .block ? devBlock : devChar))
            if rule.access != .all {
                var access: Int32 = 0
                if rule.access.contains(.mknod) { access |= accMknod }
                if rule.access.contains(.read) { access |= accRead }
                if rule.access.contains(.write) { access |= accWrite }
                block += [insn(movReg32, 1, 3), insn(andImm32, 1, imm: access), insn(jneReg, 1, 3)]
            }
            if let major = rule.major { block.append(insn(jneImm, 4, imm: Int32(truncatingIfNeeded: major))) }
            if let minor = rule.minor { block.append(insn(jneImm, 5, imm: Int32(truncatingIfNeeded: minor))) }
            block += [insn(movImm32, 0, imm: rule.allow ? 1 : 0), insn(exit)]
            // Every test jumps past the end of its block, to the next block.
            for i in block.indices where block[i].code == jneImm || block[i].code == jneReg {
                block[i].offset = Int16(block.count - i - 1)
            }
            program += block
        }
        program += [insn(movImm32, 0, imm: set.defaultAllow ? 1 : 0), insn(exit)]
        return program
    }
}
