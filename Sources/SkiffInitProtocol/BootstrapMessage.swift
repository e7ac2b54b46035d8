import CNsexec

/// The one message the runtime writes to the init socket for the C stage (docs/nsexec.md):
/// a 16-byte header and type-length-value attributes, native-endian, each padded to 4 bytes.
/// The C stage's parser in Sources/CNsexec/bootstrap.c is the reader; keep both in step.
package struct BootstrapMessage: Equatable, Sendable {
    /// A namespace for stage 1 to join with setns, as `type:path` on the wire.
    package struct NamespacePath: Equatable, Sendable {
        /// "user", "mnt", "net", "ipc", "uts", "pid", "cgroup" or "time".
        package var type: String
        package var path: String
    }

    /// CLONE_NEW* flags of the namespaces to create; the user namespace is created first.
    package var cloneFlags: UInt32 = 0
    /// Joined in this order, except that what needs the user namespace's privileges waits
    /// until it has been joined.
    package var namespacePaths: [NamespacePath] = []
    /// uid_map contents ("0 100000 65536\n"), only with CLONE_NEWUSER.
    package var uidMap: String?
    package var gidMap: String?
    /// Write "deny" to /proc/<pid>/setgroups before gid_map; stage 2 then keeps its groups.
    package var setgroupsDeny = false
    /// Write the maps through these setuid tools instead of directly (unprivileged runtime).
    package var newuidmapPath: String?
    package var newgidmapPath: String?
    package var oomScoreAdj: Int?
    /// timens_offsets contents ("monotonic 10 0\n"), only with CLONE_NEWTIME.
    package var timeOffsets: String?
    package var isExec = false
    /// cgroup v1 tasks files stage 2 writes "0" to, moving itself there first thing. Stage 0
    /// opens them (in the runtime's mount namespace) once the runtime has sent `cgroupsReady`
    /// on the init socket after this message: on create they are made meanwhile.
    package var cgroupTasks: [String] = []
    /// The byte that says the directories of `cgroupTasks` exist and their limits are written.
    package static let cgroupsReady = UInt8(SKIFF_CGROUPS_READY)
    /// Absolute bind mount sources stage 0 opens inside the container's new mount namespace;
    /// their fds reach init at SKIFF_ENV_MOUNTFDS + index.
    package var mountSources: [String] = []

    package init() {}

    package func encoded() -> [UInt8] {
        var body: [UInt8] = []
        // `type` is one of nsexec.h's SKIFF_ATTR_* values.
        func attribute<Attribute: RawRepresentable>(_ type: Attribute, _ payload: [UInt8]) where Attribute.RawValue: BinaryInteger {
            append16(UInt16(truncatingIfNeeded: type.rawValue), to: &body)
            append16(0, to: &body)
            append32(UInt32(payload.count), to: &body)
            body += payload
            body += repeatElement(0, count: (4 - payload.count % 4) % 4)
        }
        func string<Attribute: RawRepresentable>(_ type: Attribute, _ value: String?) where Attribute.RawValue: BinaryInteger {
            guard let value else { return }
            attribute(type, Array(value.utf8) + [0])
        }

        var flags: [UInt8] = []
        append32(cloneFlags, to: &flags)
        attribute(SKIFF_ATTR_CLONE_FLAGS, flags)
        for namespace in namespacePaths {
            string(SKIFF_ATTR_NS_PATH, "\(namespace.type):\(namespace.path)")
        }
        string(SKIFF_ATTR_UID_MAP, uidMap)
        string(SKIFF_ATTR_GID_MAP, gidMap)
        attribute(SKIFF_ATTR_SETGROUPS_DENY, [setgroupsDeny ? 1 : 0])
        string(SKIFF_ATTR_NEWUIDMAP_PATH, newuidmapPath)
        string(SKIFF_ATTR_NEWGIDMAP_PATH, newgidmapPath)
        string(SKIFF_ATTR_OOM_SCORE_ADJ, oomScoreAdj.map { String($0) })
        string(SKIFF_ATTR_TIME_OFFSETS, timeOffsets)
        attribute(SKIFF_ATTR_IS_EXEC, [isExec ? 1 : 0])
        for tasks in cgroupTasks { string(SKIFF_ATTR_CGROUP_TASKS, tasks) }
        for source in mountSources { string(SKIFF_ATTR_MOUNT_SOURCE, source) }

        var message: [UInt8] = []
        message.reserveCapacity(16 + body.count)
        append32(SKIFF_BOOTSTRAP_MAGIC, to: &message)
        append32(SKIFF_BOOTSTRAP_VERSION, to: &message)
        append32(UInt32(truncatingIfNeeded: 16 + body.count), to: &message)
        append32(0, to: &message)
        return message + body
    }
}

// Native byte order, as the C side reads the fields with memcpy.
private func append16(_ value: UInt16, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value) { bytes += $0 }
}

private func append32(_ value: UInt32, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value) { bytes += $0 }
}
