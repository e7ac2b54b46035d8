#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

extension CgroupManager {
    /// Writes every field of `resources` but `devices` (see `applyDevices`) to the files of the
    /// hierarchy that drives it, converted as runc converts for cgroup v2. Only fields that
    /// are set are written, so `update` passes just what changes.
    ///
    /// A field this host cannot apply is an error naming it and the missing file, unless its
    /// value is the default. Returns warnings for the fields cgroup v2 has no place for and
    /// runc ignores there (swappiness, disableOOMKiller, leaf weights).
    @discardableResult
    public func apply(_ resources: LinuxResources) throws(CgroupError) -> [String] {
        var applier = ResourceApplier(manager: self)
        try applier.apply(resources)
        return applier.warnings
    }
}

/// One application of linux.resources; collects the warnings.
struct ResourceApplier {
    let manager: CgroupManager
    var warnings: [String] = []

    mutating func apply(_ r: LinuxResources) throws(CgroupError) {
        if let cpu = r.cpu { try cpuset(cpu) }
        if let memory = r.memory { try self.memory(memory) }
        if let cpu = r.cpu { try self.cpu(cpu) }
        if let pids = r.pids { try self.pids(pids) }
        if let blockIO = r.blockIO { try self.blockIO(blockIO) }
        if let hugepages = r.hugepageLimits { try self.hugepages(hugepages) }
        if let network = r.network { try self.network(network) }
        if let rdma = r.rdma { try self.rdma(rdma) }
        if let unified = r.unified { try self.unified(unified) }
    }

    /// The container's directory for `controller`. When the host has no such controller:
    /// nil if the field holds its default, else an error naming the field and the file.
    func directory(_ controller: String, field: String, file: String, isDefault: Bool) throws(CgroupError) -> ControlDirectory? {
        if let dir = manager.controlDirectory(for: controller) { return dir }
        if isDefault { return nil }
        let reason: String
        if ["net_cls", "net_prio"].contains(controller), manager.hierarchies.contains(where: { $0.version == .v2 }),
           !manager.hierarchies.contains(where: { $0.version == .v1 }) {
            reason = "cgroup v2 has no \(controller) controller"
        } else {
            reason = "no \(controller) controller on this host"
        }
        throw CgroupError.missing(field, file: file, reason: reason)
    }

    // MARK: memory

    mutating func memory(_ m: LinuxMemory) throws(CgroupError) {
        let base = "linux.resources.memory"
        let limit = m.limit ?? 0, reservation = m.reservation ?? 0, swap = m.swap ?? 0
        if (m.kernel ?? 0) != 0 {
            // Refused, not warned about: Linux 5.16 on accepts memory.kmem.limit_in_bytes and
            // ignores it, so the limit asked for would never hold.
            throw CgroupError("\(base).kernel: kernel memory limits are not supported (Linux ignores them since 5.16)")
        }
        let set: [(String, Bool)] = [
            ("limit", limit != 0), ("reservation", reservation != 0), ("swap", swap != 0),
            ("kernelTCP", (m.kernelTCP ?? 0) != 0),
            ("swappiness", m.swappiness != nil), ("disableOOMKiller", m.disableOOMKiller == true),
        ]
        let first = set.first { $0.1 }.map { base + "." + $0.0 } ?? base
        let v1File = ["limit": "memory.limit_in_bytes", "reservation": "memory.soft_limit_in_bytes",
                      "swap": "memory.memsw.limit_in_bytes", "swappiness": "memory.swappiness",
                      "disableOOMKiller": "memory.oom_control", "kernelTCP": "memory.kmem.tcp.limit_in_bytes"]
        let firstFile = set.first { $0.1 }.flatMap { v1File[$0.0] } ?? "memory.limit_in_bytes"
        guard let dir = try directory("memory", field: first, file: firstFile, isDefault: first == base) else { return }
        switch dir.version {
        case .v1: try memoryV1(m, dir, limit: limit, reservation: reservation, swap: swap)
        case .v2: try memoryV2(m, dir, limit: limit, reservation: reservation, swap: swap)
        }
    }

