#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// config-linux.md: the `linux` object.

/// Linux-specific configuration.
public struct Linux: Codable, Sendable, Equatable {
    public var uidMappings: [LinuxIDMapping]?
    public var gidMappings: [LinuxIDMapping]?
    public var sysctl: [String: String]?
    public var resources: LinuxResources?
    public var cgroupsPath: String?
    public var namespaces: [LinuxNamespace]?
    public var devices: [LinuxDevice]?
    public var seccomp: LinuxSeccomp?
    /// `private`, `rprivate`, `slave`, `rslave`, `shared`, `rshared`, `unbindable` or
    /// `runbindable`.
    public var rootfsPropagation: String?
    public var maskedPaths: [String]?
    public var readonlyPaths: [String]?
    public var mountLabel: String?
    public var intelRdt: LinuxIntelRdt?
    public var personality: LinuxPersonality?
    /// Clock offsets for a new time namespace, keyed `monotonic` or `boottime`.
    public var timeOffsets: [String: LinuxTimeOffset]?
    public var memoryPolicy: LinuxMemoryPolicy?
    /// Host network devices moved into the container's network namespace, keyed by host name.
    public var netDevices: [String: LinuxNetDevice]?

    public init(
        uidMappings: [LinuxIDMapping]? = nil,
        gidMappings: [LinuxIDMapping]? = nil,
        sysctl: [String: String]? = nil,
        resources: LinuxResources? = nil,
        cgroupsPath: String? = nil,
        namespaces: [LinuxNamespace]? = nil,
        devices: [LinuxDevice]? = nil,
        seccomp: LinuxSeccomp? = nil,
        rootfsPropagation: String? = nil,
        maskedPaths: [String]? = nil,
        readonlyPaths: [String]? = nil,
        mountLabel: String? = nil,
        intelRdt: LinuxIntelRdt? = nil,
        personality: LinuxPersonality? = nil,
        timeOffsets: [String: LinuxTimeOffset]? = nil,
        memoryPolicy: LinuxMemoryPolicy? = nil,
        netDevices: [String: LinuxNetDevice]? = nil
    ) {
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
        self.sysctl = sysctl
        self.resources = resources
        self.cgroupsPath = cgroupsPath
        self.namespaces = namespaces
        self.devices = devices
        self.seccomp = seccomp
        self.rootfsPropagation = rootfsPropagation
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.mountLabel = mountLabel
        self.intelRdt = intelRdt
        self.personality = personality
        self.timeOffsets = timeOffsets
        self.memoryPolicy = memoryPolicy
        self.netDevices = netDevices
    }

    /// The entry for a namespace type, if the container creates or joins one.
    public func namespace(_ type: LinuxNamespaceType) -> LinuxNamespace? {
        namespaces?.first { $0.type == type }
    }
}

/// A namespace the container creates (no `path`) or joins (`path` to an nsfs file).
public struct LinuxNamespace: Codable, Sendable, Equatable {
    public var type: LinuxNamespaceType
    public var path: String?

    public init(type: LinuxNamespaceType, path: String? = nil) {
        self.type = type
        self.path = path
    }
}

/// A namespace kind; the raw value is the spec's name, not the /proc/PID/ns file name.
public enum LinuxNamespaceType: String, Codable, Sendable, CaseIterable, StrictStringEnum {
    case pid
    case network
    case mount
    case ipc
    case uts
    case user
    case cgroup
    case time

    static let valueDescription = "namespace type"
}

/// A uid or gid range: `size` ids from `hostID` appear as `containerID` onwards.
public struct LinuxIDMapping: Codable, Sendable, Equatable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32

    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }

    /// `mappings` as /proc/PID/uid_map (or gid_map) takes them: one "containerID hostID size"
    /// line each. Appended one by one, numbers through String(_:): `[String].joined()` is
    /// generic over the sequence, and the Swift runtime resolved its associated types by
    /// mangled name, scanning every conformance record of the binary (~100 K instructions a
    /// map, in every create with a user namespace).
    public static func mapFileText(_ mappings: [LinuxIDMapping]) -> String {
        var text = ""
        for mapping in mappings {
            text += String(mapping.containerID) + " " + String(mapping.hostID) + " " + String(mapping.size) + "\n"
        }
        return text
    }
}

