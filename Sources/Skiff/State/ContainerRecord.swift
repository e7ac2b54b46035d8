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

// state.json by hand, not through Codable: every command but `run` and `create` starts by
// reading it, and Codable's first use in the process (its generic containers, metadata and
// witness tables) cost each ~0.2 M instructions before it did anything (docs/benchmarks.md).
// The same form Codable writes — members in declaration order, unset optionals left out,
// maps' keys sorted — which ContainerRecordTests checks against the synthesized conformance,
// so the public Codable and state.json cannot drift apart. The spec's process and hooks
// inside use their own hand mappings (SkiffOCI's SpecWriting.swift, SpecReading.swift).
extension ContainerRecord {
    /// The record as state.json's tree.
    package func json() -> JSONValue {
        func map(_ map: [String: String]) -> JSONValue {
            .object(map.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        }
        var members: [(key: String, value: JSONValue)] = [
            ("ociVersion", .string(ociVersion)),
            ("id", .string(id)),
            ("pid", .number(String(pid))),
            ("pidStartTime", .number(String(pidStartTime))),
            ("bundle", .string(bundle)),
            ("rootfs", .string(rootfs)),
            ("created", .string(created)),
            ("owner", .string(owner)),
        ]
        if let annotations { members.append(("annotations", map(annotations))) }
        members.append(("cgroupPaths", .array(cgroupPaths.map(JSONValue.string))))
        members.append(("cgroupsPath", .string(cgroupsPath)))
        members.append(("cgroupRelative", .bool(cgroupRelative)))
        members.append(("namespaces", .array(namespaces.map(JSONValue.string))))
        if let process { members.append(("process", process.jsonTree)) }
        if let hooks { members.append(("hooks", hooks.jsonTree)) }
        if let netDevices { members.append(("netDevices", map(netDevices))) }
        if let systemdUnit { members.append(("systemdUnit", .string(systemdUnit))) }
        if let systemdUserBus { members.append(("systemdUserBus", .bool(systemdUserBus))) }
        return .object(members)
    }

    /// A record read from state.json's tree; `includingProcess: false` leaves `process` nil
    /// without decoding it.
    package init(reading record: JSONObjectReader, includingProcess: Bool = true) throws(SpecError) {
        self.init(
            ociVersion: try record.required("ociVersion"), id: try record.required("id"), pid: try record.required("pid"),
            pidStartTime: try record.required("pidStartTime"), bundle: try record.required("bundle"),
            rootfs: try record.required("rootfs"), created: try record.required("created"), owner: try record.required("owner"),
            annotations: try record.optionalMap("annotations"), cgroupPaths: try record.array("cgroupPaths"),
            cgroupsPath: try record.required("cgroupsPath"), cgroupRelative: try record.required("cgroupRelative"),
            namespaces: try record.array("namespaces"),
            process: includingProcess ? try record.optional("process", as: Process.self) : nil,
            hooks: try record.optional("hooks", as: Hooks.self), netDevices: try record.optionalMap("netDevices"),
            systemdUnit: try record.optional("systemdUnit"), systemdUserBus: try record.optional("systemdUserBus"))
    }
}
