#if canImport(Glibc)
import Glibc
#endif
import SkiffCgroups
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI
import Synchronization

/// The state root (`/run/skiff` by default): one directory per container holding state.json,
/// exec.fifo and the lock. Commands on one container are serialized by flock on its directory.
public struct StateStore: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// state.json holds part of config.json (process, hooks, annotations), so it may be as
    /// large as the largest config create accepts.
    static let stateSizeLimit = 128 << 20

    public func directory(_ id: String) -> String { root + "/" + id }
    public func statePath(_ id: String) -> String { directory(id) + "/state.json" }
    public func fifoPath(_ id: String) -> String { directory(id) + "/exec.fifo" }

    /// Creates the container's directory, failing when the id is taken.
    public func reserve(_ id: String) throws -> ContainerLock {
        // What to do about a root we may not write, on the same line as the error.
        let advice = " (the state root must be writable: pass --root DIR, or set XDG_RUNTIME_DIR)"
        do throws(LinuxError) {
            try Files.mkdirAll(root, mode: 0o711)
        } catch {
            let denied = [EACCES, EPERM, EROFS].contains(error.errno.rawValue)
            throw SkiffError(.system, "create state root: \(error)" + (denied ? advice : ""))
        }
        if case .failure(let error) = Result(catching: { () throws(LinuxError) in try Files.mkdir(directory(id), mode: 0o711) }) {
            if error.code == EEXIST { throw SkiffError(.exists, "container with id exists: \(id)") }
            let denied = [EACCES, EPERM, EROFS].contains(error.code)
            throw SkiffError(.system, "\(error)" + (denied ? advice : ""))
        }
        return try ContainerLock(directory: directory(id))
    }

    /// Locks an existing container's directory.
    public func lock(_ id: String) throws -> ContainerLock {
        try ContainerID.validate(id)
        if !Files.exists(directory(id)) { throw SkiffError(.notFound, "container does not exist: \(id)") }
        return try ContainerLock(directory: directory(id))
    }

    /// The record of container `id`. `includingProcess: false` does not decode `process`
    /// (nil then, unless a record with it is at hand: one this process saved or decoded): it
    /// is config.json's process, which only `exec` uses (as its defaults), and decoding it was
    /// ~255 K instructions, a sixth of a `skiff state` and of every record `list` reads. A
    /// record loaded without it must not be saved.
    public func load(_ id: String, includingProcess: Bool = true) throws -> ContainerRecord {
        let key = statePath(id)
        // One read, no existence check before it: a missing file is the read's ENOENT.
        let read = Result { () throws(LinuxError) in try Files.read(key, limit: Self.stateSizeLimit) }
        if case .failure(let error) = read, error.errno == .noSuchFileOrDirectory {
            throw SkiffError(.notFound, "container does not exist: \(id)")
        }
        let bytes = try read.get()
        // A record decoded with its process serves both kinds of load; one without, only its own.
        if let record = Self.lastDecoded.withLock({ last in
            last.flatMap { $0.path == key && $0.bytes == bytes && !(includingProcess && $0.omittedProcess) ? $0.record : nil }
        }) {
            return record
        }
        do {
            let record = try Self.decodeRecord(bytes, id: id, includingProcess: includingProcess)
            Self.lastDecoded.withLock { $0 = (key, bytes, record, !includingProcess) }
            return record
        } catch {
            throw SkiffError(.system, "read state \"\(key)\": \(error)")
        }
    }

    /// The last state.json this process decoded, with its bytes: a command reads a container's
    /// state more than once (`exec` for the process's defaults and again under the lock, `run`
    /// in start and in delete), and decoding costs ~0.6 M instructions where reading the file
    /// and comparing its bytes costs a few µs. The same bytes decode to the same record, and
    /// the bytes `save` wrote are its record's (a round trip: every field is a string, a
    /// boolean or an integer); a file that changed in between is decoded again.
    private static let lastDecoded = Mutex<(path: String, bytes: [UInt8], record: ContainerRecord, omittedProcess: Bool)?>(nil)

    /// state.json's bytes as the record of container `id` (what `load` reads; fuzzed by
    /// Tests/Fuzz).
    public static func decodeRecord(_ bytes: [UInt8], id: String, includingProcess: Bool = true) throws -> ContainerRecord {
        let record = try ContainerRecord(reading: JSONObjectReader(SkiffJSON.parse(bytes, document: "state.json"),
                                                                   document: "state.json"),
                                         includingProcess: includingProcess)
        // The directory is the container's name; a record naming another (edited, or copied
        // from elsewhere) must not be acted on as if it were this one.
        guard record.id == id else {
            throw SkiffError(.system, "names container \(record.id.debugDescription), not \(id.debugDescription)")
        }
        return record
    }

    /// What `delete --force` can still use from a state.json that does not decode as a
    /// record: the fields that parse with the right type, nil for the rest.
    public struct Salvaged: Sendable, Equatable {
        public var pid: Int32?
        public var pidStartTime: UInt64?
        public var cgroupsPath: String?
        public var cgroupRelative = false
        /// The container's scope under --systemd-cgroup (SystemdScope.isScope).
        public var systemdUnit: String?
        public var systemdUserBus = false
    }

    public func salvage(_ id: String) -> Salvaged {
        struct Partial: Decodable {
            var pid: Int32?
            var pidStartTime: UInt64?
            var cgroupsPath: String?
            var cgroupRelative: Bool?
            var systemdUnit: String?
            var systemdUserBus: Bool?
            init(from decoder: any Decoder) throws {
                enum Key: String, CodingKey { case pid, pidStartTime, cgroupsPath, cgroupRelative, systemdUnit, systemdUserBus }
                let container = try decoder.container(keyedBy: Key.self)
                pid = try? container.decodeIfPresent(Int32.self, forKey: .pid)
                pidStartTime = try? container.decodeIfPresent(UInt64.self, forKey: .pidStartTime)
                cgroupsPath = try? container.decodeIfPresent(String.self, forKey: .cgroupsPath)
                cgroupRelative = try? container.decodeIfPresent(Bool.self, forKey: .cgroupRelative)
                systemdUnit = try? container.decodeIfPresent(String.self, forKey: .systemdUnit)
                systemdUserBus = try? container.decodeIfPresent(Bool.self, forKey: .systemdUserBus)
            }
        }
        guard let bytes = try? Files.read(statePath(id), limit: Self.stateSizeLimit),
              let partial = try? SkiffJSON.decode(Partial.self, from: bytes, document: "state.json") else {
            return Salvaged()
        }
        // The cgroup is emptied with SIGKILL and removed: from a record that may have been
        // tampered with, only a path whose last component names this container is trusted
        // (podman's libpod-<id>.scope, containerd's /k8s.io/<id>), never "/" or "..". The same
        // for the unit, which is stopped: a scope whose name holds the id.
        let path = partial.cgroupsPath.flatMap { path -> String? in
            let components = path.split(separator: "/")
            guard !components.contains(".."), let last = components.last, last.contains(id) else { return nil }
            return path
        }
        return Salvaged(pid: partial.pid.flatMap { $0 > 0 ? $0 : nil }, pidStartTime: partial.pidStartTime, cgroupsPath: path,
                        cgroupRelative: partial.cgroupRelative ?? false,
                        systemdUnit: partial.systemdUnit.flatMap { SystemdScope.isScope($0, of: id) ? $0 : nil },
                        systemdUserBus: partial.systemdUserBus ?? false)
    }

    /// Whether a command holds the container's lock now (a create still in progress).
    public func isLocked(_ id: String) -> Bool {
        guard let fd = try? Files.open(directory(id), flags: O_RDONLY | O_DIRECTORY) else { return false }
        if case .failure(let error) = Result(catching: { () throws(LinuxError) in try fd.lock(exclusive: false, wait: false) }) {
            return error.code == EWOULDBLOCK
        }
        return false
    }

    public func save(_ record: ContainerRecord) throws {
        let path = statePath(record.id)
        let bytes = SkiffJSON.write(record.json())
        try Files.writeAtomically(path, bytes)
        // The next load of these same bytes is this record: `run` loads what its create has
        // just saved, in start and in delete, and decoding it cost ~0.28 M instructions,
        // start's on the way to the container's process.
        Self.lastDecoded.withLock { $0 = (path, bytes, record, false) }
    }

    public func remove(_ id: String) throws {
        // state.json first: after a delete it is usually all the directory holds, and the
        // rmdir then succeeds without the directory being read (five system calls fewer).
        // A removal cut short here leaves a directory without state.json, which delete takes
        // for a create that died and removes.
        try? Files.unlink(statePath(id))
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
        try fd.lock(exclusive: true, display: directory)
    }
}
