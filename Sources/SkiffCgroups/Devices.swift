#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

/// What a device rule grants or takes away: some of read, write, mknod.
public struct DeviceAccess: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let read = DeviceAccess(rawValue: 1)
    public static let write = DeviceAccess(rawValue: 2)
    public static let mknod = DeviceAccess(rawValue: 4)
    public static let all: DeviceAccess = [.read, .write, .mknod]

    /// From "rwm" letters; nil for any other letter.
    public init?(_ letters: String) {
        var access: DeviceAccess = []
        for letter in letters {
            switch letter {
            case "r": access.insert(.read)
            case "w": access.insert(.write)
            case "m": access.insert(.mknod)
            default: return nil
            }
        }
        self = access
    }

    public var description: String {
        (contains(.read) ? "r" : "") + (contains(.write) ? "w" : "") + (contains(.mknod) ? "m" : "")
    }
}

/// One device cgroup rule, as devices.allow and devices.deny take it: `c 1:3 rwm`, `a`.
public struct DeviceRule: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Character, Sendable, Hashable { case all = "a", char = "c", block = "b" }

    public var allow: Bool
    public var kind: Kind
    /// nil: any.
    public var major: Int64?
    public var minor: Int64?
    public var access: DeviceAccess

    public init(allow: Bool, kind: Kind, major: Int64? = nil, minor: Int64? = nil, access: DeviceAccess = .all) {
        self.allow = allow
        self.kind = kind
        self.major = major
        self.minor = minor
        self.access = access
    }

    /// The line devices.allow / devices.deny take; "a" alone for every device.
    public var description: String {
        if kind == .all { return "a" }
        return "\(kind.rawValue) \(major.map(String.init) ?? "*"):\(minor.map(String.init) ?? "*") \(access)"
    }

    /// What a container may use whatever its config says, as runc allows it: mknod of any
    /// node (opening is what the rules guard), the standard /dev nodes, and terminals.
    public static let defaults: [DeviceRule] = [
        DeviceRule(allow: true, kind: .char, access: .mknod),
        DeviceRule(allow: true, kind: .block, access: .mknod),
        DeviceRule(allow: true, kind: .char, major: 1, minor: 3),  // null
        DeviceRule(allow: true, kind: .char, major: 1, minor: 8),  // random
        DeviceRule(allow: true, kind: .char, major: 1, minor: 7),  // full
        DeviceRule(allow: true, kind: .char, major: 5, minor: 0),  // tty
        DeviceRule(allow: true, kind: .char, major: 1, minor: 5),  // zero
        DeviceRule(allow: true, kind: .char, major: 1, minor: 9),  // urandom
        DeviceRule(allow: true, kind: .char, major: 5, minor: 1),  // console
        DeviceRule(allow: true, kind: .char, major: 136),  // pts/*
        DeviceRule(allow: true, kind: .char, major: 5, minor: 2),  // ptmx
    ]

    /// The rules of a container, in the order they apply: linux.resources.devices, then the
    /// defaults (runc's order). Before them all, everything is denied. linux.devices adds no
    /// rule: it makes nodes, and which of them may be opened is linux.resources.devices' say
    /// alone (as in runc), so a node listed there stays closed under a deny rule.
    public static func container(resources: [LinuxDeviceCgroup]?) throws(CgroupError) -> [DeviceRule] {
        var rules: [DeviceRule] = []
        for (i, rule) in (resources ?? []).enumerated() {
            let field = "linux.resources.devices[\(i)]"
            let kind: Kind
            switch rule.type ?? "a" {
            case "a", "": kind = .all
            case "c": kind = .char
            case "b": kind = .block
            case let other: throw CgroupError("\(field).type: unknown device type \"\(other)\"")
            }
            guard let access = DeviceAccess(rule.access ?? "rwm") else {
                throw CgroupError("\(field).access: invalid access \"\(rule.access ?? "")\", must be made of r, w and m")
            }
            // A negative number is Go's "unset" in some callers: any.
            rules.append(DeviceRule(allow: rule.allow, kind: kind, major: rule.major.flatMap { $0 < 0 ? nil : $0 },
                                    minor: rule.minor.flatMap { $0 < 0 ? nil : $0 }, access: access.isEmpty ? .all : access))
        }
        rules += defaults
        return rules
    }
}

/// The device cgroup's rule set as cgroup v1 keeps it: a default (allow or deny every device)
/// and exceptions to it. Applying rules in order to this emulator gives the state v1 would
/// reach, which the v2 eBPF program then encodes (runc's devices emulator): so one list of
/// rules means the same on both versions.
public struct DeviceRuleSet: Sendable, Equatable {
    struct Key: Hashable, Comparable {
        let kind: DeviceRule.Kind
        let major: Int64?
        let minor: Int64?

