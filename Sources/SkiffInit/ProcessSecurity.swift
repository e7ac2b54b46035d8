#if canImport(Glibc)
import Glibc
#endif
import CCap
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// The security settings of a process, applied by init in the order the kernel's rules
/// impose (ProcessLauncher calls the hooks):
///
/// | hook | what | why there |
/// |---|---|---|
/// | `beforeUserSwitch` | non-dumpable; LSM exec attrs; bounding set dropped, KEEPCAPS | dropping needs CAP_SETPCAP, attr files need no DAC trouble |
/// | `afterUserSwitch` | permitted/effective/inheritable, then ambient | setresuid clears what KEEPCAPS does not keep |
/// | `beforeReady` | seccomp with a listener | the runtime must still be there to pass the fd on |
/// | `lastBeforeExec` | seccomp | after the exec.fifo wait, so a profile that denies openat or getcwd still starts |
///
/// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: unless the process keeps it,
/// the filter is loaded at the end of `beforeUserSwitch` instead, as runc does; the profile
/// must then allow the calls init still makes (setresuid, capset, chdir, the fifo's openat).
struct ProcessSecurity {
    enum SeccompMoment: Equatable, Sendable {
        case none
        case beforeUserSwitch
        case beforeReady
        case lastBeforeExec
    }

    let process: Process
    let capabilities: CapabilitySets
    let labels: LSMLabels
    let seccomp: SeccompProgram?
    let seccompMoment: SeccompMoment
    private let listenerChannel: OwnedFD?
    /// The bounding set when init read it, before anything was dropped.
    private let availableCapabilities: Set<Int32>
    private let attrWriter: any ProcAttrWriter

    init(process: Process) throws {
        try self.init(process: process, environment: InitEnvironment.value, attrWriter: ProcfsAttrWriter())
    }

    init(process: Process, environment: (String) -> String?, attrWriter: any ProcAttrWriter,
         availableCapabilities: Set<Int32> = ProcessCapabilities.bounding()) throws {
        self.process = process
        self.attrWriter = attrWriter
        self.availableCapabilities = availableCapabilities
        // The runtime checked these; what it could not have is filtered the same way here.
        capabilities = try CapabilitySets(process.capabilities).checked(available: availableCapabilities)
        labels = LSMLabels(process: process, selinuxEnabled: environment(InitEnvironment.selinux) == "1")
        if let fd = environment(InitEnvironment.seccompProgram).flatMap(Int32.init) {
            let owned = OwnedFD(fd)
            seccomp = try SeccompProgram.read(from: owned)
            owned.close()
        } else {
            seccomp = nil
        }
        listenerChannel = environment(InitEnvironment.seccompListener).flatMap(Int32.init).map(OwnedFD.init)
        seccompMoment = Self.moment(seccomp: seccomp, noNewPrivileges: process.noNewPrivileges == true,
                                    effective: capabilities.effective)
    }

    static func moment(seccomp: SeccompProgram?, noNewPrivileges: Bool, effective: Set<Int32>) -> SeccompMoment {
        guard let seccomp else { return .none }
        let canLoadUnprivileged = noNewPrivileges || effective.contains(CAP_SYS_ADMIN)
        if !canLoadUnprivileged { return .beforeUserSwitch }
        return seccomp.hasListener ? .beforeReady : .lastBeforeExec
    }

    func beforeUserSwitch() throws {
        // CVE-2016-9962: until execve, init holds the runtime's fds; a process of the
        // container must not ptrace it or open its /proc/<pid>/fd. execve resets it.
        try ProcessControl.setNotDumpable()
        try labels.apply(attrWriter)
        try ProcessCapabilities.dropBounding(keep: capabilities.bounding, present: availableCapabilities)
        if seccompMoment == .beforeUserSwitch { try loadSeccomp() }
    }

    func afterUserSwitch() throws {
        try ProcessCapabilities.apply(capabilities)
    }

    func beforeReady() throws {
        if seccompMoment == .beforeReady { try loadSeccomp() }
    }

    /// Runs after the exec.fifo handshake: the runtime is gone, errors only reach stderr.
    func lastBeforeExec() throws {
        if seccompMoment == .lastBeforeExec { try loadSeccomp() }
    }

    private func loadSeccomp() throws {
        guard let seccomp else { return }
        let listener = try seccomp.load()
        if let listener {
            guard let channel = listenerChannel else {
                throw SkiffError(.system, "seccomp: the filter has a listener but the runtime gave no channel for it")
            }
            try SeccompListener.handOver(listener, channel: channel)
        }
    }
}


extension SeccompProgram {
    /// seccomp(SECCOMP_SET_MODE_FILTER). Returns the listener fd when the filter notifies.
    /// Needs no_new_privs or CAP_SYS_ADMIN, which is why ProcessSecurity picks the moment.
    func load() throws(SkiffError) -> OwnedFD? {
        do {
            return try Seccomp.setFilter(flags: flags, instructions: instructions, newListener: hasListener)
        } catch {
            throw SkiffError(.system, error)
        }
    }
}
