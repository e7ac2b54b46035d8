#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffLinux
import SkiffOCI

/// process.capabilities as capability numbers, checked against the running kernel.
///
/// Absent `capabilities` means every set is empty, the process keeps nothing: runc's
/// finalizeNamespace starts from an empty `configs.Capabilities` and applies it, bounding set
/// included (libcontainer/init_linux.go).
package struct CapabilitySets: Equatable, Sendable {
    package var bounding: Set<Int32> = []
    package var effective: Set<Int32> = []
    package var inheritable: Set<Int32> = []
    package var permitted: Set<Int32> = []
    package var ambient: Set<Int32> = []

    /// The capabilities the running kernel has: 0 through /proc/sys/kernel/cap_last_cap, as
    /// libcap reads it.
    package static var kernelCount: Int32 { Capabilities.kernelCount }

    /// Parses every name. An unknown name, or one the kernel does not have, is an error naming
    /// the field: runc and crun only warn, but the spec requires an error for a value that
    /// "cannot be mapped to a relevant kernel interface".
    package init(_ capabilities: LinuxCapabilities?, path: String = "process.capabilities",
         kernelCount: Int32 = CapabilitySets.kernelCount) throws(SkiffError) {
        guard let capabilities else { return }
        func parse(_ names: [String]?, _ field: String) throws(SkiffError) -> Set<Int32> {
            var result = Set<Int32>()
            for name in names ?? [] {
                guard let value = Self.value(of: name) else {
                    throw SkiffError(.invalidArgument, "\(path).\(field): unknown capability \"\(name)\"")
                }
                if value >= kernelCount {
                    throw SkiffError(.invalidArgument,
                                     "\(path).\(field): capability \"\(name)\" is not supported by this kernel (last is \(Self.name(of: kernelCount - 1)))")
                }
                result.insert(value)
            }
            return result
        }
        bounding = try parse(capabilities.bounding, "bounding")
        effective = try parse(capabilities.effective, "effective")
        inheritable = try parse(capabilities.inheritable, "inheritable")
        permitted = try parse(capabilities.permitted, "permitted")
        ambient = try parse(capabilities.ambient, "ambient")
    }

    package init(bounding: Set<Int32>, effective: Set<Int32>, inheritable: Set<Int32>, permitted: Set<Int32>,
         ambient: Set<Int32>) {
        self.bounding = bounding
        self.effective = effective
        self.inheritable = inheritable
        self.permitted = permitted
        self.ambient = ambient
    }

    /// The number of a spec name (`CAP_KILL`). libcap's parser also takes `cap_kill`, `5` and
    /// trailing blanks; the spec spells names one way, so the name must read back the same.
    package static func value(of name: String) -> Int32? {
        guard name.hasPrefix("CAP_"), let value = Capabilities.value(named: name) else { return nil }
        return self.name(of: value) == name ? value : nil
    }

    /// `CAP_KILL` for 5; the number itself for a capability libcap has no name for.
    package static func name(of value: Int32) -> String {
        guard let name = Capabilities.name(of: value) else { return String(value) }
        return name.hasPrefix("cap_") ? name.uppercased() : name
    }

    /// Every capability the kernel has, by name, for `features`.
    package static func kernelNames() -> [String] {
        (0..<kernelCount).map(name(of:)).filter { $0.hasPrefix("CAP_") }
    }

    /// What the kernel would refuse, found before anything is created (runtime side). The
    /// capability rules of capset(2): effective within permitted, inheritable within the
    /// bounding set. A capability the runtime itself lacks (this host's root may miss one in
    /// its bounding set) is left out of every set, as runc does since 1.1, and reported in
    /// `unavailable`.
    package func checked(available: Set<Int32>, path: String = "process.capabilities") throws(SkiffError) -> CapabilitySets {
        var sets = self
        sets.bounding.formIntersection(available)
        sets.effective.formIntersection(available)
        sets.inheritable.formIntersection(available)
        sets.permitted.formIntersection(available)
        sets.ambient.formIntersection(available)
        if let cap = sets.effective.subtracting(sets.permitted).min() {
            throw SkiffError(.invalidArgument, "\(path).effective: \"\(Self.name(of: cap))\" is not in permitted")
        }
        if let cap = sets.inheritable.subtracting(sets.bounding).min() {
            throw SkiffError(.invalidArgument, "\(path).inheritable: \"\(Self.name(of: cap))\" is not in bounding")
        }
        return sets
    }

    /// Every capability listed anywhere that is not in `available`.
    package func unavailable(_ available: Set<Int32>) -> [String] {
        bounding.union(effective).union(inheritable).union(permitted).union(ambient)
            .subtracting(available).sorted().map(Self.name(of:))
    }

    /// Ambient capabilities the kernel can raise: those also permitted and inheritable. runc
    /// silently skips the others, and `runc spec` of 1.1 wrote ambient without inheritable, so
    /// such configs must keep running.
    package var raisableAmbient: Set<Int32> { ambient.intersection(permitted).intersection(inheritable) }
}

/// The calling process's capabilities, through libcap.
package enum ProcessCapabilities {
    /// The capabilities still in our bounding set: a process can never hold more.
    package static func bounding() -> Set<Int32> {
        Set((0..<CapabilitySets.kernelCount).filter(Capabilities.isInBoundingSet))
    }
}
