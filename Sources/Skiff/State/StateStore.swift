#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

/// The state root (`/run/skiff` by default): one directory per container holding state.json,
/// exec.fifo and the lock. Commands on one container are serialized by flock on its directory.
public struct StateStore: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func directory(_ id: String) -> String { root + "/" + id }
    public func statePath(_ id: String) -> String { directory(id) + "/state.json" }
    public func fifoPath(_ id: String) -> String { directory(id) + "/exec.fifo" }

    /// Creates the container's directory, failing when the id is taken.
    public func reserve(_ id: String) throws -> ContainerLock {
        do {
            try Files.mkdirAll(root, mode: 0o711)
        } catch {
            throw SkiffError(.system, "create state root: \(error)")
        }
        let (_, err) = sysCallErrno { mkdir(directory(id), 0o711) }
        if err == EEXIST { throw SkiffError(.exists, "container with id exists: \(id)") }
        if err != 0 { throw SkiffError(.system, "\(LinuxError("mkdir", path: directory(id), errno: err))") }
        return try ContainerLock(directory: directory(id))
    }

    /// Locks an existing container's directory.
    public func lock(_ id: String) throws -> ContainerLock {
        try ContainerID.validate(id)
        if !Files.exists(directory(id)) { throw SkiffError(.notFound, "container does not exist: \(id)") }
        return try ContainerLock(directory: directory(id))
    }

    public func load(_ id: String) throws -> ContainerRecord {
        if !Files.exists(statePath(id)) { throw SkiffError(.notFound, "container does not exist: \(id)") }
        let bytes = try Files.read(statePath(id))
        do {
            return try SkiffJSON.decode(ContainerRecord.self, from: bytes, document: "state.json")
        } catch {
            throw SkiffError(.system, "read state \"\(statePath(id))\": \(error)")
        }
    }

    public func save(_ record: ContainerRecord) throws {
        try Files.writeAtomically(statePath(record.id), try SkiffJSON.encode(record))
    }

    public func remove(_ id: String) throws {
        try Files.removeTree(directory(id))
    }

    /// Ids of every container with a directory under the root.
    public func ids() -> [String] {
        ((try? Files.listDirectory(root)) ?? []).filter { (try? ContainerID.validate($0)) != nil }.sorted()
    }
}

/// An exclusive flock on a container's state directory, held for one command.
public final class ContainerLock: @unchecked Sendable {
    let fd: OwnedFD

    init(directory: String) throws(LinuxError) {
        fd = try Files.open(directory, flags: O_RDONLY | O_DIRECTORY)
        _ = try sysCall("flock", path: directory) { flock(fd.raw, LOCK_EX) }
    }
}
