#if canImport(Glibc)
import Glibc
#endif
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
            throw CgroupError("\(error)", cause: error)
        }
        let prog = try load(program)
        let old = BPFDevicePrograms.attached(to: cgroup)
        if old.count == 1, let oldFD = BPFDevicePrograms.program(id: old[0]),
           (try? BPFDevicePrograms.attach(prog, to: cgroup, replacing: oldFD, path: path)) != nil {
            return
        }
        do throws(LinuxError) {
            try BPFDevicePrograms.attach(prog, to: cgroup, path: path)
            for id in old {
                guard let fd = BPFDevicePrograms.program(id: id) else { continue }
                switch Result(catching: { () throws(LinuxError) in try BPFDevicePrograms.detach(fd, from: cgroup, path: path) }) {
                case .success: break
                case .failure(let error): if error.code != ENOENT { throw error }
                }
            }
        } catch {
            throw CgroupError("\(error)", cause: error)
        }
    }

    /// BPF_PROG_LOAD; on failure the verifier's log is loaded again and quoted.
    static func load(_ program: [DeviceFilter.Instruction]) throws(CgroupError) -> OwnedFD {
        let words = program.map(\.word)
        let license = "Apache"
        do throws(LinuxError) {
            return try BPFDevicePrograms.load(words, license: license)
        } catch {
            let text = BPFDevicePrograms.verifierLog(words, license: license).map { ": verifier: \($0)" } ?? ""
            throw CgroupError("\(error)\(text)", cause: error)
        }
    }

    /// The ids of the device programs attached to the cgroup at `path` (for tests and checks).
    public static func attachedPrograms(_ path: String) -> [UInt32] {
        guard let cgroup = try? Files.open(path, flags: O_RDONLY | O_DIRECTORY) else { return [] }
        return BPFDevicePrograms.attached(to: cgroup)
    }
}
