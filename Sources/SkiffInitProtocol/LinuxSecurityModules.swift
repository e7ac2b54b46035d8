#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffLinux
import SkiffOCI

/// Which LSMs the host runs, seen from the runtime (the container's /sys may be anything).
package struct HostLSMs: Equatable, Sendable {
    package var apparmor: Bool
    package var selinux: Bool

    /// runc's tests: AppArmor when securityfs has it and the module says "Y"; SELinux when
    /// selinuxfs is there (go-selinux looks for the same file).
    package static func detect() -> HostLSMs {
        let apparmor = Files.exists("/sys/kernel/security/apparmor")
            && (try? Files.readString("/sys/module/apparmor/parameters/enabled"))?.hasPrefix("Y") == true
        return HostLSMs(apparmor: apparmor, selinux: Files.exists("/sys/fs/selinux/enforce"))
    }
}

/// The LSM settings of a process: process.apparmorProfile, process.selinuxLabel and
/// linux.mountLabel, applied on the next execve by writing the process's own attr files.
package struct LSMLabels: Equatable, Sendable {
    package var apparmorProfile: String?
    package var selinuxLabel: String?
    /// Whether the runtime found SELinux enabled (init learns it from `_SKIFF_SELINUX`).
    package var selinuxEnabled: Bool


    package init(process: Process, selinuxEnabled: Bool) {
        let profile = process.apparmorProfile ?? ""
        let label = process.selinuxLabel ?? ""
        apparmorProfile = profile.isEmpty ? nil : profile
        selinuxLabel = label.isEmpty ? nil : label
        self.selinuxEnabled = selinuxEnabled
    }

    /// Runtime side, before anything is created. A profile on a host without AppArmor, or a
    /// label on a host without SELinux, is an error: the container would silently run
    /// unconfined (runc refuses both); the mount label is applied by the init's mounts.
    package static func validate(process: Process, mountLabel: String?, host: HostLSMs,
                         base: String = "process") throws(SkiffError) {
        if let profile = process.apparmorProfile, !profile.isEmpty, !host.apparmor {
            throw SkiffError(.invalidArgument,
                             "\(base).apparmorProfile: AppArmor profile \"\(profile)\" requested, but AppArmor is not enabled on this host")
        }
        if let label = process.selinuxLabel, !label.isEmpty, !host.selinux {
            throw SkiffError(.invalidArgument,
                             "\(base).selinuxLabel: SELinux label \"\(label)\" requested, but SELinux is not enabled on this host")
        }
        if let label = mountLabel, !label.isEmpty, !host.selinux {
            throw SkiffError(.invalidArgument,
                             "linux.mountLabel: SELinux label \"\(label)\" requested, but SELinux is not enabled on this host")
        }
        // The label goes inside context="…" in mount data (MCS categories bring commas, which
        // the quotes protect); a quote would end it early.
        if let label = mountLabel, label.contains("\"") {
            throw SkiffError(.invalidArgument, "linux.mountLabel: \"\(label)\" must not contain a quote")
        }
    }
}