    private func memoryV1(_ m: LinuxMemory, _ dir: ControlDirectory, limit: Int64, reservation: Int64, swap: Int64) throws(CgroupError) {
        var swap = swap
        // Memory unlimited and swap not given: memory+swap unlimited too (where it exists).
        if limit == -1 && swap == 0 && dir.has("memory.memsw.limit_in_bytes") { swap = -1 }
        if m.checkBeforeUpdate == true { try checkUsage(dir, limit: limit, usage: "memory.usage_in_bytes", field: "limit") }
        // The kernel keeps memory <= memory+swap at every step: when both change, raise the one
        // that must make room first.
        if limit != 0 && swap != 0, let current = dir.readUInt("memory.limit_in_bytes"),
           swap == -1 || current < UInt64(swap) {
            try setSwapV1(dir, swap: swap, limit: limit)
            try setLimitV1(dir, limit)
        } else {
            try setLimitV1(dir, limit)
            try setSwapV1(dir, swap: swap, limit: limit)
        }
        if reservation != 0 {
            try dir.write("memory.soft_limit_in_bytes", String(reservation), field: "linux.resources.memory.reservation")
        }
        if m.disableOOMKiller == true {
            try dir.write("memory.oom_control", "1", field: "linux.resources.memory.disableOOMKiller")
        }
        if let tcp = m.kernelTCP, tcp != 0 {
            // Still in cgroup v1 (memory.kmem.tcp.*); a kernel without it is told, not ignored.
            guard dir.has("memory.kmem.tcp.limit_in_bytes") else {
                throw CgroupError.missing("linux.resources.memory.kernelTCP", file: dir.file("memory.kmem.tcp.limit_in_bytes"),
                                          reason: "the kernel does not offer it")
            }
            try dir.write("memory.kmem.tcp.limit_in_bytes", String(tcp), field: "linux.resources.memory.kernelTCP")
        }
        if let swappiness = m.swappiness, swappiness != UInt64.max {
            guard swappiness <= 100 else {
                throw CgroupError("linux.resources.memory.swappiness: \(swappiness) is out of range (0-100)")
            }
            try dir.write("memory.swappiness", String(swappiness), field: "linux.resources.memory.swappiness")
        }
    }

    private func setLimitV1(_ dir: ControlDirectory, _ limit: Int64) throws(CgroupError) {
        guard limit != 0 else { return }
        let err = dir.writeErrno("memory.limit_in_bytes", String(limit))
        if err == EBUSY {
            // The kernel could not reclaim down to the new limit.
            let usage = dir.readUInt("memory.usage_in_bytes").map(String.init) ?? "?"
            let peak = dir.readUInt("memory.max_usage_in_bytes").map(String.init) ?? "?"
            let error = CgroupError.write("linux.resources.memory.limit", value: String(limit),
                                          LinuxError("write", path: dir.file("memory.limit_in_bytes"), errno: err))
            throw CgroupError("\(error.description) (current usage \(usage), peak usage \(peak))",
                              cause: LinuxError("write", path: dir.file("memory.limit_in_bytes"), errno: err))
        }
        try dir.check(err, "memory.limit_in_bytes", String(limit), field: "linux.resources.memory.limit")
    }

    private func setSwapV1(_ dir: ControlDirectory, swap: Int64, limit: Int64) throws(CgroupError) {
        guard swap != 0 else { return }
        if !dir.has("memory.memsw.limit_in_bytes") {
            // Without swap accounting memory+swap is memory: unlimited, or equal to the limit, is
            // what the host does anyway.
            if swap == -1 || swap == limit { return }
            throw CgroupError.missing("linux.resources.memory.swap", file: dir.file("memory.memsw.limit_in_bytes"),
                                      reason: "swap accounting is off in this kernel (swapaccount=1)")
        }
        try dir.write("memory.memsw.limit_in_bytes", String(swap), field: "linux.resources.memory.swap")
    }

