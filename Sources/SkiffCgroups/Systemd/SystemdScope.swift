#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

/// A container's transient scope under `--systemd-cgroup`: linux.cgroupsPath in runc's
/// `slice:prefix:name` form becomes the unit `prefix-name.scope` in `slice`.
public struct SystemdScope: Sendable, Equatable {
    public let slice: String
    public let prefix: String
    public let name: String

    /// runc's unit name; without a prefix just `name.scope` (as crun names it).
    public var unit: String { prefix.isEmpty ? name + ".scope" : prefix + "-" + name + ".scope" }

    /// runc's rule: an empty cgroupsPath is `system.slice:runc:<id>` (`user.slice` rootless);
    /// skiff's prefix is "skiff". Otherwise exactly three fields; an empty slice means the
    /// default one.
    public static func parse(cgroupsPath: String?, id: String, rootless: Bool) throws(CgroupError) -> SystemdScope {
        let defaultSlice = rootless ? "user.slice" : "system.slice"
        guard let path = cgroupsPath, !path.isEmpty else {
            return try SystemdScope(slice: defaultSlice, prefix: "skiff", name: id, field: "")
        }
        let parts = path.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else {
            throw CgroupError("linux.cgroupsPath: \(CgroupError.quoted(path)) is not \"slice:prefix:name\" (--systemd-cgroup)")
        }
        return try SystemdScope(slice: parts[0].isEmpty ? defaultSlice : parts[0], prefix: parts[1], name: parts[2], field: path)
    }

    private init(slice: String, prefix: String, name: String, field: String) throws(CgroupError) {
        self.slice = slice
        self.prefix = prefix
        self.name = name
        let what = "linux.cgroupsPath: \(CgroupError.quoted(field))"
        _ = try Self.expandSlice(slice, field: what)
        // systemd's unit name alphabet; anything else would be refused by the manager after
        // the runtime had already made things, or (a "/") name another cgroup.
        func valid(_ s: String) -> Bool {
            s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2e
                    || c == 0x2d || c == 0x40 || c == 0x5c
            }
        }
        if name.isEmpty { throw CgroupError("\(what): the name (after the second \":\") is empty") }
        if !valid(name) || !valid(prefix) {
            throw CgroupError("\(what): prefix and name may hold only letters, digits and \"_.-@\\\" (systemd unit names)")
        }
        if name.hasSuffix(".slice") {
            throw CgroupError("\(what): a name ending in \".slice\" asks for a slice unit; skiff makes scopes only")
        }
        if unit.utf8.count > 255 { throw CgroupError("\(what): unit name \(CgroupError.quoted(unit)) is longer than 255 bytes") }
    }

    /// systemd's slice path: `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`, `-.slice` is
    /// the root (runc's ExpandSlice).
    public static func expandSlice(_ slice: String, field: String = "linux.cgroupsPath") throws(CgroupError) -> String {
        let invalid = CgroupError("\(field): invalid slice name \(CgroupError.quoted(slice)) (want NAME.slice, NAME without \"/\" or \"--\")")
        guard slice.hasSuffix(".slice"), slice.count > ".slice".count, !slice.contains("/") else { throw invalid }
        let base = slice.dropLast(".slice".count)
        if base == "-" { return "/" }
        var path = ""
        var prefix = ""
        for component in base.split(separator: "-", omittingEmptySubsequences: false) {
            if component.isEmpty { throw invalid }
            path += "/" + prefix + component + ".slice"
            prefix += component + "-"
        }
        return path
    }

    /// The scope's cgroup below the manager's own (`managerCgroup`, "/" for the system
    /// manager, `/user.slice/user-1000.slice/user@1000.service` for a user's).
    public func cgroupPath(managerCgroup: String = "/") throws(CgroupError) -> String {
        let slicePath = try Self.expandSlice(slice)
        let base = managerCgroup == "/" ? "" : managerCgroup
        return base + (slicePath == "/" ? "" : slicePath) + "/" + unit
    }

    /// The scope's Description: how delete still finds it when state.json is unreadable.
    public static func description(id: String) -> String { "skiff container \(id)" }

    /// Whether `unit`, read from a state.json that may have been tampered with, may be
    /// stopped as container `id`'s: a scope, named in systemd's alphabet, whose name holds
    /// the id (skiff-<id>.scope, podman's libpod-<id>.scope), never another service.
    public static func isScope(_ unit: String, of id: String) -> Bool {
        unit.hasSuffix(".scope") && unit.contains(id) && !unit.contains("/") && unit.utf8.count <= 255
            && unit.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f || c == 0x2e
                    || c == 0x2d || c == 0x40 || c == 0x5c
            }
    }

    /// What StartTransientUnit gets besides the resources, as runc sets it: the slice,
    /// delegation (the container may make sub-cgroups), accounting on every controller (so
    /// they are enabled down to the scope), no default dependencies, and the pid of stage 0.
    public func unitProperties(id: String, pid: Int32) -> [SystemdProperty] {
        [
            SystemdProperty("Description", .string(Self.description(id: id))),
            SystemdProperty("Slice", .string(slice)),
            SystemdProperty("Delegate", .bool(true)),
            SystemdProperty("PIDs", .uint32s([UInt32(bitPattern: pid)])),
            SystemdProperty("MemoryAccounting", .bool(true)),
            SystemdProperty("CPUAccounting", .bool(true)),
            SystemdProperty("IOAccounting", .bool(true)),
            SystemdProperty("TasksAccounting", .bool(true)),
            SystemdProperty("DefaultDependencies", .bool(false)),
        ]
    }
}

