#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux
import SkiffOCI

/// The process's own settings, applied in runc's order once the container around it is
/// ready, then execve. Shared by a new container's init and by exec.
struct ProcessLauncher {
    let process: Process
    let preserveFds: Int
    let setup: ProcessSetup
    let security: ProcessSecurity
    let environment: [String]
    let tuning: ProcessTuning
    private(set) var executable = ""

    /// `linux` is the container's (create) or nil (exec: personality and the memory policy
    /// are the container's, set once by its init).
    init(process: Process, linux: Linux?, preserveFds: Int, listenFds: Int) throws {
        self.process = process
        self.preserveFds = preserveFds
        self.tuning = try ProcessTuning(process: process, linux: linux)
        let setgroupsDenied = (try? Files.readString("/proc/self/setgroups"))?.hasPrefix("deny") == true
        self.setup = ProcessSetup(process: process, setgroupsAllowed: !setgroupsDenied)
        self.security = try ProcessSecurity(process: process)
        var environment = setup.environment()
        if listenFds > 0 {
            // Socket activation: the fds 3…3+N-1 are the listeners, and LISTEN_PID must be
            // the pid the process sees itself as (1 in a new pid namespace).
            environment.removeAll { $0.hasPrefix("LISTEN_FDS=") || $0.hasPrefix("LISTEN_PID=") }
            environment += ["LISTEN_FDS=\(listenFds)", "LISTEN_PID=\(getpid())"]
        }
        self.environment = environment
    }

    /// Everything that can fail and must be reported to the caller of create/exec.
    mutating func prepare() throws {
        try setup.applyRlimits()
        try tuning.applyPrivileged()
        if process.noNewPrivileges == true {
            try ProcessControl.setNoNewPrivileges()
        }
        try security.beforeUserSwitch()
        let enteredEarly = try setup.enterWorkingDirectoryEarly()
        try setup.switchUser()
        try security.afterUserSwitch()
        try setup.enterWorkingDirectory(enteredEarly: enteredEarly)
        executable = try setup.resolveExecutable(environment: environment)
        // Before a listener filter loads: the agent must not see init's own sched_setaffinity.
        try tuning.applyFinalAffinity()
        try security.beforeReady()
    }

    /// Marks every fd but stdio and the preserved ones close-on-exec, loads what must come
    /// last, and execs. Only returns through exit.
    func exec() -> Never {
        // Only stdio and the preserved fds reach the process (runc CVE-2024-21626): the rest
        // are close-on-exec so they stay usable if execve fails.
        ProcessControl.markCloseOnExec(from: Int32(3 + preserveFds))
        let argv = (process.args ?? []).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        ProcessControl.resetSignals()
        // The seccomp filter last: nothing but execve runs under it (a profile may deny
        // rt_sigaction or the allocator's mmap).
        do {
            try security.lastBeforeExec()
        } catch {
            ContainerInit.writeStderr("skiff init: \(error)\n")
            exit(1)
        }
        execve(executable, argv, envp)
        let code = currentErrno()
        ContainerInit.writeStderr("skiff init: exec \"\(executable)\": \(LinuxError.text(code))\n")
        exit(code == ENOENT ? 127 : 126)
    }
}
