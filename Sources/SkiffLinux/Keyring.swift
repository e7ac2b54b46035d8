#if canImport(Glibc)
import Glibc
#endif
import CShims

/// The kernel's key management (keyctl(2)), for a container's own session keyring.
public enum Keyring {
    /// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new session keyring named `name` for the
    /// calling process. Returns its serial number.
    public static func joinSession(named name: String) throws(LinuxError) -> Int {
        Int(try sysCall("join session keyring") { skiff_join_session_keyring(name) })
    }

    /// keyctl(KEYCTL_SETPERM). Best effort: a keyring whose permissions cannot be changed
    /// still keeps the host's keys out, which is what it is for.
    public static func trySetPermissions(_ key: Int, _ permissions: UInt32) {
        _ = skiff_keyring_setperm(key, permissions)
    }
}
