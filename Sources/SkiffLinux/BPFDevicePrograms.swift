#if canImport(Glibc)
import Glibc
#endif
import CShims

/// bpf(2) for cgroup v2 device programs (BPF_PROG_TYPE_CGROUP_DEVICE): load, attach, detach,
/// query. SkiffCgroups decides what to attach and when.
public enum BPFDevicePrograms {
    /// BPF_PROG_LOAD of `instructions` (eBPF, 8 bytes each).
    public static func load(_ instructions: [UInt64], license: String) throws(LinuxError) -> OwnedFD {
        OwnedFD(try sysCall("bpf BPF_PROG_LOAD") {
            instructions.withUnsafeBufferPointer { skiff_bpf_load_device_program($0.baseAddress, UInt32($0.count), license, nil, 0) }
        })
    }

    /// The last line of the verifier's log for `instructions`, which says what it refused:
    /// the program is loaded again with a log (a first load without one is cheaper, and
    /// almost always succeeds).
    public static func verifierLog(_ instructions: [UInt64], license: String) -> String? {
        var log = [CChar](repeating: 0, count: 1 << 16)
        _ = instructions.withUnsafeBufferPointer { insns in
            log.withUnsafeMutableBufferPointer {
                skiff_bpf_load_device_program(insns.baseAddress, UInt32(insns.count), license, $0.baseAddress, UInt32($0.count - 1))
            }
        }
        let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "\n").last.map(String.init)
    }

    /// BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, and BPF_F_REPLACE of `replacing` when given
    /// (Linux 5.6: the old program goes in the same step). `path` names the cgroup in errors.
    public static func attach(_ program: OwnedFD, to cgroup: OwnedFD, replacing: OwnedFD? = nil,
                              path: String) throws(LinuxError) {
        var flags = UInt32(SKIFF_BPF_F_ALLOW_MULTI)
        if replacing != nil { flags |= UInt32(SKIFF_BPF_F_REPLACE) }
        let replace = replacing?.raw ?? -1
        _ = try sysCall("bpf BPF_PROG_ATTACH", path: path) {
            skiff_bpf_attach_device_program(program.raw, cgroup.raw, flags, replace)
        }
    }

    /// BPF_PROG_DETACH of one program from the cgroup.
    public static func detach(_ program: OwnedFD, from cgroup: OwnedFD, path: String) throws(LinuxError) {
        _ = try sysCall("bpf BPF_PROG_DETACH", path: path) { skiff_bpf_detach_device_program(program.raw, cgroup.raw) }
    }

    /// BPF_PROG_QUERY: the ids of the device programs attached to the cgroup itself (at most
    /// 64); empty when the kernel cannot say.
    public static func attached(to cgroup: OwnedFD) -> [UInt32] {
        var ids = [UInt32](repeating: 0, count: 64)
        var count = UInt32(ids.count)
        let result = ids.withUnsafeMutableBufferPointer { skiff_bpf_query_device_programs(cgroup.raw, $0.baseAddress, &count) }
        guard result == 0 else { return [] }
        return Array(ids.prefix(Int(min(count, 64))))
    }

    /// BPF_PROG_GET_FD_BY_ID; nil when the program is gone.
    public static func program(id: UInt32) -> OwnedFD? {
        let fd = skiff_bpf_program_fd(id)
        return fd >= 0 ? OwnedFD(fd) : nil
    }
}
