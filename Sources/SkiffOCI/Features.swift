#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What the runtime implements (features.md), printed by `skiff features`.
///
/// Every list is "what is recognized", and nil means unknown rather than none, so all fields
/// are optional and lists are strings even where config.json has a closed set: reading another
/// runtime's features.json must not fail on a namespace skiff has not heard of.
public struct Features: OCIDocument, Equatable {
    public static let documentName = "features.json"

    public var ociVersionMin: String?
    public var ociVersionMax: String?
    public var hooks: [String]?
    public var mountOptions: [String]?
    public var linux: Linux?
    public var annotations: [String: String]?
    /// Annotations that may change behaviour in unsafe ways; a trailing "." marks a prefix.
    public var potentiallyUnsafeConfigAnnotations: [String]?

    public init(
        ociVersionMin: String? = nil,
        ociVersionMax: String? = nil,
        hooks: [String]? = nil,
        mountOptions: [String]? = nil,
        linux: Linux? = nil,
        annotations: [String: String]? = nil,
        potentiallyUnsafeConfigAnnotations: [String]? = nil
    ) {
        self.ociVersionMin = ociVersionMin
        self.ociVersionMax = ociVersionMax
        self.hooks = hooks
        self.mountOptions = mountOptions
        self.linux = linux
        self.annotations = annotations
        self.potentiallyUnsafeConfigAnnotations = potentiallyUnsafeConfigAnnotations
    }

    /// features-linux.md.
    public struct Linux: Codable, Sendable, Equatable {
        public var namespaces: [String]?
        public var capabilities: [String]?
        public var cgroup: Cgroup?
        public var seccomp: Seccomp?
        public var apparmor: Apparmor?
        public var selinux: Selinux?
        public var intelRdt: IntelRdt?
        public var mountExtensions: MountExtensions?
        public var netDevices: NetDevices?
        public var memoryPolicy: MemoryPolicy?

        public init(
            namespaces: [String]? = nil,
            capabilities: [String]? = nil,
            cgroup: Cgroup? = nil,
            seccomp: Seccomp? = nil,
            apparmor: Apparmor? = nil,
            selinux: Selinux? = nil,
            intelRdt: IntelRdt? = nil,
            mountExtensions: MountExtensions? = nil,
            netDevices: NetDevices? = nil,
            memoryPolicy: MemoryPolicy? = nil
        ) {
            self.namespaces = namespaces
            self.capabilities = capabilities
            self.cgroup = cgroup
            self.seccomp = seccomp
            self.apparmor = apparmor
            self.selinux = selinux
            self.intelRdt = intelRdt
            self.mountExtensions = mountExtensions
            self.netDevices = netDevices
            self.memoryPolicy = memoryPolicy
        }
    }

    /// Which cgroup drivers are compiled in, regardless of what the host uses.
    public struct Cgroup: Codable, Sendable, Equatable {
        public var v1: Bool?
        public var v2: Bool?
        public var systemd: Bool?
        public var systemdUser: Bool?
        public var rdma: Bool?

        public init(v1: Bool? = nil, v2: Bool? = nil, systemd: Bool? = nil, systemdUser: Bool? = nil, rdma: Bool? = nil) {
            self.v1 = v1
            self.v2 = v2
            self.systemd = systemd
            self.systemdUser = systemdUser
            self.rdma = rdma
        }
    }

    public struct Seccomp: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public var actions: [String]?
        public var operators: [String]?
        public var archs: [String]?
        public var knownFlags: [String]?
        /// The subset of knownFlags this kernel and libseccomp support.
        public var supportedFlags: [String]?

        public init(
            enabled: Bool? = nil, actions: [String]? = nil, operators: [String]? = nil, archs: [String]? = nil,
            knownFlags: [String]? = nil, supportedFlags: [String]? = nil
        ) {
            self.enabled = enabled
            self.actions = actions
            self.operators = operators
            self.archs = archs
            self.knownFlags = knownFlags
            self.supportedFlags = supportedFlags
        }
    }

    public struct Apparmor: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public init(enabled: Bool? = nil) { self.enabled = enabled }
    }

    public struct Selinux: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public init(enabled: Bool? = nil) { self.enabled = enabled }
    }

    public struct IntelRdt: Codable, Sendable, Equatable {
        public var enabled: Bool?
        /// Whether `linux.intelRdt.schemata` is implemented.
        public var schemata: Bool?

        public init(enabled: Bool? = nil, schemata: Bool? = nil) {
            self.enabled = enabled
            self.schemata = schemata
        }
    }

    public struct MountExtensions: Codable, Sendable, Equatable {
        public var idmap: IDMap?
        public init(idmap: IDMap? = nil) { self.idmap = idmap }
    }

    /// Idmapped mounts (`mounts[].uidMappings`).
    public struct IDMap: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public init(enabled: Bool? = nil) { self.enabled = enabled }
    }

    public struct NetDevices: Codable, Sendable, Equatable {
        public var enabled: Bool?
        public init(enabled: Bool? = nil) { self.enabled = enabled }
    }

    public struct MemoryPolicy: Codable, Sendable, Equatable {
        public var modes: [String]?
        public var flags: [String]?

        public init(modes: [String]? = nil, flags: [String]? = nil) {
            self.modes = modes
            self.flags = flags
        }
    }
}