    private mutating func memoryV2(_ m: LinuxMemory, _ dir: ControlDirectory, limit: Int64, reservation: Int64, swap: Int64) throws(CgroupError) {
        if (m.kernelTCP ?? 0) != 0 {
            throw CgroupError.missing("linux.resources.memory.kernelTCP", file: dir.file("memory.kmem.tcp.limit_in_bytes"),
                                      reason: "cgroup v2 has no TCP memory limit")
        }
        if limit != 0 || reservation != 0 || swap != 0 {
            let swapMax = try CgroupConversions.swapMax(swap: swap, memory: limit)
            if m.checkBeforeUpdate == true {
                try checkUsage(dir, limit: limit, usage: "memory.current", field: "limit")
                if swapMax > 0 { try checkUsage(dir, limit: swapMax, usage: "memory.swap.current", field: "swap") }
            }
            var swapValue: String? = swapMax == 0 ? nil : CgroupConversions.v2Limit(swapMax)
            // swap == limit: no swap at all.
            if swapMax == 0 && swap > 0 { swapValue = "0" }
            if let swapValue {
                let err = dir.writeErrno("memory.swap.max", swapValue)
                // A kernel without swap accounting does what "max" or "0" ask anyway.
                if !(err == ENOENT && (swapValue == "max" || swapValue == "0")) {
                    try dir.check(err, "memory.swap.max", swapValue, field: "linux.resources.memory.swap")
                }
            }
            if limit != 0 {
                try dir.write("memory.max", CgroupConversions.v2Limit(limit), field: "linux.resources.memory.limit")
            }
            if reservation != 0 {
                try dir.write("memory.low", CgroupConversions.v2Limit(reservation), field: "linux.resources.memory.reservation")
            }
        }
        if m.swappiness != nil {
            warnings.append("linux.resources.memory.swappiness: ignored, cgroup v2 has no per-cgroup swappiness")
        }
        if m.disableOOMKiller == true {
            warnings.append("linux.resources.memory.disableOOMKiller: ignored, cgroup v2 cannot disable the OOM killer")
        }
    }

    /// checkBeforeUpdate: a limit below what the cgroup uses now is refused instead of
    /// reclaiming or OOM-killing to reach it.
    private func checkUsage(_ dir: ControlDirectory, limit: Int64, usage file: String, field: String) throws(CgroupError) {
        guard limit > 0, let usage = dir.readUInt(file), UInt64(limit) < usage else { return }
        throw CgroupError("linux.resources.memory.\(field): rejecting \(limit), below the current usage \(usage) (\(file), checkBeforeUpdate)")
    }

    // MARK: cpu

    mutating func cpuset(_ cpu: LinuxCPU) throws(CgroupError) {
        for (name, value) in [("cpus", cpu.cpus), ("mems", cpu.mems)] {
            guard let value, !value.isEmpty else { continue }
            let field = "linux.resources.cpu." + name
            guard let dir = try directory("cpuset", field: field, file: "cpuset." + name, isDefault: false) else { continue }
            try dir.write("cpuset." + name, value, field: field)
        }
    }

    mutating func cpu(_ cpu: LinuxCPU) throws(CgroupError) {
        let base = "linux.resources.cpu"
        let shares = cpu.shares ?? 0, quota = cpu.quota ?? 0, period = cpu.period ?? 0
        let rtRuntime = cpu.realtimeRuntime ?? 0, rtPeriod = cpu.realtimePeriod ?? 0
        let set: [(String, String, Bool)] = [
            ("shares", "cpu.shares", shares != 0), ("quota", "cpu.cfs_quota_us", quota != 0),
            ("period", "cpu.cfs_period_us", period != 0), ("burst", "cpu.cfs_burst_us", (cpu.burst ?? 0) != 0),
            ("realtimeRuntime", "cpu.rt_runtime_us", rtRuntime != 0), ("realtimePeriod", "cpu.rt_period_us", rtPeriod != 0),
            ("idle", "cpu.idle", (cpu.idle ?? 0) != 0),
        ]
        let first = set.first { $0.2 }
        let anySet = shares != 0 || quota != 0 || period != 0 || cpu.burst != nil || rtRuntime != 0 || rtPeriod != 0
            || cpu.idle != nil
        guard anySet, let dir = try directory("cpu", field: first.map { base + "." + $0.0 } ?? base,
                                              file: first?.1 ?? "cpu.shares", isDefault: first == nil) else { return }
        switch dir.version {
        case .v1: try cpuV1(cpu, dir, shares: shares, quota: quota, period: period, rtRuntime: rtRuntime, rtPeriod: rtPeriod)
        case .v2: try cpuV2(cpu, dir, shares: shares, quota: quota, period: period, rtRuntime: rtRuntime, rtPeriod: rtPeriod)
        }
    }

