#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The checks runc makes before it creates anything (libcontainer/configs/validate and specconv),
// plus the spec's MUSTs that cost nothing to check here. Each problem names its JSON path so a
// user can find it: `linux.namespaces[3].type: duplicate namespace "pid"`.
//
// skiff is stricter than runc in one place on purpose: a relative mount destination is an error,
// not a warning, because resolving it against the process cwd has surprised users.

extension Spec {
    /// Throws the first problem that would make `create` fail, in document order.
    public func validate() throws(SpecError) {
        if let first = validationErrors().first { throw first }
    }

    /// Every problem, in document order.
    public func validationErrors() -> [SpecError] {
        var validator = Validator()
        validator.check(self)
        return validator.errors
    }
}

extension Process {
    /// Checks a process on its own, as `exec --process process.json` reads it; paths are
    /// relative to the document (`args`, `cwd`).
    public func validate() throws(SpecError) {
        var validator = Validator()
        validator.check(self, at: "")
        if let first = validator.errors.first { throw first }
    }
}

/// The values the spec and the kernel define, for the checks below.
enum Known {
    static let rlimits: Set<String> = [
        "RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
        "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
        "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK",
    ]
    static let rootfsPropagations: Set<String> = [
        "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
    ]
    static let deviceTypes: Set<String> = ["c", "b", "u", "p"]
    static let deviceCgroupTypes: Set<String> = ["a", "c", "b"]
    static let timeOffsetClocks: Set<String> = ["monotonic", "boottime"]
    static let ioPriorityClasses: Set<String> = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"]
    static let schedulerPolicies: Set<String> = [
        "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE",
    ]
    static let schedulerFlags: Set<String> = [
        "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY",
        "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX",
    ]
    static let personalityDomains: Set<String> = ["LINUX", "LINUX32"]
    static let memoryPolicyModes: Set<String> = [
        "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED",
        "MPOL_PREFERRED_MANY", "MPOL_LOCAL",
    ]
    static let memoryPolicyFlags: Set<String> = ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
    static let seccompActions: Set<String> = [
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
    ]
    /// The actions that return a value to the caller, and so may carry errnoRet.
    static let seccompErrnoActions: Set<String> = ["SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"]
    static let seccompOperators: Set<String> = [
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ]
    static let seccompFlags: Set<String> = [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
    /// The spec's list plus the architectures libseccomp 2.5–2.6 added since.
    static let seccompArchitectures: Set<String> = [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    ]
    /// IPC sysctls, namespaced by the ipc namespace (with the `fs.mqueue.` prefix).
    static let ipcSysctls: Set<String> = [
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
        "kernel.shmmni", "kernel.shm_rmid_forced",
    ]
    /// seccomp compares at most six syscall arguments.
    static let seccompMaxArgs: UInt = 6
}

struct Validator {
    private(set) var errors: [SpecError] = []

    private mutating func fail(_ path: String, _ message: String) {
        errors.append(SpecError(path: path, message: message))
    }

    // MARK: - The document

    mutating func check(_ spec: Spec) {
        if spec.ociVersion.isEmpty { fail("ociVersion", "must not be empty") }

        if let root = spec.root {
            if root.path.isEmpty { fail("root.path", "must not be empty") }
        } else {
            fail("root", "missing required field")
        }

        // process is optional until start (config.md: "REQUIRED when start is called").
        if let process = spec.process {
            check(process, at: "process")
        }

        let linux = spec.linux ?? Linux()
        // runc: "unable to set hostname without a private UTS namespace".
        if spec.hostname?.isEmpty == false, linux.namespace(.uts) == nil {
            fail("hostname", "requires a uts namespace")
        }
        if spec.domainname?.isEmpty == false, linux.namespace(.uts) == nil {
            fail("domainname", "requires a uts namespace")
        }

        for (i, mount) in (spec.mounts ?? []).enumerated() {
            requireAbsolute(mount.destination, at: "mounts[\(i)].destination")
            checkIDMapping(mount, at: "mounts[\(i)]", linux: linux)
            // runc applies it to tmpfs only and skips it elsewhere without a word.
            if mount.options?.contains("tmpcopyup") == true, mount.type != "tmpfs" {
                fail("mounts[\(i)].options", "\"tmpcopyup\" applies to tmpfs mounts only")
            }
        }

        if linux.namespace(.mount) == nil { checkWithoutMountNamespace(spec, linux) }

        if let hooks = spec.hooks { check(hooks) }
        if let linux = spec.linux { check(linux, hostname: spec.hostname) }
    }

