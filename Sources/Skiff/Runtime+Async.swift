import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// How a container's process ended: its exit code, or the signal that killed it
/// (`shellCode` is what a shell reports, 128 + the signal).
public typealias ExitStatus = Processes.Exit

/// The embedding API's async face. Each call runs its blocking counterpart on a Dispatch
/// worker, so a caller's task waits without holding a thread of Swift's cooperative pool:
/// create and delete take milliseconds, `wait` as long as the container runs. Errors are
/// typed: every failure is a `SkiffError`, its `kind` what to branch on.
extension Runtime {
    @discardableResult
    public func create(id: String, bundle: String, options: CreateOptions = CreateOptions()) async throws(SkiffError) -> State {
        try await offload { try create(id: id, bundle: bundle, options: options) }
    }

    public func start(id: String) async throws(SkiffError) {
        try await offload { try start(id: id) }
    }

    public func state(id: String) async throws(SkiffError) -> State {
        try await offload { try state(id: id) }
    }

    public func kill(id: String, signal: Int32, all: Bool = false) async throws(SkiffError) {
        try await offload { try kill(id: id, signal: signal, all: all) }
    }

    public func delete(id: String, force: Bool = false) async throws(SkiffError) {
        try await offload { try delete(id: id, force: force) }
    }

    /// Runs a process in the container; a detached one returns 0 once it started, otherwise
    /// its exit code (128 + n when killed by signal n), as `skiff exec`.
    public func exec(id: String, options: ExecOptions) async throws(SkiffError) -> Int32 {
        try await offload { try exec(id: id, options: options) }
    }

    /// Waits until the container's process exits and returns how it ended.
    ///
    /// The process must be a child of this process: the init of a container this process
    /// created (its stages are cloned with `CLONE_PARENT`, so it is your child, as a forked
    /// process is). Only a parent can read an exit status; for any other container this
    /// throws `.invalidState` at once rather than wait for an answer it cannot give. Reaping
    /// the process is part of waiting: after `wait`, `state` says `stopped` and `delete`
    /// removes the container.
    public func wait(id: String) async throws(SkiffError) -> ExitStatus {
        try await offload { try waitForExit(id: id) }
    }

    func waitForExit(id: String) throws -> ExitStatus {
        try ContainerID.validate(id)
        let record = try store.load(id, includingProcess: false)
        guard record.pid > 0 else {
            throw SkiffError(.invalidState, "wait: container \(id) has no process")
        }
        // The pidfd pins the pid: while our unreaped child, it cannot be recycled, so the
        // start time read after it is that of the process we will reap.
        let pidfd: OwnedFD
        do {
            pidfd = try Processes.pidfd(record.pid)
        } catch {
            throw SkiffError(.invalidState, "wait: container \(id): its process \(record.pid) is gone and was not a child of this process")
        }
        defer { pidfd.close() }
        guard Procfs.status(of: record.pid)?.startTime == record.pidStartTime else {
            throw SkiffError(.invalidState, "wait: container \(id): its process \(record.pid) is gone and was not a child of this process")
        }
        // (Result, not `catch where`: the compiler crashes on the latter with typed throws.)
        switch Result(catching: { () throws(LinuxError) in try Processes.tryWait(record.pid) }) {
        case .success(let exited?):
            return exited
        case .success(nil):
            return try Processes.wait(record.pid)
        case .failure(let error) where error.errno.rawValue == ECHILD:
            throw SkiffError(.invalidState, "wait: container \(id): its process \(record.pid) is not a child of this process, so its exit status cannot be read (create the container from this process)")
        case .failure(let error):
            throw error
        }
    }

    /// Runs `body` on a Dispatch worker and hands its result back as a typed error.
    private func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws(SkiffError) -> T {
        let result: Result<T, SkiffError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result(catching: body).mapError(SkiffError.converting))
            }
        }
        return try result.get()
    }
}
