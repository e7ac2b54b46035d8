#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import SkiffLinux

/// A compiled seccomp filter: what the runtime hands to init, and all init needs to load it.
///
/// The runtime compiles linux.seccomp with libseccomp before it clones anything (a bad profile
/// fails `create` with nothing left behind, and init never links a 300-rule profile in a
/// process the container may ptrace); init only calls seccomp(2) with these bytes.
///
/// Encoded (native endian, in a sealed memfd passed as `_SKIFF_SECCOMPFD`, and in
/// `<root>/<id>/seccomp.bpf` for later `exec`s):
///
/// ```
/// u32 magic "SKSC"   u32 version 1   u32 flags (SECCOMP_FILTER_FLAG_*)   u32 instructions
/// u32 listenerPath bytes   u32 listenerMetadata bytes
/// instructions × struct sock_filter (8 bytes)
/// listenerPath, listenerMetadata (UTF-8, no NUL)
/// ```
package struct SeccompProgram: Equatable, Sendable {
    package static let magic: UInt32 = 0x4353_4b53
    package static let version: UInt32 = 1
    /// BPF_MAXINSNS: the kernel refuses longer programs.
    package static let maxInstructions = 4096

    /// `struct sock_filter` fields, one per instruction.
    package typealias Instruction = Seccomp.Instruction

    package var instructions: [Instruction]
    /// SECCOMP_FILTER_FLAG_*, NEW_LISTENER included when a rule notifies.
    package var flags: UInt32
    /// Where the runtime sends the listener fd (linux.seccomp.listenerPath); nil without one.
    package var listenerPath: String?
    package var listenerMetadata: String?

    /// Whether loading returns a listener fd that must reach the seccomp agent.
    package var hasListener: Bool { flags & UInt32(SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0 }

    // MARK: - Encoding

    package func encoded() -> [UInt8] {
        let path = Array((listenerPath ?? "").utf8)
        let metadata = Array((listenerMetadata ?? "").utf8)
        let header = [Self.magic, Self.version, flags, UInt32(instructions.count), UInt32(path.count), UInt32(metadata.count)]
        // Stored into a buffer of the final size: appended field by field (`+= [jt, jf]` made
        // an array per instruction) a podman-like profile's program took ~1.4 M instructions
        // in each create, encoded for the memfd and again for seccomp.bpf.
        var bytes = [UInt8](repeating: 0, count: header.count * 4 + instructions.count * 8 + path.count + metadata.count)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            for value in header {
                raw.storeBytes(of: value, toByteOffset: offset, as: UInt32.self)
                offset += 4
            }
            for insn in instructions {
                raw.storeBytes(of: insn.code, toByteOffset: offset, as: UInt16.self)
                raw[offset + 2] = insn.jt
                raw[offset + 3] = insn.jf
                raw.storeBytes(of: insn.k, toByteOffset: offset + 4, as: UInt32.self)
                offset += 8
            }
            for byte in path + metadata {
                raw[offset] = byte
                offset += 1
            }
        }
        return bytes
    }

    /// Every length is checked against the bytes there are before it is used.
    package init(decoding bytes: [UInt8]) throws(SkiffError) {
        func fail(_ why: String) -> SkiffError { SkiffError(.system, "seccomp program: \(why)") }
        var offset = 0
        func u32() throws(SkiffError) -> UInt32 {
            guard bytes.count - offset >= 4 else { throw fail("truncated header") }
            defer { offset += 4 }
            return bytes[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        }
        guard try u32() == Self.magic else { throw fail("bad magic") }
        guard try u32() == Self.version else { throw fail("unsupported version") }
        flags = try u32()
        let count = Int(try u32())
        let pathLength = Int(try u32())
        let metadataLength = Int(try u32())
        guard count > 0, count <= Self.maxInstructions else { throw fail("\(count) instructions") }
        guard bytes.count - offset == count * 8 + pathLength + metadataLength else { throw fail("length mismatch") }
        instructions = (0..<count).map { i in
            let base = offset + i * 8
            return bytes[base..<base + 8].withUnsafeBytes {
                Instruction(code: $0.loadUnaligned(as: UInt16.self), jt: $0[2], jf: $0[3],
                            k: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            }
        }
        offset += count * 8
        let path = String(decoding: bytes[offset..<offset + pathLength], as: UTF8.self)
        offset += pathLength
        let metadata = String(decoding: bytes[offset..<offset + metadataLength], as: UTF8.self)
        listenerPath = path.isEmpty ? nil : path
        listenerMetadata = metadata.isEmpty ? nil : metadata
    }

    package init(instructions: [Instruction], flags: UInt32, listenerPath: String? = nil, listenerMetadata: String? = nil) {
        self.instructions = instructions
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
    }

    /// The program in a sealed memfd: init gets an fd whose content nobody can change after
    /// the runtime checked it, and that names no host file.
    package func sealedMemfd() throws(SkiffError) -> OwnedFD {
        do {
            return try SealedMemfd.make(name: "skiff-seccomp", contents: encoded())
        } catch {
            throw SkiffError(.system, error)
        }
    }

    /// Reads a program from an fd (a memfd from the runtime, or the state dir's file).
    package static func read(from fd: OwnedFD) throws(SkiffError) -> SeccompProgram {
        // pread: the runtime shares this open file and left its offset at the end.
        let bytes: [UInt8]
        do {
            bytes = try fd.preadAll(limit: (1 << 20) + 1, operation: "read seccomp program")
        } catch {
            throw SkiffError(.system, error)
        }
        if bytes.count > 1 << 20 { throw SkiffError(.system, "seccomp program: larger than 1 MiB") }
        return try SeccompProgram(decoding: bytes)
    }
}