    /// Idmapped mounts (runc 1.2's rules): bind mounts only; explicit maps come as a pair;
    /// `idmap`/`ridmap` alone take the container's user namespace maps (spec 1.2), so there
    /// must be one.
    private mutating func checkIDMapping(_ mount: Mount, at base: String, linux: Linux) {
        let options = mount.options ?? []
        let uid = mount.uidMappings ?? [], gid = mount.gidMappings ?? []
        let option = options.first { $0 == "idmap" || $0 == "ridmap" }
        guard !uid.isEmpty || !gid.isEmpty || option != nil else { return }
        let field = !uid.isEmpty ? base + ".uidMappings" : !gid.isEmpty ? base + ".gidMappings" : base + ".options"
        let isBind = mount.type == "bind" || options.contains("bind") || options.contains("rbind")
        if !isBind {
            fail(field, "idmapped mounts are only supported for bind mounts")
        }
        if uid.isEmpty != gid.isEmpty {
            fail(field, "idmapped mounts need both uidMappings and gidMappings")
        }
        for (name, mappings) in [("uidMappings", uid), ("gidMappings", gid)] {
            for (j, mapping) in mappings.enumerated() where mapping.size == 0 {
                fail(base + ".\(name)[\(j)].size", "must be greater than zero")
            }
        }
        if uid.isEmpty, gid.isEmpty, let option {
            let user = linux.namespace(.user)
            let mapped = user?.path?.isEmpty == false || (linux.uidMappings?.isEmpty == false && linux.gidMappings?.isEmpty == false)
            if user == nil || !mapped {
                fail(field, "\"\(option)\" without uidMappings and gidMappings takes the container's user namespace maps, and there are none")
            }
        }
    }

    /// Without a mount namespace the process only gets root.path as its root (chroot): every
    /// field that needs mounts would change the host's, so it is refused, never skipped (runc:
    /// "unable to restrict sys entries without a private MNT namespace").
    private mutating func checkWithoutMountNamespace(_ spec: Spec, _ linux: Linux) {
        let reason = "requires a mount namespace"
        if spec.mounts?.isEmpty == false { fail("mounts", reason) }
        if spec.root?.readonly == true { fail("root.readonly", reason) }
        if linux.maskedPaths?.isEmpty == false { fail("linux.maskedPaths", reason) }
        if linux.readonlyPaths?.isEmpty == false { fail("linux.readonlyPaths", reason) }
        if linux.devices?.isEmpty == false { fail("linux.devices", reason) }
        if linux.rootfsPropagation?.isEmpty == false { fail("linux.rootfsPropagation", reason) }
    }

    // MARK: - process

    mutating func check(_ process: Process, at base: String) {
        let args = process.args ?? []
        if args.isEmpty {
            fail(key(base, "args"), "must not be empty")
        } else if args[0].isEmpty {
            fail(key(base, "args") + "[0]", "must not be empty")
        }
        requireAbsolute(process.cwd, at: key(base, "cwd"))

        // setresuid(-1) means "leave unchanged": uid 4294967295 would keep the runtime's uid 0.
        // runc refuses every id outside 0…2147483647 the same way.
        let user = process.user
        for (field, id) in [("uid", user.uid), ("gid", user.gid)] + (user.additionalGids ?? []).enumerated().map({ ("additionalGids[\($0.offset)]", $0.element) })
        where id > User.maximumID {
            fail(key(base, "user") + "." + field, "\(id) is out of range: uids and gids must be in range 0-\(User.maximumID)")
        }

        for (i, variable) in (process.env ?? []).enumerated() {
            let name = variable.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if !variable.contains("=") || name.isEmpty {
                fail(key(base, "env") + "[\(i)]", "\"\(variable)\" is not NAME=value")
            } else if variable.utf8.contains(0) {
                fail(key(base, "env") + "[\(i)]", "contains a NUL byte")
            }
        }

        var seenRlimits = Set<String>()
        for (i, rlimit) in (process.rlimits ?? []).enumerated() {
            let path = key(base, "rlimits") + "[\(i)]"
            if !Known.rlimits.contains(rlimit.type) {
                fail(path + ".type", "unknown rlimit \"\(rlimit.type)\"")
            } else if !seenRlimits.insert(rlimit.type).inserted {
                fail(path + ".type", "duplicate rlimit \"\(rlimit.type)\"")
            }
            if rlimit.soft > rlimit.hard {
                fail(path + ".soft", "soft limit \(rlimit.soft) exceeds hard limit \(rlimit.hard)")
            }
        }

        if let adj = process.oomScoreAdj, !(-1000...1000).contains(adj) {
            fail(key(base, "oomScoreAdj"), "must be between -1000 and 1000")
        }

        if let io = process.ioPriority {
            let path = key(base, "ioPriority")
            requireKnown(io.class, in: Known.ioPriorityClasses, "I/O priority class", at: path + ".class")
            if !(0...7).contains(io.priority) { fail(path + ".priority", "must be between 0 and 7") }
        }

        if let scheduler = process.scheduler {
            let path = key(base, "scheduler")
            requireKnown(scheduler.policy, in: Known.schedulerPolicies, "scheduler policy", at: path + ".policy")
            if let nice = scheduler.nice, !(-20...19).contains(nice) {
                fail(path + ".nice", "must be between -20 and 19")
            }
            for (i, flag) in (scheduler.flags ?? []).enumerated() {
                requireKnown(flag, in: Known.schedulerFlags, "scheduler flag", at: path + ".flags[\(i)]")
            }
        }
    }

