#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The container state (runtime.md#state): what `skiff state` prints and hooks read on stdin.
///
/// Fields are declared in the order runc prints them (ociVersion, id, pid, status, bundle), so
/// tools that compare output text line up.
public struct State: OCIDocument, Equatable {
    public static let documentName = "state.json"

    public var ociVersion: String
    public var id: String
    /// Omitted once the container has stopped, as Go's `omitempty` omits 0.
    public var pid: Int32?
    public var status: ContainerStatus
    /// The absolute path of the bundle directory.
    public var bundle: String
    public var annotations: [String: String]?

    public init(
        ociVersion: String = OCIVersion.current,
        id: String,
        status: ContainerStatus,
        pid: Int32? = nil,
        bundle: String,
        annotations: [String: String]? = nil
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.pid = pid
        self.status = status
        self.bundle = bundle
        self.annotations = annotations
    }
}

/// A container's lifecycle status. `paused` is not in the spec but runc and crun report it for
/// a frozen cgroup, and tools expect it.
public enum ContainerStatus: String, Codable, Sendable, CaseIterable, StrictStringEnum {
    case creating
    case created
    case running
    case stopped
    case paused

    static let valueDescription = "container status"
}
