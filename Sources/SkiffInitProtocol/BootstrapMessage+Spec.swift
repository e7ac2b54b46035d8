#if canImport(Glibc)
import Glibc
#endif
import CNsexec
import CShims
import SkiffLinux
import SkiffOCI

// The bootstrap message's builders, beside its wire format (BootstrapMessage.swift): what a
// container's config (create) or a running container's namespaces (exec) become in the
// message stage 0 reads (docs/nsexec.md, "The bootstrap message").

extension BootstrapMessage {
    package static let cloneFlags: [LinuxNamespaceType: Int32] = [
        .user: SKIFF_CLONE_NEWUSER, .mount: SKIFF_CLONE_NEWNS, .network: SKIFF_CLONE_NEWNET, .ipc: SKIFF_CLONE_NEWIPC,
        .uts: SKIFF_CLONE_NEWUTS, .pid: SKIFF_CLONE_NEWPID, .cgroup: SKIFF_CLONE_NEWCGROUP, .time: SKIFF_CLONE_NEWTIME,
    ]
    package static let nsNames: [LinuxNamespaceType: String] = [
        .user: "user", .mount: "mnt", .network: "net", .ipc: "ipc", .uts: "uts", .pid: "pid",
        .cgroup: "cgroup", .time: "time",
    ]

    /// The bootstrap data for a new container: namespaces to create or join, maps, offsets.
    package static func forCreate(_ spec: Spec, rootless: Bool = false) throws -> BootstrapMessage {
        let linux = spec.linux
        var flags: UInt32 = 0
        var paths: [BootstrapMessage.NamespacePath] = []
        for namespace in linux?.namespaces ?? [] {
            if let path = namespace.path, !path.isEmpty {
                paths.append(BootstrapMessage.NamespacePath(type: nsNames[namespace.type]!, path: path))
            } else {
                flags |= UInt32(bitPattern: cloneFlags[namespace.type]!)
            }
        }
        func mapLines(_ mappings: [LinuxIDMapping]?) -> String? {
            guard let mappings, !mappings.isEmpty else { return nil }
            return LinuxIDMapping.mapFileText(mappings)
        }
        var timeOffsets: String?
        if let offsets = linux?.timeOffsets, !offsets.isEmpty {
            // Appended line by line, as the id maps are (LinuxIDMapping.mapFileText).
            var lines = ""
            for (clock, offset) in offsets.sorted(by: { $0.key < $1.key }) {
                lines += clock + " " + String(offset.secs ?? 0) + " " + String(offset.nanosecs ?? 0) + "\n"
            }
            timeOffsets = lines
        }
        var message = BootstrapMessage()
        message.cloneFlags = flags
        message.namespacePaths = paths
        message.uidMap = flags & UInt32(SKIFF_CLONE_NEWUSER) != 0 ? mapLines(linux?.uidMappings) : nil
        message.gidMap = flags & UInt32(SKIFF_CLONE_NEWUSER) != 0 ? mapLines(linux?.gidMappings) : nil
        message.oomScoreAdj = spec.process?.oomScoreAdj
        message.timeOffsets = timeOffsets
        message.isExec = false
        // Without privilege every other namespace needs a user namespace that we own (runc's
        // "rootless container requires user namespaces"); as root in a user namespace we
        // already have one.
        if rootless && geteuid() != 0 && flags & UInt32(SKIFF_CLONE_NEWUSER) == 0 && !paths.contains(where: { $0.type == "user" }) {
            throw SkiffError(.invalidArgument, "linux.namespaces: a rootless container needs a user namespace (skiff spec --rootless writes one)")
        }
        if rootless && geteuid() != 0 && flags & UInt32(SKIFF_CLONE_NEWUSER) != 0 {
            // Root of a user namespace (rootless podman) writes any map of ids it has itself,
            // as runc does for a runtime whose euid is 0.
            try message.chooseMapWriters(uidMappings: linux?.uidMappings ?? [], gidMappings: linux?.gidMappings ?? [])
        } else if rootless && !paths.contains(where: { $0.type == "user" }) && Self.setgroupsDenied("/proc/self/setgroups") {
            // The container stays in our user namespace, whose creator denied setgroups
            // (`unshare --map-root-user`, a single-id map): stage 2 must not try it.
            message.setgroupsDeny = true
        }
        return message
    }