    private func cpuV1(_ cpu: LinuxCPU, _ dir: ControlDirectory, shares: UInt64, quota: Int64, period: UInt64,
                       rtRuntime: Int64, rtPeriod: UInt64) throws(CgroupError) {
        let base = "linux.resources.cpu"
        if shares != 0 {
            try dir.write("cpu.shares", String(shares), field: base + ".shares")
            // The kernel clamps out-of-range shares silently: read back and say so.
            if let read = dir.readUInt("cpu.shares"), read != shares {
                throw CgroupError("\(base).shares: \(shares) is out of range, the kernel's \(shares > read ? "maximum" : "minimum") is \(read)")
            }
        }
        // A period smaller than the current one, or a burst larger, can be refused (EINVAL) for
        // the old quota; when a quota comes too, retry them after it.
        var periodPending = false
        if period != 0 {
            let err = dir.writeErrno("cpu.cfs_period_us", String(period))
            if err == EINVAL && quota != 0 { periodPending = true } else {
                try dir.check(err, "cpu.cfs_period_us", String(period), field: base + ".period")
            }
        }
        var burstPending = false
        if let burst = cpu.burst {
            let err = dir.writeErrno("cpu.cfs_burst_us", String(burst))
            if err == ENOENT && burst == 0 {
                // No burst in this kernel, and none asked for.
            } else if err == EINVAL && quota != 0 {
                burstPending = true
            } else {
                try dir.check(err, "cpu.cfs_burst_us", String(burst), field: base + ".burst")
            }
        }
        if quota != 0 {
            try dir.write("cpu.cfs_quota_us", String(quota), field: base + ".quota")
            if periodPending { try dir.write("cpu.cfs_period_us", String(period), field: base + ".period") }
            if burstPending, let burst = cpu.burst {
                try dir.write("cpu.cfs_burst_us", String(burst), field: base + ".burst")
            }
        }
        try idle(cpu, dir)
        if rtPeriod != 0 { try dir.write("cpu.rt_period_us", String(rtPeriod), field: base + ".realtimePeriod") }
        if rtRuntime != 0 { try dir.write("cpu.rt_runtime_us", String(rtRuntime), field: base + ".realtimeRuntime") }
    }

    private func cpuV2(_ cpu: LinuxCPU, _ dir: ControlDirectory, shares: UInt64, quota: Int64, period: UInt64,
                       rtRuntime: Int64, rtPeriod: UInt64) throws(CgroupError) {
        let base = "linux.resources.cpu"
        if rtRuntime != 0 || rtPeriod != 0 {
            throw CgroupError.missing(base + (rtRuntime != 0 ? ".realtimeRuntime" : ".realtimePeriod"),
                                      file: dir.file(rtRuntime != 0 ? "cpu.rt_runtime_us" : "cpu.rt_period_us"),
                                      reason: "cgroup v2 has no realtime cpu limits")
        }
        try idle(cpu, dir)
        if shares != 0 {
            try dir.write("cpu.weight", String(CgroupConversions.cpuWeight(shares: shares)), field: base + ".shares")
        }
        var burstPending = false
        if let burst = cpu.burst {
            let err = dir.writeErrno("cpu.max.burst", String(burst))
            if err == ENOENT && burst == 0 {
            } else if err == EINVAL && quota != 0 {
                burstPending = true
            } else {
                try dir.check(err, "cpu.max.burst", String(burst), field: base + ".burst")
            }
        }
        if quota != 0 || period != 0 {
            var value = quota > 0 ? String(quota) : "max"
            if period != 0 { value += " \(period)" }
            try dir.write("cpu.max", value, field: base + (quota != 0 ? ".quota" : ".period"))
            if burstPending, let burst = cpu.burst {
                try dir.write("cpu.max.burst", String(burst), field: base + ".burst")
            }
        }
    }

    private func idle(_ cpu: LinuxCPU, _ dir: ControlDirectory) throws(CgroupError) {
        guard let idle = cpu.idle else { return }
        if idle == 0 && !dir.has("cpu.idle") { return }
        try dir.write("cpu.idle", String(idle), field: "linux.resources.cpu.idle")
    }

    // MARK: pids

    mutating func pids(_ pids: LinuxPids) throws(CgroupError) {
        let field = "linux.resources.pids.limit"
        guard let dir = try directory("pids", field: field, file: "pids.max", isDefault: pids.limit <= 0) else { return }
        try dir.write("pids.max", pids.limit > 0 ? String(pids.limit) : "max", field: field)
    }

    // MARK: block IO