        static func < (a: Key, b: Key) -> Bool {
            (a.kind.rawValue, a.major ?? -1, a.minor ?? -1) < (b.kind.rawValue, b.major ?? -1, b.minor ?? -1)
        }
    }

    /// What happens to a device no exception names.
    public private(set) var defaultAllow: Bool
    private var exceptions: [Key: DeviceAccess] = [:]

    /// Starts denying everything, as runc's containers do before their rules.
    public init(defaultAllow: Bool = false) {
        self.defaultAllow = defaultAllow
    }

    public init(rules: [DeviceRule]) throws(CgroupError) {
        self.init()
        for rule in rules { try apply(rule) }
    }

    public mutating func apply(_ rule: DeviceRule) throws(CgroupError) {
        if rule.kind == .all {
            // "a" resets: everything allowed or denied, no exceptions (whatever the access).
            defaultAllow = rule.allow
            exceptions = [:]
            return
        }
        let key = Key(kind: rule.kind, major: rule.major, minor: rule.minor)
        if rule.allow == defaultAllow {
            try remove(key, rule.access, rule: rule)
        } else {
            exceptions[key, default: []].formUnion(rule.access)
        }
    }

    /// Takes `access` away from an exact exception. v1 silently ignores a rule that would punch
    /// a hole in a wider exception (`c 1:3` out of `c 1:*`); that leaves more allowed than the
    /// config says, so it is an error here.
    private mutating func remove(_ key: Key, _ access: DeviceAccess, rule: DeviceRule) throws(CgroupError) {
        let wider = [Key(kind: key.kind, major: nil, minor: key.minor), Key(kind: key.kind, major: key.major, minor: nil),
                     Key(kind: key.kind, major: nil, minor: nil)]
        for other in wider where other != key {
            if let existing = exceptions[other], !existing.isDisjoint(with: access) {
                let wide = DeviceRule(allow: !defaultAllow, kind: other.kind, major: other.major, minor: other.minor, access: existing)
                throw CgroupError("linux.resources.devices: rule \"\(rule)\" (\(rule.allow ? "allow" : "deny")) cannot punch a hole in the wider rule \"\(wide)\"")
            }
        }
        guard var existing = exceptions[key] else { return }
        existing.subtract(access)
        exceptions[key] = existing.isEmpty ? nil : existing
    }

    /// The exceptions, sorted; each has the opposite action of the default.
    public var rules: [DeviceRule] {
        exceptions.keys.sorted().map {
            DeviceRule(allow: !defaultAllow, kind: $0.kind, major: $0.major, minor: $0.minor, access: exceptions[$0]!)
        }
    }

    /// Whether `access` to a device is allowed: what the kernel's v1 check decides.
    public func allows(_ kind: DeviceRule.Kind, major: Int64, minor: Int64, _ access: DeviceAccess) -> Bool {
        for rule in rules where rule.kind == kind && (rule.major ?? major) == major && (rule.minor ?? minor) == minor
            && rule.access.isSuperset(of: access) {
            return rule.allow
        }
        return defaultAllow
    }
}

extension CgroupManager {
    /// Limits the devices the container may use: on v1 `a` to devices.deny, then each rule to
    /// devices.allow or devices.deny in order; on cgroup2 an eBPF program encoding the same
    /// rules, attached to the container's cgroup (replacing one attached before). A host
    /// without either is an error unless the rules allow everything.
    public func applyDevices(_ rules: [DeviceRule]) throws(CgroupError) {
        let set = try DeviceRuleSet(rules: rules)
        guard let dir = controlDirectory(for: "devices") else {
            if set.defaultAllow && set.rules.isEmpty { return }
            throw CgroupError.missing("linux.resources.devices", file: "devices.allow",
                                      reason: "no devices controller on this host")
        }
        switch dir.version {
        case .v1:
            try dir.write("devices.deny", "a", field: "linux.resources.devices")
            for rule in rules {
                try dir.write(rule.allow ? "devices.allow" : "devices.deny", rule.description,
                              field: "linux.resources.devices")
            }
        case .v2:
            let program = DeviceFilter.program(for: set)
            do {
                try BPF.attachDeviceFilter(program, to: dir.path)
            } catch {
                throw error.cause.map { CgroupError("linux.resources.devices: \(error)", cause: $0) }
                    ?? CgroupError("linux.resources.devices: \(error)", errno: error.errno)
            }
        }
    }
}
