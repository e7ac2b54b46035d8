import SkiffOCI

/// The security settings of a process, in the order the kernel's rules impose: what needs
/// privilege before the switch to the process's uid, the capability sets after it, and what
/// must come last (a seccomp filter that may forbid the calls init itself still makes).
/// Capabilities go through libcap and seccomp through libseccomp (issue: security).
struct ProcessSecurity {
    let process: Process

    init(process: Process) throws {
        self.process = process
    }

    func beforeUserSwitch() throws {}
    func afterUserSwitch() throws {}
    func lastBeforeExec() throws {}
}