    mutating func blockIO(_ io: LinuxBlockIO) throws(CgroupError) {
        let base = "linux.resources.blockIO"
        let weight = UInt64(io.weight ?? 0), leafWeight = UInt64(io.leafWeight ?? 0)
        let throttles: [(String, [LinuxThrottleDevice], String, String)] = [
            ("throttleReadBpsDevice", io.throttleReadBpsDevice ?? [], "blkio.throttle.read_bps_device", "rbps"),
            ("throttleWriteBpsDevice", io.throttleWriteBpsDevice ?? [], "blkio.throttle.write_bps_device", "wbps"),
            ("throttleReadIOPSDevice", io.throttleReadIOPSDevice ?? [], "blkio.throttle.read_iops_device", "riops"),
            ("throttleWriteIOPSDevice", io.throttleWriteIOPSDevice ?? [], "blkio.throttle.write_iops_device", "wiops"),
        ]
        let weightDevices = io.weightDevice ?? []
        let set: [(String, String, Bool)] = [
            ("weight", "blkio.weight", weight != 0), ("leafWeight", "blkio.leaf_weight", leafWeight != 0),
            ("weightDevice", "blkio.weight_device", !weightDevices.isEmpty),
        ] + throttles.map { ($0.0, $0.2, !$0.1.isEmpty) }
        guard let first = set.first(where: { $0.2 }) else { return }
        let controller = manager.hierarchy(for: "blkio") != nil ? "blkio" : "io"
        guard let dir = try directory(controller, field: base + "." + first.0, file: first.1, isDefault: false) else { return }
        func device(_ major: Int64, _ minor: Int64) -> String { "\(major):\(minor)" }

        switch dir.version {
        case .v1:
            // Kernels without CFQ (5.0+) name the weights after BFQ.
            let cfq = dir.has("blkio.weight")
            let weightFile = cfq ? "blkio.weight" : "blkio.bfq.weight"
            let weightDeviceFile = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device"
            if weight != 0 { try dir.write(weightFile, String(weight), field: base + ".weight") }
            if leafWeight != 0 { try dir.write("blkio.leaf_weight", String(leafWeight), field: base + ".leafWeight") }
            for (i, wd) in weightDevices.enumerated() {
                let field = "\(base).weightDevice[\(i)]"
                if let w = wd.weight, w != 0 {
                    try dir.write(weightDeviceFile, "\(device(wd.major, wd.minor)) \(w)", field: field)
                }
                if let w = wd.leafWeight, w != 0 {
                    try dir.write("blkio.leaf_weight_device", "\(device(wd.major, wd.minor)) \(w)", field: field)
                }
            }
            for (name, list, file, _) in throttles {
                for (i, t) in list.enumerated() {
                    try dir.write(file, "\(device(t.major, t.minor)) \(t.rate)", field: "\(base).\(name)[\(i)]")
                }
            }
        case .v2:
            // BFQ takes v1's weights as they are; io.weight needs the conversion.
            let bfq = (weight != 0 || !weightDevices.isEmpty) && dir.has("io.bfq.weight")
            // io.bfq.weight takes "major:minor weight" lines since Linux 5.4; before, it reads
            // back as a single number.
            let perDevice = bfq && UInt64(dir.readTrimmed("io.bfq.weight") ?? "") == nil
            if weight != 0 {
                if bfq {
                    try dir.write("io.bfq.weight", String(weight), field: base + ".weight")
                } else {
                    try dir.write("io.weight", String(CgroupConversions.ioWeight(blkioWeight: weight)), field: base + ".weight")
                }
            }
            for (i, wd) in weightDevices.enumerated() {
                guard let w = wd.weight, w != 0 else { continue }
                guard perDevice else {
                    warnings.append("\(base).weightDevice: ignored, this kernel has no per-device io.bfq.weight")
                    break
                }
                try dir.write("io.bfq.weight", "\(device(wd.major, wd.minor)) \(w)", field: "\(base).weightDevice[\(i)]")
            }
            if leafWeight != 0 || weightDevices.contains(where: { ($0.leafWeight ?? 0) != 0 }) {
                warnings.append("\(base).leafWeight: ignored, cgroup v2 has no leaf weights")
            }
            for (name, list, _, key) in throttles {
                for (i, t) in list.enumerated() {
                    try dir.write("io.max", "\(device(t.major, t.minor)) \(key)=\(t.rate)", field: "\(base).\(name)[\(i)]")
                }
            }
        }
    }

    // MARK: hugetlb