extension SystemdScope {
    /// linux.resources as unit properties, as runc maps them (genV1/genV2ResourcesProperties):
    /// systemd then keeps them across its own rewrites of the cgroup (daemon-reload). The
    /// cgroup files get every field as well (the cgroupfs code), so what systemd cannot
    /// express is applied all the same. `unified`: the host is cgroup v2 only; `version`:
    /// the manager's (0 unknown), since older ones lack some properties.
    public static func resourceProperties(_ resources: LinuxResources, unified: Bool, version: Int) throws(CgroupError)
        -> [SystemdProperty] {
        var properties: [SystemdProperty] = []
        let memory = resources.memory
        if let limit = memory?.limit, limit != 0 {
            properties.append(SystemdProperty(unified ? "MemoryMax" : "MemoryLimit", .uint64(limit < 0 ? .max : UInt64(limit))))
        }
        if unified, let reservation = memory?.reservation, reservation != 0 {
            properties.append(SystemdProperty("MemoryLow", .uint64(reservation < 0 ? .max : UInt64(reservation))))
        }
        if unified, memory?.swap != nil {
            let swap = try CgroupConversions.swapMax(swap: memory?.swap ?? 0, memory: memory?.limit ?? 0)
            if swap != 0 { properties.append(SystemdProperty("MemorySwapMax", .uint64(swap < 0 ? .max : UInt64(swap)))) }
        }
        let cpu = resources.cpu
        if let shares = cpu?.shares, shares != 0 {
            properties.append(unified ? SystemdProperty("CPUWeight", .uint64(CgroupConversions.cpuWeight(shares: shares)))
                                      : SystemdProperty("CPUShares", .uint64(shares)))
        }
        let quota = cpu?.quota ?? 0
        let period = cpu?.period ?? 0
        if period != 0 && version >= 242 {
            properties.append(SystemdProperty("CPUQuotaPeriodUSec", .uint64(period)))
        }
        if quota != 0 || period != 0 {
            // systemd keeps CPUQuota as a percentage: a fraction of a percent is rounded up to
            // the next 10 ms per second, so the cgroup's own cpu.max (written after) still fits.
            var perSecond = UInt64.max
            if quota > 0 {
                perSecond = UInt64(quota) * 1_000_000 / (period == 0 ? 100_000 : period)
                if perSecond % 10_000 != 0 { perSecond = (perSecond / 10_000 + 1) * 10_000 }
            }
            properties.append(SystemdProperty("CPUQuotaPerSecUSec", .uint64(perSecond)))
        }
        if let limit = resources.pids?.limit, limit > 0 || limit == -1 {
            properties.append(SystemdProperty("TasksMax", .uint64(limit < 0 ? .max : UInt64(limit))))
        }
        if version >= 244 {
            if let cpus = cpu?.cpus, !cpus.isEmpty {
                properties.append(SystemdProperty("AllowedCPUs", .bytes(try rangeBits(cpus, field: "linux.resources.cpu.cpus"))))
            }
            if let mems = cpu?.mems, !mems.isEmpty {
                properties.append(SystemdProperty("AllowedMemoryNodes", .bytes(try rangeBits(mems, field: "linux.resources.cpu.mems"))))
            }
        }
        if let weight = resources.blockIO?.weight, weight != 0 {
            properties.append(unified ? SystemdProperty("IOWeight", .uint64(CgroupConversions.ioWeight(blkioWeight: UInt64(weight))))
                                      : SystemdProperty("BlockIOWeight", .uint64(UInt64(weight))))
        }
        return properties
    }

