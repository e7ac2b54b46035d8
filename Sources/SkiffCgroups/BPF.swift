#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffLinux

/// bpf(2) for the cgroup v2 device filter: load, attach in place of what was there, query.
enum BPF {
    /// Loads `program` and attaches it to the cgroup at `path` as its device filter. A filter
    /// attached before (by an earlier create or update) is replaced, atomically where the
    /// kernel can (BPF_F_REPLACE, Linux 5.6), else detached after the new one is in, so the
    /// cgroup is never without one.
    static func attachDeviceFilter(_ program: [DeviceFilter.Instruction], to path: String) throws(CgroupError) {
        let cgroup: OwnedFD
        do {
            cgroup = try Files.open(path, flags: O_RDONLY | O_DIRECTORY)
        } catch {
            throw CgroupError("\(error)", errno: error.errno.rawValue)
        }
        let prog = try load(program)
        let old = attached(cgroup)
        let multi = UInt32(SKIFF_BPF_F_ALLOW_MULTI)
        if old.count == 1, let oldFD = programFD(old[0]) {
            let (_, err) = sysCallErrno {
                skiff_bpf_attach_device_program(prog.raw, cgroup.raw, multi | UInt32(SKIFF_BPF_F_REPLACE), oldFD.raw)
            }
            if err == 0 { return }
        }
        let (_, err) = sysCallErrno { skiff_bpf_attach_device_program(prog.raw, cgroup.raw, multi, -1) }
        if err != 0 { throw CgroupError("\(LinuxError("bpf BPF_PROG_ATTACH", path: path, errno: err))", errno: err) }
        for id in old {
            guard let fd = programFD(id) else { continue }
            let (_, err) = sysCallErrno { skiff_bpf_detach_device_program(fd.raw, cgroup.raw) }
            if err != 0 && err != ENOENT {
                throw CgroupError("\(LinuxError("bpf BPF_PROG_DETACH", path: path, errno: err))", errno: err)
            }
        }
    }

    /// BPF_PROG_LOAD; on failure the verifier's log is loaded again and quoted.
    static func load(_ program: [DeviceFilter.Instruction]) throws(CgroupError) -> OwnedFD {
        let words = program.map(\.word)
        let license = "Apache"
        let (fd, err) = sysCallErrno {
            words.withUnsafeBufferPointer { skiff_bpf_load_device_program($0.baseAddress, UInt32($0.count), license, nil, 0) }
        }
        if err == 0 { return OwnedFD(fd) }
        var log = [CChar](repeating: 0, count: 1 << 16)
        _ = words.withUnsafeBufferPointer { insns in
            log.withUnsafeMutableBufferPointer {
                skiff_bpf_load_device_program(insns.baseAddress, UInt32(insns.count), license, $0.baseAddress, UInt32($0.count - 1))
            }
        }
        let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: "\n").last.map { ": verifier: \($0)" } ?? ""
        throw CgroupError("\(LinuxError("bpf BPF_PROG_LOAD", errno: err))\(text)", errno: err)
    }

    /// The ids of the device programs attached to the cgroup itself.
    static func attached(_ cgroup: OwnedFD) -> [UInt32] {
        var ids = [UInt32](repeating: 0, count: 64)
        var count = UInt32(ids.count)
        let result = ids.withUnsafeMutableBufferPointer { skiff_bpf_query_device_programs(cgroup.raw, $0.baseAddress, &count) }
        guard result == 0 else { return [] }
        return Array(ids.prefix(Int(min(count, 64))))
    }

    static func programFD(_ id: UInt32) -> OwnedFD? {
        let fd = skiff_bpf_program_fd(id)
        return fd >= 0 ? OwnedFD(fd) : nil
    }

    /// The ids of the device programs attached to the cgroup at `path` (for tests and checks).
    public static func attachedPrograms(_ path: String) -> [UInt32] {
        guard let cgroup = try? Files.open(path, flags: O_RDONLY | O_DIRECTORY) else { return [] }
        return attached(cgroup)
    }
}
