#if canImport(Glibc)
import Glibc
#endif
import CCap
import CShims

/// The calling process's capabilities, through libcap: it knows the running kernel's count
/// and the names, and hides capset's versioned structures.
public enum Capabilities {
    /// How many capabilities the running kernel has: 0 through /proc/sys/kernel/cap_last_cap.
    /// The corresponding C function is `cap_max_bits`.
    public static var kernelCount: Int32 { Int32(cap_max_bits()) }

    /// libcap's number for `name` (it also takes `cap_kill` and `5`); nil for a name it does
    /// not know. The corresponding C function is `cap_from_name`.
    public static func value(named name: String) -> Int32? {
        var value: cap_value_t = -1
        return cap_from_name(name, &value) == 0 && value >= 0 ? value : nil
    }

    /// libcap's name of `value` (`cap_kill`, or the number for one it has no name for).
    /// The corresponding C function is `cap_to_name`.
    public static func name(of value: Int32) -> String? {
        guard let text = cap_to_name(value) else { return nil }
        defer { cap_free(text) }
        return String(cString: text)
    }

    /// Whether `value` is in this process's bounding set. The corresponding C function is
    /// `cap_get_bound`.
    public static func isInBoundingSet(_ value: Int32) -> Bool { cap_get_bound(value) == 1 }

    /// Drops `value` (named `display` in the error) from the bounding set; needs CAP_SETPCAP.
    /// The corresponding C function is `cap_drop_bound`.
    public static func dropFromBoundingSet(_ value: Int32, display: String) throws(LinuxError) {
        _ = try sysCall("drop \(display) from the bounding set") { cap_drop_bound(value) }
    }

    /// prctl PR_SET_KEEPCAPS: whether the permitted set survives a switch to a non-zero uid.
    public static func setKeepCapabilities(_ keep: Bool) throws(LinuxError) {
        _ = try sysCall("prctl PR_SET_KEEPCAPS") { cap_prctlw(Int(PR_SET_KEEPCAPS), keep ? 1 : 0, 0, 0, 0, 0) }
    }

    /// The permitted, effective and inheritable sets in one capset(2). The corresponding C
    /// functions are `cap_set_flag` and `cap_set_proc`.
    public static func set(permitted: [Int32], effective: [Int32], inheritable: [Int32]) throws(LinuxError) {
        guard let caps = cap_init() else { throw LinuxError("cap_init", errno: currentErrno()) }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        for (flag, values) in [(CAP_PERMITTED, permitted), (CAP_EFFECTIVE, effective), (CAP_INHERITABLE, inheritable)]
        where !values.isEmpty {
            _ = try sysCall("cap_set_flag") { cap_set_flag(caps, flag, Int32(values.count), values, CAP_SET) }
        }
        _ = try sysCall("capset") { cap_set_proc(caps) }
    }

    /// prctl PR_CAP_AMBIENT_CLEAR_ALL; a kernel without ambient capabilities (EINVAL) has none
    /// to clear. One call: libcap's `cap_reset_ambient` first asks about each capability in
    /// turn (41 prctl calls when none is set, the usual case) to clear only when one is.
    public static func clearAmbient() throws(LinuxError) {
        let (result, code) = sysCallErrno { cap_prctlw(Int(PR_CAP_AMBIENT), Int(PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0, 0) }
        if result != 0, code != EINVAL { throw LinuxError("prctl PR_CAP_AMBIENT_CLEAR_ALL", errno: code) }
    }

    /// prctl PR_CAP_AMBIENT_RAISE of `value` (named `display` in the error); it must be
    /// permitted and inheritable already.
    public static func raiseAmbient(_ value: Int32, display: String) throws(LinuxError) {
        _ = try sysCall("raise ambient \(display)") { cap_set_ambient(value, CAP_SET) }
    }
}
