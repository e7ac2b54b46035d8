#if canImport(Glibc)
import Glibc
#endif
import SkiffCgroups
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// `--systemd-cgroup`: the container's cgroup is a transient scope of a systemd manager
/// (docs/cgroups.md). systemd makes the scope's cgroup and moves stage 0 into it
/// (StartTransientUnit with its pid); the cgroupfs code then writes every resource into the
/// scope's files, as runc's systemd driver does.
extension Runtime {
    /// What create decided before anything exists: the scope, the bus, and the cgroup the
    /// scope will have.
    struct SystemdPlacement {
        let scope: SystemdScope
        let bus: SystemdBus
        let cgroup: CgroupManager
        let user: Bool
        /// linux.resources, the device rules and org.systemd.property annotations as unit
        /// properties: made before anything exists, so that a bad value leaves nothing behind.
        let properties: [SystemdProperty]
    }

    /// Parses linux.cgroupsPath and connects to the manager: bad input and a missing bus fail
    /// here, before a unit, a cgroup or a process exists.
    func prepareSystemdScope(spec: Spec, id: String) throws -> SystemdPlacement {
        let scope: SystemdScope
        do {
            scope = try SystemdScope.parse(cgroupsPath: spec.linux?.cgroupsPath, id: id, rootless: rootless)
        } catch {
            throw SkiffError(.invalidArgument, "\(error)")
        }
        let bus: SystemdBus
        do {
            bus = try SystemdBus.connect(user: rootless)
        } catch {
            throw SkiffError(.system, "\(error)")
        }
        // A user manager's units live below its own cgroup
        // (/user.slice/user-1000.slice/user@1000.service); the system manager's at the root.
        var managerCgroup = "/"
        if rootless {
            do {
                managerCgroup = try bus.stringProperty("ControlGroup")
            } catch {
                throw SkiffError(.system, "systemd: read the user manager's ControlGroup on \"\(bus.address)\": \(error)")
            }
        }
        do {
            let cgroup = try CgroupManager(hierarchies: try CgroupManager.hostHierarchies(),
                                           cgroupsPath: try scope.cgroupPath(managerCgroup: managerCgroup))
            let resources = spec.linux?.resources ?? LinuxResources()
            let unified = cgroup.hierarchies.allSatisfy { $0.version == .v2 }
            var properties = try SystemdScope.resourceProperties(resources, unified: unified, version: bus.version())
            if !rootless {
                let devices = try SystemdScope.deviceProperties(try DeviceRule.container(resources: resources.devices))
                properties += devices.properties
                for warning in devices.warnings { logger.warning(warning) }
            }
            properties += try SystemdScope.annotationProperties(spec.annotations)
            return SystemdPlacement(scope: scope, bus: bus, cgroup: cgroup, user: rootless, properties: properties)
        } catch {
            throw SkiffError(.invalidArgument, "\(error)")
        }
    }

    /// Starts the scope with stage 0 in it, waits for systemd's job, then makes what systemd
    /// did not (v1 hierarchies it does not manage) and writes the resources into the scope's
    /// files. Returns the scope's directories, which InitSpawner has the stages join. Called
    /// before the bootstrap data is sent, so no stage goes on outside the scope.
    func startSystemdScope(_ placement: SystemdPlacement, spec: Spec, id: String, pid: Int32,
                           started: () -> Void) throws -> [String] {
        let properties = placement.scope.unitProperties(id: id, pid: pid) + placement.properties
        let unit = placement.scope.unit
        let result: String
        do {
            result = try placement.bus.startTransientUnit(unit, properties: properties)
        } catch {
            throw SkiffError(.system, "systemd: start unit \"\(unit)\" in \"\(placement.scope.slice)\": \(error)")
        }
        started()
        guard result == "done" else {
            throw SkiffError(.system, "systemd: start unit \"\(unit)\" in \"\(placement.scope.slice)\": job \(result)")
        }
        logger.debug("systemd unit \(unit) started with stage-0 \(pid)")
        do {
            try placement.cgroup.create()
        } catch {
            throw SkiffError(.system, "systemd: unit \(unit): \(error)")
        }
        try applyResources(spec, cgroup: placement.cgroup)
        return placement.cgroup.directories
    }

    /// Stops a container's unit (delete, a failed create): systemd removes its cgroup. A unit
    /// that is gone already (its last process exited) is not an error.
    func stopSystemdUnit(_ record: ContainerRecord) throws {
        guard let unit = record.systemdUnit else { return }
        do {
            let bus = try SystemdBus.connect(user: record.systemdUserBus ?? false)
            try bus.stopUnit(unit)
        } catch {
            throw SkiffError(.system, "systemd: stop unit \"\(unit)\": \(error)")
        }
        logger.debug("systemd unit \(unit) stopped")
    }

    /// `delete --force` of a container whose state.json does not decode: its scope, when one
    /// can be identified: the one state.json still names (StateStore.salvage), else, under
    /// --systemd-cgroup, the scope described as this container's (SystemdScope.description).
    /// Its processes are killed and the unit stopped, so systemd removes its cgroup. Without
    /// a bus, a scope state.json names is an error (the state stays for another try); a
    /// search is only a warning, since no scope may exist.
    func stopUnrecordedUnit(id: String, salvaged: StateStore.Salvaged) throws {
        guard salvaged.systemdUnit != nil || systemdCgroup else { return }
        let user = salvaged.systemdUnit != nil ? salvaged.systemdUserBus : rootless
        let bus: SystemdBus
        do {
            bus = try SystemdBus.connect(user: user)
        } catch {
            if let unit = salvaged.systemdUnit { throw SkiffError(.system, "systemd: stop unit \"\(unit)\": \(error)") }
            logger.warning("delete \(id): no systemd scope looked for: \(error)")
            return
        }
        var units: [String]
        if let unit = salvaged.systemdUnit {
            units = [unit]
        } else {
            do {
                units = try bus.scopes(describedAs: SystemdScope.description(id: id))
            } catch {
                logger.warning("delete \(id): systemd: list scopes on \"\(bus.address)\": \(error)")
                return
            }
        }
        for unit in units {
            // SIGKILL first: a stop alone sends SIGTERM and waits the unit's stop timeout.
            try? bus.killUnit(unit, signal: SIGKILL)
            do {
                try bus.stopUnit(unit)
            } catch {
                throw SkiffError(.system, "systemd: stop unit \"\(unit)\": \(error)")
            }
            logger.debug("systemd unit \(unit) of an unreadable state.json stopped")
        }
    }

    /// `update` of a container in a scope: the unit's properties first (as runc), so that
    /// systemd does not later rewrite the files with the old values.
    func updateSystemdUnit(_ record: ContainerRecord, cgroup: CgroupManager, resources: LinuxResources) throws {
        guard let unit = record.systemdUnit else { return }
        do {
            let bus = try SystemdBus.connect(user: record.systemdUserBus ?? false)
            let unified = cgroup.hierarchies.allSatisfy { $0.version == .v2 }
            let properties = try SystemdScope.resourceProperties(resources, unified: unified, version: bus.version())
            try bus.setUnitProperties(unit, properties: properties)
        } catch let error as CgroupError {
            throw SkiffError(.invalidArgument, "update \(record.id): \(error)")
        } catch {
            throw SkiffError(.system, "update \(record.id): systemd: set properties of unit \"\(unit)\": \(error)")
        }
    }
}