/// A clock offset for the time namespace.
public struct LinuxTimeOffset: Codable, Sendable, Equatable {
    public var secs: Int64?
    public var nanosecs: UInt32?

    public init(secs: Int64? = nil, nanosecs: UInt32? = nil) {
        self.secs = secs
        self.nanosecs = nanosecs
    }
}

/// A device node to create in the container.
public struct LinuxDevice: Codable, Sendable, Equatable {
    public var path: String
    /// `c`, `b`, `u` or `p`.
    public var type: String
    public var major: Int64
    public var minor: Int64
    public var fileMode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?

    public init(
        path: String, type: String, major: Int64 = 0, minor: Int64 = 0, fileMode: UInt32? = nil,
        uid: UInt32? = nil, gid: UInt32? = nil
    ) {
        self.path = path
        self.type = type
        self.major = major
        self.minor = minor
        self.fileMode = fileMode
        self.uid = uid
        self.gid = gid
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        type = try c.decode(String.self, forKey: .type)
        // A FIFO has no device number; the spec requires major and minor for every other type.
        if type == "p" {
            major = try c.decodeIfPresent(Int64.self, forKey: .major) ?? 0
            minor = try c.decodeIfPresent(Int64.self, forKey: .minor) ?? 0
        } else {
            major = try c.decode(Int64.self, forKey: .major)
            minor = try c.decode(Int64.self, forKey: .minor)
        }
        fileMode = try c.decodeIfPresent(UInt32.self, forKey: .fileMode)
        uid = try c.decodeIfPresent(UInt32.self, forKey: .uid)
        gid = try c.decodeIfPresent(UInt32.self, forKey: .gid)
    }
}

/// personality(2) settings.
public struct LinuxPersonality: Codable, Sendable, Equatable {
    /// `LINUX` or `LINUX32`.
    public var domain: String
    /// None are defined yet.
    public var flags: [String]?

    public init(domain: String, flags: [String]? = nil) {
        self.domain = domain
        self.flags = flags
    }
}

/// Intel RDT (resctrl) class of service and schemata.
public struct LinuxIntelRdt: Codable, Sendable, Equatable {
    public var closID: String?
    public var l3CacheSchema: String?
    public var memBwSchema: String?
    /// Written to the `schemata` file as is, after l3CacheSchema and memBwSchema.
    public var schemata: String?
    public var enableCMT: Bool?
    public var enableMBM: Bool?

    public init(
        closID: String? = nil, l3CacheSchema: String? = nil, memBwSchema: String? = nil,
        schemata: String? = nil, enableCMT: Bool? = nil, enableMBM: Bool? = nil
    ) {
        self.closID = closID
        self.l3CacheSchema = l3CacheSchema
        self.memBwSchema = memBwSchema
        self.schemata = schemata
        self.enableCMT = enableCMT
        self.enableMBM = enableMBM
    }
}

/// set_mempolicy(2) for the container process.
public struct LinuxMemoryPolicy: Codable, Sendable, Equatable {
    /// `MPOL_DEFAULT`, `MPOL_BIND`, `MPOL_INTERLEAVE`, `MPOL_WEIGHTED_INTERLEAVE`,
    /// `MPOL_PREFERRED`, `MPOL_PREFERRED_MANY` or `MPOL_LOCAL`.
    public var mode: String
    /// NUMA nodes as a list such as `0-3,7`; empty for `MPOL_DEFAULT` and `MPOL_LOCAL`.
    public var nodes: String?
    /// `MPOL_F_NUMA_BALANCING`, `MPOL_F_RELATIVE_NODES`, `MPOL_F_STATIC_NODES`.
    public var flags: [String]?

    public init(mode: String, nodes: String? = nil, flags: [String]? = nil) {
        self.mode = mode
        self.nodes = nodes
        self.flags = flags
    }
}

/// A host network device to move into the container; `name` renames it there.
public struct LinuxNetDevice: Codable, Sendable, Equatable {
    public var name: String?

    public init(name: String? = nil) {
        self.name = name
    }
}
