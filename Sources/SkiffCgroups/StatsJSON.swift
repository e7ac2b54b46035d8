import SkiffOCI

/// A JSON value written as Go's encoding/json writes it: object keys in the order given, no
/// spaces, `<`, `>` and `&` escaped. Enough for runc's event lines.
public indirect enum JSONText: Sendable, Equatable {
    case object([(String, JSONText)])
    case array([JSONText])
    case number(String)
    case string(String)
    case null

    public static func == (a: JSONText, b: JSONText) -> Bool { a.rendered == b.rendered }

    static func uint(_ value: UInt64) -> JSONText { .number(String(value)) }
    static func int(_ value: Int64) -> JSONText { .number(String(value)) }

    public var rendered: String {
        switch self {
        case .object(let members):
            return "{" + members.map { Self.quote($0.0) + ":" + $0.1.rendered }.joined(separator: ",") + "}"
        case .array(let items):
            return "[" + items.map(\.rendered).joined(separator: ",") + "]"
        case .number(let text):
            return text
        case .string(let text):
            return Self.quote(text)
        case .null:
            return "null"
        }
    }

    /// Go's quoting, shared with every JSON skiff writes (SkiffOCI's `jsonQuote`).
    static func quote(_ text: String) -> String { jsonQuote(text) }
}

/// Builds an object the way Go's `omitempty` fills one: zero values of tagged fields left out.
struct JSONObjectBuilder {
    var members: [(String, JSONText)] = []

    mutating func add(_ key: String, _ value: JSONText) { members.append((key, value)) }

    mutating func add(_ key: String, _ value: UInt64, omitEmpty: Bool = false) {
        if omitEmpty && value == 0 { return }
        members.append((key, .uint(value)))
    }

    mutating func add(_ key: String, _ values: [UInt64], omitEmpty: Bool = true) {
        if omitEmpty && values.isEmpty { return }
        members.append((key, .array(values.map { .uint($0) })))
    }

    var object: JSONText { .object(members) }
}

extension CgroupStats {
    /// The `data` of runc's `{"type":"stats"}` event (types.Stats), field for field.
    public var runcJSON: JSONText {
        var usage = JSONObjectBuilder()
        usage.add("total", cpuUsage.total, omitEmpty: true)
        usage.add("percpu", cpuUsage.perCPU)
        usage.add("percpu_kernel", cpuUsage.perCPUKernel)
        usage.add("percpu_user", cpuUsage.perCPUUser)
        usage.add("kernel", cpuUsage.kernel)
        usage.add("user", cpuUsage.user)
        var throttle = JSONObjectBuilder()
        throttle.add("periods", throttling.periods, omitEmpty: true)
        throttle.add("throttledPeriods", throttling.throttledPeriods, omitEmpty: true)
        throttle.add("throttledTime", throttling.throttledTime, omitEmpty: true)
        let cpu = JSONText.object([("usage", usage.object), ("throttling", throttle.object)])

        var set = JSONObjectBuilder()
        set.add("cpus", cpuset.cpus.map(UInt64.init))
        set.add("cpu_exclusive", UInt64(max(cpuset.flags["cpu_exclusive"] ?? 0, 0)))
        set.add("mems", cpuset.mems.map(UInt64.init))
        for key in ["mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page", "memory_spread_slab",
                    "memory_pressure", "memory_pressure_enabled", "sched_load_balance"] {
            set.add(key, UInt64(max(cpuset.flags[key] ?? 0, 0)))
        }
        set.add("sched_relax_domain_level", .int(cpuset.flags["sched_relax_domain_level"] ?? 0))

        func entry(_ e: MemoryEntry) -> JSONText {
            var b = JSONObjectBuilder()
            b.add("limit", e.limit)
            b.add("usage", e.usage, omitEmpty: true)
            b.add("max", e.max, omitEmpty: true)
            b.add("failcnt", e.failcnt)
            return b.object
        }
        var mem = JSONObjectBuilder()
        mem.add("cache", memory.cache, omitEmpty: true)
        mem.add("usage", entry(memory.usage))
        mem.add("swap", entry(memory.swap))
        mem.add("kernel", entry(memory.kernel))
        mem.add("kernelTCP", entry(memory.kernelTCP))
        if !memory.raw.isEmpty {
            mem.add("raw", .object(memory.raw.sorted { $0.key < $1.key }.map { ($0.key, .uint($0.value)) }))
        }

        var pidsObject = JSONObjectBuilder()
        pidsObject.add("current", pids.current, omitEmpty: true)
        pidsObject.add("limit", pids.limit, omitEmpty: true)

        func entries(_ list: [BlkioEntry]) -> JSONText {
            .array(list.map { e in
                var b = JSONObjectBuilder()
                b.add("major", e.major, omitEmpty: true)
                b.add("minor", e.minor, omitEmpty: true)
                if !e.op.isEmpty { b.add("op", .string(e.op)) }
                b.add("value", e.value, omitEmpty: true)
                return b.object
            })
        }
        var io = JSONObjectBuilder()
        if !blkio.ioServiceBytesRecursive.isEmpty { io.add("ioServiceBytesRecursive", entries(blkio.ioServiceBytesRecursive)) }
        if !blkio.ioServicedRecursive.isEmpty { io.add("ioServicedRecursive", entries(blkio.ioServicedRecursive)) }

        let huge = JSONText.object(hugetlb.sorted { $0.key < $1.key }.map { size, h in
            var b = JSONObjectBuilder()
            b.add("usage", h.usage, omitEmpty: true)
            b.add("max", h.max, omitEmpty: true)
            b.add("failcnt", h.failcnt)
            return (size, b.object)
        })
        return .object([
            ("cpu", cpu), ("cpuset", set.object), ("memory", mem.object), ("pids", pidsObject.object),
            ("blkio", io.object), ("hugetlb", huge), ("intel_rdt", .object([])), ("network_interfaces", .null),
        ])
    }
}

/// One line of `events`: `{"type":"stats","id":"web","data":{…}}` or `{"type":"oom","id":"web"}`.
public func runcEvent(type: String, id: String, data: JSONText? = nil) -> String {
    var members: [(String, JSONText)] = [("type", .string(type)), ("id", .string(id))]
    if let data { members.append(("data", data)) }
    return JSONText.object(members).rendered
}
