#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SkiffOCI

/// What skiff keeps about a container in `<root>/<id>/state.json`. The OCI state is derived
/// from it; the rest is what later commands need without re-reading the bundle.
public struct ContainerRecord: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    /// The container's init (stage 2), 0 while creating.
    public var pid: Int32
    /// Its start time in clock ticks (field 22 of /proc/PID/stat): a reused pid never matches.
    public var pidStartTime: UInt64
    public var bundle: String
    public var rootfs: String
    public var created: String
    public var owner: String
    public var annotations: [String: String]?
    /// The container's cgroup directory in every hierarchy.
    public var cgroupPaths: [String]
    /// The cgroup path relative to each hierarchy root, as given in linux.cgroupsPath.
    public var cgroupsPath: String
    public var cgroupRelative: Bool
    /// The namespaces of the container ("user", "mnt"…): exec joins each through /proc/PID/ns.
    public var namespaces: [String]
    /// config.json's process: the defaults of `exec`.
    public var process: Process?
    /// config.json's hooks: poststart runs at start, poststop at delete.
    public var hooks: Hooks? = nil
    /// linux.netDevices moved into the container (host name → name inside): delete moves
    /// them back to the host's network namespace while the container's still exists.
    public var netDevices: [String: String]? = nil
    /// Under --systemd-cgroup, the container's transient unit ("skiff-web.scope"): delete stops
    /// it, update sets its properties. Absent in records written without it (and before it).
    public var systemdUnit: String? = nil
    /// Whether the unit belongs to the user's manager (rootless) rather than the system's.
    public var systemdUserBus: Bool? = nil
}
