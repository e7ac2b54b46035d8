#if canImport(Glibc)
import Glibc
#endif
import CShims

/// seccomp(2) itself. Profiles are compiled by the runtime with libseccomp (Skiff's
/// SeccompCompiler); what reaches the kernel goes through here.
public enum Seccomp {
    /// One classic BPF instruction, as `struct sock_filter` lays it out.
    public struct Instruction: Equatable, Sendable {
        public var code: UInt16
        public var jt: UInt8
        public var jf: UInt8
        public var k: UInt32

        public init(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) {
            self.code = code
            self.jt = jt
            self.jf = jf
            self.k = k
        }
    }

    /// seccomp(SECCOMP_SET_MODE_FILTER): loads `instructions` on the calling thread. Returns
    /// the listener fd when `flags` has SECCOMP_FILTER_FLAG_NEW_LISTENER, else nil. Needs
    /// no_new_privs or CAP_SYS_ADMIN. The corresponding C function is `seccomp`.
    public static func setFilter(flags: UInt32, instructions: [Instruction], newListener: Bool) throws(LinuxError) -> OwnedFD? {
        // struct sock_filter: u16 code, u8 jt, u8 jf, u32 k, native endian.
        var program: [UInt8] = []
        program.reserveCapacity(instructions.count * 8)
        for insn in instructions {
            withUnsafeBytes(of: insn.code) { program += $0 }
            program += [insn.jt, insn.jf]
            withUnsafeBytes(of: insn.k) { program += $0 }
        }
        let count = UInt16(truncatingIfNeeded: instructions.count)
        let result = try sysCall("load seccomp filter") {
            program.withUnsafeBytes { skiff_seccomp_set_filter(flags, $0.baseAddress, count) }
        }
        return newListener ? OwnedFD(result) : nil
    }

    /// Whether this kernel accepts every bit of `flags` (SECCOMP_FILTER_FLAG_*).
    public static func flagsSupported(_ flags: UInt32) -> Bool {
        skiff_seccomp_flags_supported(flags) != 0
    }
}