    /// "0-3,7" as systemd's CPU set on the bus: byte i holds bits 8i…8i+7, lowest first.
    static func rangeBits(_ list: String, field: String) throws(CgroupError) -> [UInt8] {
        var bytes: [UInt8] = []
        let bad = CgroupError("\(field) = \(CgroupError.quoted(list)): not a list of numbers and ranges (\"0-3,7\")")
        for item in list.split(separator: ",") {
            let ends = item.filter { $0 != " " }.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2, let low = Int(ends[0]), let high = ends.count == 2 ? Int(ends[1]) : low,
                  low >= 0, low <= high, high < 65536 else { throw bad }
            for bit in low...high {
                if bytes.count <= bit / 8 { bytes += [UInt8](repeating: 0, count: bit / 8 + 1 - bytes.count) }
                bytes[bit / 8] |= 1 << UInt8(bit % 8)
            }
        }
        if bytes.isEmpty { throw bad }
        return bytes
    }

    /// The device rules as DevicePolicy/DeviceAllow, as runc converts them: a default-deny rule
    /// set is `strict` plus an allow per exception (`/dev/char/M:m`, `char-NAME` for a whole
    /// major from /proc/devices, `char-*` for all). systemd has no deny list: a default-allow
    /// set with exceptions gives no properties (the cgroup's own filter still applies them).
    /// Returns the properties and warnings for rules systemd cannot name.
    public static func deviceProperties(_ rules: [DeviceRule], procDevices: String? = try? Files.readString("/proc/devices"))
        throws(CgroupError) -> (properties: [SystemdProperty], warnings: [String]) {
        let set = try DeviceRuleSet(rules: rules)
        if set.defaultAllow {
            return ([SystemdProperty("DevicePolicy", .string("auto")), SystemdProperty("DeviceAllow", .pairs([]))],
                    set.rules.isEmpty ? [] : ["linux.resources.devices: systemd has no deny list; the denials are left to the cgroup's device filter"])
        }
        var allow: [(String, String)] = []
        var warnings: [String] = []
        for rule in set.rules where rule.allow {
            let type = rule.kind == .block ? "block" : "char"
            let access = rule.access.description
            if access.isEmpty { continue }
            switch (rule.major, rule.minor) {
            case (nil, _):
                allow.append(("\(type)-*", access))
            case let (major?, nil):
                if let name = deviceGroup(type: type, major: major, procDevices: procDevices ?? "") {
                    allow.append(("\(type)-\(name)", access))
                } else {
                    warnings.append("linux.resources.devices: rule \"\(rule)\": no \(type) device group with major \(major) in /proc/devices; left to the cgroup's device filter")
                }
            case let (major?, minor?):
                allow.append(("/dev/\(type)/\(major):\(minor)", access))
            }
        }
        return ([SystemdProperty("DevicePolicy", .string("strict")), SystemdProperty("DeviceAllow", .pairs(allow))], warnings)
    }