    // MARK: - hooks

    mutating func check(_ hooks: Hooks) {
        let lists: [(String, [Hook]?)] = [
            ("prestart", hooks.prestart), ("createRuntime", hooks.createRuntime),
            ("createContainer", hooks.createContainer), ("startContainer", hooks.startContainer),
            ("poststart", hooks.poststart), ("poststop", hooks.poststop),
        ]
        for (name, list) in lists {
            for (i, hook) in (list ?? []).enumerated() {
                let path = "hooks.\(name)[\(i)]"
                requireAbsolute(hook.path, at: path + ".path")
                if let timeout = hook.timeout, timeout <= 0 { fail(path + ".timeout", "must be greater than zero") }
            }
        }
    }

    // MARK: - linux

    mutating func check(_ linux: Linux, hostname: String?) {
        checkNamespaces(linux)
        checkIDMappings(linux)
        checkSysctls(linux)
        checkDevices(linux)
        checkTimeOffsets(linux)

        if let propagation = linux.rootfsPropagation, !propagation.isEmpty {
            requireKnown(propagation, in: Known.rootfsPropagations, "propagation", at: "linux.rootfsPropagation")
        }
        for (i, path) in (linux.maskedPaths ?? []).enumerated() {
            requireAbsolute(path, at: "linux.maskedPaths[\(i)]")
        }
        for (i, path) in (linux.readonlyPaths ?? []).enumerated() {
            requireAbsolute(path, at: "linux.readonlyPaths[\(i)]")
        }

        if let resources = linux.resources { check(resources) }
        if let seccomp = linux.seccomp { check(seccomp) }

        if let personality = linux.personality {
            requireKnown(personality.domain, in: Known.personalityDomains, "personality domain", at: "linux.personality.domain")
        }
        if let schema = linux.intelRdt?.memBwSchema, !schema.isEmpty, !schema.hasPrefix("MB:") {
            fail("linux.intelRdt.memBwSchema", "must start with \"MB:\"")
        }
        if let policy = linux.memoryPolicy {
            requireKnown(policy.mode, in: Known.memoryPolicyModes, "memory policy mode", at: "linux.memoryPolicy.mode")
            for (i, flag) in (policy.flags ?? []).enumerated() {
                requireKnown(flag, in: Known.memoryPolicyFlags, "memory policy flag", at: "linux.memoryPolicy.flags[\(i)]")
            }
        }
        if let devices = linux.netDevices, !devices.isEmpty {
            if !(linux.namespace(.network).map { $0.path?.isEmpty ?? true } ?? false) {
                // Moving a device into the runtime's own namespace would take it from the host;
                // into a joined one, it would not come back when the container goes.
                fail("linux.netDevices", "requires a new network namespace")
            }
            var inside = Set<String>()
            for (host, device) in devices.sorted(by: { $0.key < $1.key }) {
                let path = "linux.netDevices[\"\(host)\"]"
                if let problem = Self.interfaceNameProblem(host) { fail(path, problem) }
                let name = device.name.flatMap { $0.isEmpty ? nil : $0 } ?? host
                if device.name?.isEmpty == false, let problem = Self.interfaceNameProblem(name) { fail(path + ".name", problem) }
                if !inside.insert(name).inserted { fail(path + ".name", "duplicate interface name \"\(name)\" in the container") }
            }
        }
    }

