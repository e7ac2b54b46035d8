#if canImport(Glibc)
import Glibc
#endif
import CNsexec
import SkiffOCI

/// The environment the runtime hands to `skiff init`: every variable, what it carries, and the
/// one parser for each value init reads. The names themselves are the `SKIFF_ENV_*` macros of
/// `Sources/CNsexec/include/nsexec.h`, which the C stage reads too, so the two languages cannot
/// disagree on a spelling; docs/nsexec.md lists them in one table.
///
/// The fds follow stdio and the preserved fds (3..3+N-1) in this order: init socket, sync
/// socket, log pipe, then (each only when there is one) exec.fifo, config.json, the console
/// socket, the idmapped mounts, the seccomp program, the seccomp listener socket.
package enum InitEnvironment {
    /// fd: SOCK_STREAM socket, bootstrap message in, pid report out (the C stage only).
    package static let initPipe = SKIFF_ENV_INITPIPE
    /// fd: SOCK_SEQPACKET socket, the sync messages between the runtime and the Swift init.
    package static let syncPipe = SKIFF_ENV_SYNCPIPE
    /// fd: pipe, JSON log lines from every stage.
    package static let logPipe = SKIFF_ENV_LOGPIPE
    /// fd: O_PATH of exec.fifo (create only).
    package static let fifo = SKIFF_ENV_FIFOFD
    /// "debug" enables the C stage's debug lines.
    package static let logLevel = SKIFF_ENV_LOGLEVEL
    /// A number, not an open fd: where stage 1 puts the MOUNT_SOURCE fds, the i-th at n + i.
    package static let mountFDs = SKIFF_ENV_MOUNTFDS
    /// fd: sealed memfd, the config.json bytes the runtime validated (create only).
    package static let config = SKIFF_ENV_CONFIGFD
    /// fd: connected console socket (process.terminal).
    package static let console = SKIFF_ENV_CONSOLEFD
    /// fd: sealed memfd, the compiled seccomp program.
    package static let seccompProgram = SKIFF_ENV_SECCOMPFD
    /// fd: socket over which init sends the seccomp notify fd (linux.seccomp.listenerPath).
    package static let seccompListener = SKIFF_ENV_SECCOMPSOCK
    /// "1": the host has SELinux, init applies the labels.
    package static let selinux = SKIFF_ENV_SELINUX
    /// "index:fd,…": the idmapped mounts the runtime made, by mounts[] index.
    package static let idmappedMounts = SKIFF_ENV_IDMAPFDS

    /// How far above the runtime's last channel fd the MOUNT_SOURCE fds start: above the C
    /// stage's own socketpairs, which take the lowest free numbers (stage 1 refuses a number
    /// that is taken).
    package static let mountFDGap: Int32 = 16

    /// A variable's value in this process (init's side), nil when unset.
    package static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// A variable holding an fd number, nil when unset or not a number ≥ 0.
    package static func fd(_ name: String) -> Int32? {
        value(name).flatMap(Int32.init).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// The `_SKIFF_IDMAPFDS` value for mounts[] indices and init's fds of their detached mounts.
    package static func idmappedMountsValue(_ pairs: [(index: Int, fd: Int32)]) -> String {
        pairs.map { "\($0.index):\($0.fd)" }.joined(separator: ",")
    }

    /// Init's side of `_SKIFF_IDMAPFDS`: fd numbers by mounts[] index.
    package static func idmappedMountFDs(_ value: String?) -> [Int: Int32] {
        var result: [Int: Int32] = [:]
        for pair in (value ?? "").split(separator: ",") {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let index = Int(parts[0]), let fd = Int32(parts[1]), fd > 2 else { continue }
            result[index] = fd
        }
        return result
    }

    /// The mounts[] entries that are bind mounts of a host path: the runtime has stage 0 open
    /// their sources (MOUNT_SOURCE), init mounts them from `_SKIFF_MOUNTFDS` + their position
    /// in this list; both sides pick them with this.
    package static func bindMountIndices(_ mounts: [Mount]) -> [Int] {
        mounts.indices.filter { index in
            let options = MountOptions(mounts[index].options ?? [])
            return (options.isBind || mounts[index].type == "bind") && !(mounts[index].source ?? "").isEmpty
        }
    }
}
