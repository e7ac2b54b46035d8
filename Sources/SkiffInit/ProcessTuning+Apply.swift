import SkiffInitProtocol
import SkiffLinux

/// Init side: the tuning applied to init itself, which execve keeps for the process.
extension ProcessTuning {
    /// Before the user switch: a negative nice, a real-time policy or the RT I/O class need
    /// CAP_SYS_NICE or CAP_SYS_ADMIN, which the process may not keep.
    func applyPrivileged(_ kernel: some InitKernel) throws {
        if let p = personality {
            do { try kernel.setPersonality(p) } catch { throw SkiffError.wrap(error, "linux.personality") }
        }
        if let s = scheduler {
            do { try kernel.setScheduler(s) } catch { throw SkiffError.wrap(error, "process.scheduler") }
        }
        if let io = ioPriority {
            do { try kernel.setIOPriority(ioClass: io.ioClass, level: io.level) } catch {
                throw SkiffError.wrap(error, "process.ioPriority")
            }
        }
        if let m = memoryPolicy {
            do { try kernel.setMemoryPolicy(mode: m.mode, nodes: m.nodes) } catch {
                throw SkiffError.wrap(error, "linux.memoryPolicy")
            }
        }
    }

    /// The last step before "ready": init has been in the container's cgroup all along (it was
    /// born there), so `final` is what the process runs on from here.
    func applyFinalAffinity(_ kernel: some InitKernel) throws {
        guard let cpus = finalCPUs else { return }
        do { try kernel.setAffinity(cpus) } catch {
            throw SkiffError.wrap(error, "process.execCPUAffinity.final")
        }
    }
}