    /// The name /proc/devices gives a major ("136 pts" under "Character devices:").
    static func deviceGroup(type: String, major: Int64, procDevices: String) -> String? {
        var section = ""
        for line in procDevices.split(separator: "\n") {
            if line.hasPrefix("Character devices") { section = "char"; continue }
            if line.hasPrefix("Block devices") { section = "block"; continue }
            let fields = line.split(separator: " ")
            if section == type, fields.count == 2, Int64(fields[0]) == major { return String(fields[1]) }
        }
        return nil
    }
}

extension SystemdScope {
    static let annotationPrefix = "org.systemd.property."

    /// runc's `org.systemd.property.NAME` annotations (podman sets KillSignal and
    /// TimeoutStopUSec): extra unit properties, the value in GVariant text as runc parses it.
    /// skiff reads the forms callers write: `true`/`false`, a quoted string, an integer (int32,
    /// as GVariant types a bare one) or a typed one (`uint64 10000000`, `int64`, `uint32`,
    /// `int32`). A NAME ending in a lowercase letter and "Sec" takes seconds and is passed on
    /// as NAMEUSec, as runc converts it. Anything else is an error naming the annotation.
    public static func annotationProperties(_ annotations: [String: String]?) throws(CgroupError) -> [SystemdProperty] {
        var properties: [SystemdProperty] = []
        for (key, text) in (annotations ?? [:]).sorted(by: { $0.key < $1.key }) where key.hasPrefix(annotationPrefix) {
            var name = String(key.dropFirst(annotationPrefix.count))
            let field = "annotations[\(CgroupError.quoted(key))]"
            guard let first = name.utf8.first, first >= 0x41, first <= 0x5a,
                  name.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) }) else {
                throw CgroupError("\(field): \(CgroupError.quoted(name)) is not a systemd property name (letters and digits, a capital first)")
            }
            guard var value = parseVariant(text) else {
                throw CgroupError("\(field) = \(CgroupError.quoted(text)): not a value skiff can pass (true, false, 'text', N, uint64 N, int64 N, uint32 N, int32 N)")
            }
            if name.hasSuffix("Sec"), let before = name.dropLast(3).utf8.last, before >= 0x61, before <= 0x7a {
                let microseconds: UInt64?
                switch value {
                case .uint64(let n): microseconds = n.multipliedReportingOverflow(by: 1_000_000).overflow ? nil : n * 1_000_000
                case .int64(let n): microseconds = n < 0 ? nil : UInt64(n).multipliedReportingOverflow(by: 1_000_000).overflow ? nil : UInt64(n) * 1_000_000
                case .uint32(let n): microseconds = UInt64(n) * 1_000_000
                case .int32(let n): microseconds = n < 0 ? nil : UInt64(n) * 1_000_000
                default: microseconds = nil
                }
                guard let microseconds else {
                    throw CgroupError("\(field) = \(CgroupError.quoted(text)): seconds must be a non-negative integer")
                }
                name = String(name.dropLast(3)) + "USec"
                value = .uint64(microseconds)
            }
            properties.append(SystemdProperty(name, value))
        }
        return properties
    }

    static func parseVariant(_ text: String) -> SystemdProperty.Value? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        let whole = words.joined(separator: " ")
        if whole.count >= 2, let quote = whole.first, quote == "'" || quote == "\"", whole.last == quote {
            return .string(String(whole.dropFirst().dropLast()))
        }
        switch words.count {
        case 1:
            if whole == "true" { return .bool(true) }
            if whole == "false" { return .bool(false) }
            return Int32(whole).map { .int32($0) }
        case 2:
            let number = String(words[1])
            switch words[0] {
            case "uint64": return UInt64(number).map { .uint64($0) }
            case "int64": return Int64(number).map { .int64($0) }
            case "uint32": return UInt32(number).map { .uint32($0) }
            case "int32": return Int32(number).map { .int32($0) }
            default: return nil
            }
        default:
            return nil
        }
    }
}
