#if canImport(Glibc)
import Glibc
#endif
import CSeccomp
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

extension Runtime {
    /// features.json (features.md): what this build implements on this host. Seccomp's lists
    /// come from libseccomp and the kernel at run time, capabilities from the kernel; a field
    /// is left out (unknown) or false rather than claim something skiff does not do.
    public static func features() -> Features {
        let mountOptions = Set(MountOptions.setting.keys).union(MountOptions.clearing.keys)
            .union(MountOptions.propagationFlags.keys).union(MountOptions.recursive.keys)
            .union(MountOptions.extensions)
        var annotations: [String: String] = [:]
        if let version = seccomp_version() {
            annotations["io.github.seccomp.libseccomp.version"] =
                "\(version.pointee.major).\(version.pointee.minor).\(version.pointee.micro)"
        }
        return Features(
            ociVersionMin: OCIVersion.minimum,
            ociVersionMax: OCIVersion.current,
            hooks: HookRunner.supported,
            mountOptions: mountOptions.sorted(),
            linux: Features.Linux(
                namespaces: LinuxNamespaceType.allCases.map(\.rawValue).sorted(),
                capabilities: CapabilitySets.kernelNames(),
                cgroup: Features.Cgroup(v1: true, v2: true, systemd: true, systemdUser: true),
                seccomp: SeccompFeatures.probe(),
                apparmor: Features.Apparmor(enabled: true),
                // process.selinuxLabel and linux.mountLabel are applied where SELinux is on.
                selinux: Features.Selinux(enabled: true),
                intelRdt: Features.IntelRdt(enabled: false),
                mountExtensions: Features.MountExtensions(idmap: Features.IDMap(enabled: true)),
                netDevices: Features.NetDevices(enabled: true),
                memoryPolicy: Features.MemoryPolicy(modes: ProcessTuning.memoryPolicyModes.keys.sorted(),
                                                    flags: ProcessTuning.memoryPolicyFlags.keys.sorted())),
            annotations: annotations)
    }
}

/// What libseccomp and the kernel accept, asked rather than assumed.
enum SeccompFeatures {
    static func probe() -> Features.Seccomp {
        let actions = SeccompCompiler.actions.keys.filter(actionWorks).sorted()
        let operators = SeccompCompiler.operators.filter { operatorWorks($0.value) }.keys.sorted()
        let archs = architectureNames.filter { seccomp_arch_resolve_name(libseccompName($0)) != 0 }.sorted()
        let known = SeccompCompiler.flags.keys.sorted()
        let supported = known.filter { name in
            var bit = SeccompCompiler.flags[name]!
            if bit == UInt32(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) { bit |= UInt32(SECCOMP_FILTER_FLAG_NEW_LISTENER) }
            return Seccomp.flagsSupported(bit)
        }
        return Features.Seccomp(enabled: true, actions: actions, operators: operators, archs: archs,
                                knownFlags: known, supportedFlags: supported)
    }

    /// Every SCMP_ARCH_* the runtime-spec lists plus later libseccomp additions.
    static let architectureNames = [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
        "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    ]

    static func libseccompName(_ name: String) -> String {
        String(name.dropFirst("SCMP_ARCH_".count)).lowercased()
    }

    /// A rule with the action on getpid is accepted (libseccomp asks the kernel for the newer
    /// actions). ALLOW is the probe's default action, so it is checked the other way round.
    private static func actionWorks(_ name: String) -> Bool {
        guard let base = SeccompCompiler.actions[name] else { return false }
        let action = name == "SCMP_ACT_ERRNO" || name == "SCMP_ACT_TRACE" ? base | UInt32(EPERM) : base
        let defaultAction = action == SCMP_ACT_ALLOW ? SCMP_ACT_KILL_THREAD : SCMP_ACT_ALLOW
        guard let context = seccomp_init(defaultAction) else { return false }
        defer { seccomp_release(context) }
        return seccomp_rule_add_array(context, action, seccomp_syscall_resolve_name("getpid"), 0, nil) == 0
    }

    private static func operatorWorks(_ op: scmp_compare) -> Bool {
        guard let context = seccomp_init(SCMP_ACT_ALLOW) else { return false }
        defer { seccomp_release(context) }
        var condition = scmp_arg_cmp(arg: 0, op: op, datum_a: 1, datum_b: 1)
        return seccomp_rule_add_array(context, 0x0005_0000 | UInt32(EPERM), seccomp_syscall_resolve_name("kill"), 1, &condition) == 0
    }
}
