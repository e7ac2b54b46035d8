#if canImport(Glibc)
import Glibc
#endif
import CShims

/// The calling process's credentials, limits and UTS names: what a container's init sets on
/// itself before it execs the process.
public enum Identity {
    /// setgroups(2).
    /// The host's user name of `uid` from the passwd database (files, NSS), nil without one.
    /// The corresponding C function is `getpwuid_r`.
    public static func userName(_ uid: uid_t) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else {
            return nil
        }
        return String(cString: name)
    }

    public static func setGroups(_ groups: [gid_t]) throws(LinuxError) {
        _ = try sysCall("setgroups") { groups.withUnsafeBufferPointer { setgroups($0.count, $0.baseAddress) } }
    }

    /// setresgid(gid, gid, gid).
    public static func setGID(_ gid: gid_t) throws(LinuxError) {
        _ = try sysCall("setresgid \(gid)") { setresgid(gid, gid, gid) }
    }

    /// setresuid(uid, uid, uid).
    public static func setUID(_ uid: uid_t) throws(LinuxError) {
        _ = try sysCall("setresuid \(uid)") { setresuid(uid, uid, uid) }
    }

    /// setrlimit(2) of `resource` (RLIMIT_*), `name` being how the config spells it.
    public static func setResourceLimit(_ resource: Int32, name: String, soft: UInt64, hard: UInt64) throws(LinuxError) {
        _ = try sysCall("setrlimit \(name)") { skiff_setrlimit(resource, soft, hard) }
    }

    /// sethostname(2) in the calling process's UTS namespace.
    public static func setHostname(_ hostname: String) throws(LinuxError) {
        _ = try sysCall("sethostname \"\(hostname)\"") { sethostname(hostname, hostname.utf8.count) }
    }

    /// setdomainname(2) in the calling process's UTS namespace.
    public static func setDomainname(_ domainname: String) throws(LinuxError) {
        _ = try sysCall("setdomainname \"\(domainname)\"") { setdomainname(domainname, domainname.utf8.count) }
    }
}
