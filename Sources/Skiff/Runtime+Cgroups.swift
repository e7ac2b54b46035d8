#if canImport(Glibc)
import Glibc
#endif
import SkiffCgroups
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// The runtime's cgroup side: limits at create, and the commands that read and change a
/// container's cgroup (pause, resume, ps, events, update).
extension Runtime {
    /// The container's cgroup, as create placed it (relative or not, from the record); nil for
    /// a record without one. The one way a saved container's manager is rebuilt.
    func cgroup(of record: ContainerRecord) -> CgroupManager? {
        guard !record.cgroupsPath.isEmpty else { return nil }
        return try? CgroupManager.host(cgroupsPath: record.cgroupsPath, relative: record.cgroupRelative)
    }

    /// Writes linux.resources and the device rules into the new cgroup, before the init joins
    /// it, so the container never runs unlimited. An error leaves the cgroup to create's
    /// cleanup.
    func applyResources(_ spec: Spec, cgroup: CgroupManager?) throws {
        try applyLimits(spec, cgroup: cgroup)
        try applyDeviceRules(spec, cgroup: cgroup)
    }

    /// linux.resources but the device rules.
    func applyLimits(_ spec: Spec, cgroup: CgroupManager?) throws {
        guard let cgroup else { return }
        do {
            for warning in try cgroup.apply(spec.linux?.resources ?? LinuxResources()) { logger.warning(warning) }
        } catch {
            throw SkiffError(.invalidArgument, error)
        }
        logger.debug("resources applied to \(cgroup.path)")
    }

    /// linux.resources.devices: the default rules and the config's, a v1 list or a cgroup2
    /// device filter.
    func applyDeviceRules(_ spec: Spec, cgroup: CgroupManager?) throws {
        // A rootless container's user namespace keeps it from device nodes anyway, and
        // attaching a device filter needs CAP_SYS_ADMIN on the host.
        guard let cgroup, !rootless else { return }
        do {
            try cgroup.applyDevices(try DeviceRule.container(resources: spec.linux?.resources?.devices))
        } catch {
            throw SkiffError(.invalidArgument, error)
        }
        logger.debug("device rules applied to \(cgroup.path)")
    }

    /// Whether the container's cgroup is frozen: `state` then says "paused".
    func isPaused(_ record: ContainerRecord) -> Bool {
        !record.cgroupsPath.isEmpty && CgroupManager.isFrozen(recorded: record.cgroupPaths)
    }

    /// Before a forced delete of a paused container: SIGKILL everything, then thaw, since a
    /// frozen v1 task acts on no signal until thawed.
    func killPaused(_ record: ContainerRecord) {
        cgroup(of: record)?.signalAll(SIGKILL)
    }

    // MARK: pause, resume

    /// Freezes every process of a created or running container, waiting until the kernel
    /// reports them frozen.
    public func pause(id: String) throws {
        try skiffErrors {
            let (lock, record, cgroup) = try loadWithCgroup(id)
            let status = status(of: record)
            guard status == .running || status == .created else {
                throw SkiffError(.invalidState, "container not running")
            }
            do {
                try cgroup.freeze()
            } catch {
                throw SkiffError(.system, "pause \(id)", error)
            }
            withExtendedLifetime(lock) {}
        }
    }

    public func resume(id: String) throws {
        try skiffErrors {
            let (lock, record, cgroup) = try loadWithCgroup(id)
            guard status(of: record) == .paused else { throw SkiffError(.invalidState, "container not paused") }
            do {
                try cgroup.thaw()
            } catch {
                throw SkiffError(.system, "resume \(id)", error)
            }
            withExtendedLifetime(lock) {}
        }
    }

    private func loadWithCgroup(_ id: String) throws -> (ContainerLock, ContainerRecord, CgroupManager) {
        try ContainerID.validate(id)
        let lock = try store.lock(id)
        let record = try store.load(id, includingProcess: false)
        guard let cgroup = cgroup(of: record) else {
            throw SkiffError(.invalidState, "container \(id) has no cgroup")
        }
        return (lock, record, cgroup)
    }

    // MARK: ps

    /// The pids of every process in the container's cgroup, sub-cgroups included.
    public func processes(id: String) throws -> [Int32] {
        try skiffErrors {
            try ContainerID.validate(id)
            let record = try store.load(id, includingProcess: false)
            return cgroup(of: record)?.pids.sorted() ?? processesWithoutCgroup(record)
        }
    }

    // MARK: events

    /// The container's resource usage now (`events --stats`).
    public func stats(id: String) throws -> CgroupStats {
        try skiffErrors {
            let (record, cgroup) = try runningCgroup(id)
            _ = record
            return cgroup.stats()
        }
    }

    /// runc's event stream: a `stats` line every `interval` seconds and an `oom` line for each
    /// process the OOM killer takes, until the container stops; with `statsOnly`, one stats
    /// line at once. Each line (JSON, no newline) goes to `emit`.
    public func events(id: String, interval: Double, statsOnly: Bool = false, emit: (String) -> Void) throws {
        try skiffErrors {
            let (record, cgroup) = try runningCgroup(id)
            if statsOnly {
                emit(runcEvent(type: "stats", id: id, data: cgroup.stats().runcJSON))
                return
            }
            var ooms = cgroup.oomKillCount ?? 0
            let tick = 0.05
            var sinceStats = 0.0
            while true {
                usleep(useconds_t(tick * 1_000_000))
                sinceStats += tick
                let stopped = status(of: record) == .stopped
                // A kill counted just before the stop is still reported.
                if let count = cgroup.oomKillCount, count > ooms {
                    for _ in 0..<min(count - ooms, 1000) { emit(runcEvent(type: "oom", id: id)) }
                    ooms = count
                }
                if stopped { return }
                if sinceStats + tick / 2 >= interval {
                    sinceStats = 0
                    emit(runcEvent(type: "stats", id: id, data: cgroup.stats().runcJSON))
                }
            }
        }
    }

    private func runningCgroup(_ id: String) throws -> (ContainerRecord, CgroupManager) {
        try ContainerID.validate(id)
        let record = try store.load(id, includingProcess: false)
        guard status(of: record) != .stopped else {
            throw SkiffError(.invalidState, "container with id \(id) is not running")
        }
        guard let cgroup = cgroup(of: record) else { throw SkiffError(.invalidState, "container \(id) has no cgroup") }
        return (record, cgroup)
    }

    // MARK: update

    /// Changes a created, running or paused container's limits: the fields set in
    /// `resources` are written, the others left as they are. Device rules are not changed
    /// (as with runc).
    public func update(id: String, resources: LinuxResources) throws {
        try skiffErrors {
            let (lock, record, cgroup) = try loadWithCgroup(id)
            guard status(of: record) != .stopped else { throw SkiffError(.invalidState, "container not running") }
            try updateSystemdUnit(record, cgroup: cgroup, resources: resources)
            do {
                for warning in try cgroup.apply(resources) { logger.warning(warning) }
            } catch {
                throw SkiffError(.invalidArgument, "update \(id)", error)
            }
            withExtendedLifetime(lock) {}
        }
    }
}