    /// Without privilege the kernel lets us write only a map of our own id (and a gid map only
    /// after setgroups is denied); anything more goes through the setuid newuidmap/newgidmap of
    /// Debian's uidmap package, which check /etc/subuid and /etc/subgid.
    package mutating func chooseMapWriters(uidMappings: [LinuxIDMapping], gidMappings: [LinuxIDMapping],
                                   subuidFile: String = "/etc/subuid", subgidFile: String = "/etc/subgid") throws {
        let ownUid = uidMappings.count == 1 && uidMappings[0].hostID == geteuid() && uidMappings[0].size == 1
        let ownGid = gidMappings.count == 1 && gidMappings[0].hostID == getegid() && gidMappings[0].size == 1
        if !ownUid {
            newuidmapPath = try Self.findTool("newuidmap")
            try Self.requireSubordinateRange(subuidFile, option: "--add-subuids", mapping: "uidMappings")
        }
        if ownGid {
            setgroupsDeny = true
        } else {
            newgidmapPath = try Self.findTool("newgidmap")
            try Self.requireSubordinateRange(subgidFile, option: "--add-subgids", mapping: "gidMappings")
        }
    }

    /// A user without any range in /etc/subuid gets newuidmap's terse "not allowed" only
    /// after the namespaces exist; say what is missing and how to get it instead, before
    /// anything is made. Whether a given range is allowed stays newuidmap's call. Hosts that
    /// serve ranges through NSS (`subid:` in nsswitch.conf) are left to the tool.
    package static func requireSubordinateRange(_ file: String, option: String, mapping: String,
                                        uid: uid_t = geteuid()) throws {
        if (try? Files.readString("/etc/nsswitch.conf"))?.split(separator: "\n").contains(where: {
            $0.trimmingPrefix(while: \.isWhitespace).hasPrefix("subid:")
        }) == true { return }
        let owner = Identity.userName(uid) ?? String(uid)
        let lines = ((try? Files.readString(file)) ?? "").split(separator: "\n")
        let found = lines.contains { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            return fields.count == 3 && (fields[0] == owner || fields[0] == "\(uid)") && (UInt32(fields[2]) ?? 0) > 0
        }
        if !found {
            throw SkiffError(.invalidArgument, "linux.\(mapping): \(file) has no range for user \(owner) (uid \(uid)): "
                + "ask root to add one (usermod \(option) 100000-165535 \(owner)), or map only your own id")
        }
    }

    /// Looked up in PATH as runc does (exec.LookPath), resolved here so the C stage never
    /// searches. A PATH of the caller's choosing gains nothing: only the real, setuid tool can
    /// write a map the caller could not write itself.
    package static func findTool(_ name: String, path: String? = getenv("PATH").map { String(cString: $0) }) throws -> String {
        let search = path.flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in search.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory + "/" + name
            if let st = try? Files.status(candidate), st.st_mode & S_IFMT == S_IFREG, Files.isAccessible(candidate, X_OK) {
                return candidate
            }
        }
        throw SkiffError(.notFound, "\(name) not found in PATH: mapping several id ranges without root needs it (Debian: apt-get install uidmap)")
    }
}

extension BootstrapMessage {
    /// Whether a user namespace's `setgroups` file says deny.
    package static func setgroupsDenied(_ path: String) -> Bool {
        (try? Files.readString(path))?.hasPrefix("deny") == true
    }

    /// The bootstrap data for exec: join every namespace of the container's init by its
    /// /proc/PID/ns link; create none.
    package static func forExec(pid: Int32, namespaces: [String]) -> BootstrapMessage {
        var message = BootstrapMessage()
        message.namespacePaths = namespaces.map { NamespacePath(type: $0, path: "/proc/\(pid)/ns/\($0)") }
        // A container whose user namespace denies setgroups keeps its groups on exec too.
        // Without a user namespace of its own the container shares ours (rootless podman).
        if setgroupsDenied(namespaces.contains("user") ? "/proc/\(pid)/setgroups" : "/proc/self/setgroups") {
            message.setgroupsDeny = true
        }
        message.isExec = true
        return message
    }
}