    /// The kernel's rule for interface names (dev_valid_name): 1-15 bytes, not "." or "..",
    /// no "/", ":" or whitespace.
    static func interfaceNameProblem(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > 15 { return "interface name \"\(name)\" must be 1 to 15 bytes" }
        if name == "." || name == ".." || name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            return "invalid interface name \"\(name)\""
        }
        return nil
    }

    private mutating func checkNamespaces(_ linux: Linux) {
        var seen = Set<LinuxNamespaceType>()
        for (i, namespace) in (linux.namespaces ?? []).enumerated() {
            if !seen.insert(namespace.type).inserted {
                fail("linux.namespaces[\(i)].type", "duplicate namespace \"\(namespace.type.rawValue)\"")
            }
            if let path = namespace.path { requireAbsolute(path, at: "linux.namespaces[\(i)].path") }
        }
    }

    private mutating func checkIDMappings(_ linux: Linux) {
        let userNamespace = linux.namespace(.user)
        let sets: [(String, [LinuxIDMapping]?)] = [("uidMappings", linux.uidMappings), ("gidMappings", linux.gidMappings)]
        for (name, mappings) in sets {
            let mappings = mappings ?? []
            if userNamespace == nil, !mappings.isEmpty {
                fail("linux.\(name)", "mappings require a user namespace")
            }
            // Joining an existing user namespace (a path) brings its own mappings.
            if let userNamespace, userNamespace.path == nil, mappings.isEmpty {
                fail("linux.\(name)", "must not be empty with a new user namespace")
            }
            for (i, mapping) in mappings.enumerated() where mapping.size == 0 {
                fail("linux.\(name)[\(i)].size", "must be greater than zero")
            }
        }
    }

    /// runc's rule: a sysctl may only be set if a namespace the container owns isolates it.
    private mutating func checkSysctls(_ linux: Linux) {
        for name in (linux.sysctl ?? [:]).keys.sorted() {
            let path = JSONPath.appending(key: name, to: "linux.sysctl")
            // runc accepts "/" as a separator too (net/ipv4/ip_forward).
            let dotted = String(name.map { $0 == "/" ? "." : $0 })
            if !Self.isValidSysctlName(dotted) {
                fail(path, "invalid sysctl name")
            } else if Known.ipcSysctls.contains(dotted) || dotted.hasPrefix("fs.mqueue.") {
                if linux.namespace(.ipc) == nil { fail(path, "requires an ipc namespace") }
            } else if dotted.hasPrefix("net.") {
                if linux.namespace(.network) == nil { fail(path, "requires a network namespace") }
            } else if dotted == "kernel.hostname" {
                fail(path, "conflicts with the hostname field")
            } else if dotted == "kernel.domainname" {
                if linux.namespace(.uts) == nil { fail(path, "requires a uts namespace") }
            } else {
                fail(path, "not isolated by a namespace, so setting it would change the host")
            }
        }
    }

    private static func isValidSysctlName(_ dotted: String) -> Bool {
        dotted.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { component in
            !component.isEmpty && component.unicodeScalars.allSatisfy(isSysctlNameCharacter)
        }
    }