    mutating func hugepages(_ limits: [LinuxHugepageLimit]) throws(CgroupError) {
        for (i, limit) in limits.enumerated() {
            let field = "linux.resources.hugepageLimits[\(i)]"
            // The page size becomes part of a file name: only "2MB", "1GB", "64KB"…
            let size = limit.pageSize
            guard size.count >= 3, size.hasSuffix("B"), "KMGTP".contains(size.dropLast().last!),
                  size.dropLast(2).allSatisfy(\.isNumber), !size.dropLast(2).isEmpty else {
                throw CgroupError("\(field).pageSize: invalid page size \"\(size)\" (expected a size like 2MB or 1GB)")
            }
            guard let dir = try directory("hugetlb", field: field, file: "hugetlb.\(size).max", isDefault: false) else { continue }
            let file = dir.version == .v1 ? "hugetlb.\(size).limit_in_bytes" : "hugetlb.\(size).max"
            if !dir.has(file), Files.exists(dir.path) {
                throw CgroupError.missing(field, file: dir.file(file), reason: "no \(size) huge pages on this host")
            }
            try dir.write(file, String(limit.limit), field: field)
            // Reservations count too (Linux 5.7+): without a limit on them, a mapping could
            // reserve past the limit and fault later.
            let reserved = dir.version == .v1 ? "hugetlb.\(size).rsvd.limit_in_bytes" : "hugetlb.\(size).rsvd.max"
            if dir.has(reserved) { try dir.write(reserved, String(limit.limit), field: field) }
        }
    }

    // MARK: network (v1 only)

    mutating func network(_ network: LinuxNetwork) throws(CgroupError) {
        let base = "linux.resources.network"
        if let classID = network.classID, classID != 0,
           let dir = try directory("net_cls", field: base + ".classID", file: "net_cls.classid", isDefault: false) {
            try dir.write("net_cls.classid", String(classID), field: base + ".classID")
        }
        let priorities = network.priorities ?? []
        if !priorities.isEmpty,
           let dir = try directory("net_prio", field: base + ".priorities", file: "net_prio.ifpriomap", isDefault: false) {
            for (i, priority) in priorities.enumerated() {
                try dir.write("net_prio.ifpriomap", "\(priority.name) \(priority.priority)", field: "\(base).priorities[\(i)]")
            }
        }
    }

    // MARK: rdma

    mutating func rdma(_ rdma: [String: LinuxRdma]) throws(CgroupError) {
        for (device, limit) in rdma.sorted(by: { $0.key < $1.key }) {
            let field = "linux.resources.rdma[\"\(device)\"]"
            guard !device.isEmpty, !device.contains(where: { $0.isWhitespace }) else {
                throw CgroupError("\(field): invalid device name")
            }
            guard let dir = try directory("rdma", field: field, file: "rdma.max", isDefault: false) else { continue }
            var line = device
            if let handles = limit.hcaHandles { line += " hca_handle=\(handles)" }
            if let objects = limit.hcaObjects { line += " hca_object=\(objects)" }
            try dir.write("rdma.max", line, field: field)
        }
    }

    // MARK: unified (v2 files as they are)

    mutating func unified(_ unified: [String: String]) throws(CgroupError) {
        for (key, value) in unified.sorted(by: { $0.key < $1.key }) {
            let field = "linux.resources.unified[\"\(key)\"]"
            let parts = key.split(separator: ".", maxSplits: 1)
            guard !key.contains("/"), parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw CgroupError("\(field): must be a file name of the form CONTROLLER.PARAMETER")
            }
            let controller = String(parts[0])
            guard let v2 = manager.v2Hierarchy else {
                throw CgroupError("\(field): cannot apply: this host has no cgroup v2 hierarchy")
            }
            if controller != "cgroup" && !manager.v2Controllers.contains(controller) {
                if manager.hierarchies.contains(where: { $0.version == .v1 && $0.controllers.contains(controller) }) {
                    throw CgroupError("\(field): cannot apply: the \(controller) controller is on a cgroup v1 hierarchy here, not on cgroup v2")
                }
                throw CgroupError.missing(field, file: manager.directory(in: v2) + "/" + key,
                                          reason: "no \(controller) controller on cgroup v2 here")
            }
            let dir = ControlDirectory(path: manager.directory(in: v2), version: .v2)
            // Some files take one setting per write (io.max, rdma.max): a value of several
            // lines is written line by line.
            for line in value.split(separator: "\n") where !line.isEmpty {
                try dir.write(key, String(line), field: field)
            }
        }
    }
}