    private static func isSysctlNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }

    private mutating func checkDevices(_ linux: Linux) {
        for (i, device) in (linux.devices ?? []).enumerated() {
            requireAbsolute(device.path, at: "linux.devices[\(i)].path")
            // A device node belongs under /dev: "/dev/../etc/x" would plant a node in the image.
            let parts = device.path.split(separator: "/")
            if device.path.hasPrefix("/"), parts.first != "dev" || parts.count < 2 || parts.contains("..") || parts.contains(".") {
                fail("linux.devices[\(i)].path", "must be a path under /dev without \".\" or \"..\"")
            }
            requireKnown(device.type, in: Known.deviceTypes, "device type", at: "linux.devices[\(i)].type")
        }
    }

    private mutating func checkTimeOffsets(_ linux: Linux) {
        guard let offsets = linux.timeOffsets, !offsets.isEmpty else { return }
        if !(linux.namespace(.time).map { $0.path == nil } ?? false) {
            // The offsets can only be written before the first process enters the namespace.
            fail("linux.timeOffsets", "requires a new time namespace")
        }
        for clock in offsets.keys.sorted() {
            let path = JSONPath.appending(key: clock, to: "linux.timeOffsets")
            requireKnown(clock, in: Known.timeOffsetClocks, "clock", at: path)
            if let nanosecs = offsets[clock]?.nanosecs, nanosecs >= 1_000_000_000 {
                fail(path + ".nanosecs", "must be less than 1000000000")
            }
        }
    }

    private mutating func check(_ resources: LinuxResources) {
        for (i, rule) in (resources.devices ?? []).enumerated() {
            let path = "linux.resources.devices[\(i)]"
            if let type = rule.type, !type.isEmpty {
                requireKnown(type, in: Known.deviceCgroupTypes, "device type", at: path + ".type")
            }
            if let access = rule.access, !access.allSatisfy({ "rwm".contains($0) }) {
                fail(path + ".access", "invalid access \"\(access)\", must be made of r, w and m")
            }
        }
        if resources.memory?.useHierarchy == false {
            // Hierarchical accounting is always on since Linux 5.16 (memory.use_hierarchy is 1).
            fail("linux.resources.memory.useHierarchy", "false is not supported, the kernel always accounts hierarchically")
        }
        if let swappiness = resources.memory?.swappiness, swappiness > 100 {
            fail("linux.resources.memory.swappiness", "must be between 0 and 100")
        }
    }

    private mutating func check(_ seccomp: LinuxSeccomp) {
        let base = "linux.seccomp"
        requireKnown(seccomp.defaultAction, in: Known.seccompActions, "seccomp action", at: base + ".defaultAction")
        if seccomp.defaultAction == "SCMP_ACT_NOTIFY" {
            // Every syscall, including the ones the runtime still has to make, would block on the agent.
            fail(base + ".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
        }
        if seccomp.defaultErrnoRet != nil, !Known.seccompErrnoActions.contains(seccomp.defaultAction) {
            fail(base + ".defaultErrnoRet", "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")
        }
        for (i, arch) in (seccomp.architectures ?? []).enumerated() {
            requireKnown(arch, in: Known.seccompArchitectures, "seccomp architecture", at: base + ".architectures[\(i)]")
        }
        for (i, flag) in (seccomp.flags ?? []).enumerated() {
            requireKnown(flag, in: Known.seccompFlags, "seccomp flag", at: base + ".flags[\(i)]")
        }
        if seccomp.listenerMetadata?.isEmpty == false, seccomp.listenerPath?.isEmpty ?? true {
            fail(base + ".listenerMetadata", "requires listenerPath")
        }
        var notifies = false
        for (i, rule) in (seccomp.syscalls ?? []).enumerated() {
            let path = base + ".syscalls[\(i)]"
            if rule.names.isEmpty { fail(path + ".names", "must not be empty") }
            requireKnown(rule.action, in: Known.seccompActions, "seccomp action", at: path + ".action")
            notifies = notifies || rule.action == "SCMP_ACT_NOTIFY"
            if rule.action == "SCMP_ACT_NOTIFY", let j = rule.names.firstIndex(of: "write") {
                // The runtime writes the listener fd to the agent after the filter is loaded:
                // that write would wait on the agent it is meant to reach (runc refuses it too).
                fail(path + ".names[\(j)]", "SCMP_ACT_NOTIFY cannot be used for the write syscall")
            }
            if rule.errnoRet != nil, !Known.seccompErrnoActions.contains(rule.action) {
                fail(path + ".errnoRet", "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")
            }
            for (j, arg) in (rule.args ?? []).enumerated() {
                if arg.index >= Known.seccompMaxArgs {
                    fail(path + ".args[\(j)].index", "must be less than \(Known.seccompMaxArgs)")
                }
                requireKnown(arg.op, in: Known.seccompOperators, "seccomp operator", at: path + ".args[\(j)].op")
            }
        }
        if notifies, seccomp.listenerPath?.isEmpty ?? true {
            fail(base + ".listenerPath", "required by SCMP_ACT_NOTIFY")
        }
    }

    // MARK: - Helpers

    private mutating func requireAbsolute(_ path: String, at jsonPath: String) {
        if !path.hasPrefix("/") { fail(jsonPath, "must be an absolute path") }
    }

    private mutating func requireKnown(_ value: String, in known: Set<String>, _ what: String, at path: String) {
        if !known.contains(value) { fail(path, "unknown \(what) \"\(value)\"") }
    }

    private func key(_ base: String, _ name: String) -> String {
        JSONPath.appending(key: name, to: base)
    }
}
