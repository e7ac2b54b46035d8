#if canImport(Glibc)
import Glibc
#endif
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// The steps of ProcessSecurity (LSM labels, capabilities, seccomp) that ProcessLauncher places
/// around the user switch; the unit tests record them beside the kernel's calls to check the order.
protocol ProcessSecuritySteps {
    func beforeUserSwitch() throws
    func afterUserSwitch() throws
    func beforeReady() throws
    func lastBeforeExec() throws
}

extension ProcessSecurity: ProcessSecuritySteps {}

/// The process's own settings, applied in runc's order once the container around it is
/// ready, then execve. Shared by a new container's init and by exec. Kernel calls up to
/// execve go through `kernel` (InitKernel), so tests can record them.
struct ProcessLauncher<Kernel: InitKernel, Security: ProcessSecuritySteps> {
    let process: Process
    let preserveFds: Int
    let setup: ProcessSetup<Kernel>
    let security: Security
    let environment: [String]
    let tuning: ProcessTuning
    let kernel: Kernel
    private(set) var executable = ""

    /// `linux` is the container's (create) or nil (exec: personality and the memory policy
    /// are the container's, set once by its init). `security` is made after the tuning is
    /// checked, so a bad field is reported in the order the config lists them.
    init(process: Process, linux: Linux?, preserveFds: Int, listenFds: Int, kernel: Kernel,
         security: () throws -> Security) throws {
        self.process = process
        self.preserveFds = preserveFds
        self.kernel = kernel
        self.tuning = try ProcessTuning(process: process, linux: linux)
        // Through a verified procfs: in an exec's init /proc is the container's, and a file
        // planted there must not decide whether the configured groups are set.
        let setgroupsDenied = (try? kernel.readProcfs("/proc/self/setgroups"))?.hasPrefix("deny") == true
        self.setup = ProcessSetup(process: process, setgroupsAllowed: !setgroupsDenied, kernel: kernel)
        self.security = try security()
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
        try tuning.applyPrivileged(kernel)
        if process.noNewPrivileges == true {
            try kernel.setNoNewPrivileges()
        }
        try security.beforeUserSwitch()
        let enteredEarly = try setup.enterWorkingDirectoryEarly()
        try setup.switchUser()
        try security.afterUserSwitch()
        try setup.enterWorkingDirectory(enteredEarly: enteredEarly)
        executable = try setup.resolveExecutable(environment: environment)
        // Before a listener filter loads: the agent must not see init's own sched_setaffinity.
        try tuning.applyFinalAffinity(kernel)
        try security.beforeReady()
    }

    /// Marks every fd but stdio and the preserved ones close-on-exec, loads what must come
    /// last, and execs. Only returns through exit. Not through `kernel`: nothing after it can
    /// be observed in a test process that must go on running.
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
        let code = ProcessControl.execute(executable, arguments: argv, environment: envp)
        ContainerInit.writeStderr("skiff init: exec \"\(executable)\": \(LinuxError.text(code))\n")
        exit(code == ENOENT ? 127 : 126)
    }
}

extension ProcessLauncher where Kernel == LinuxInitKernel, Security == ProcessSecurity {
    /// The real kernel's launcher, as ContainerInit makes it.
    init(process: Process, linux: Linux?, preserveFds: Int, listenFds: Int) throws {
        try self.init(process: process, linux: linux, preserveFds: preserveFds, listenFds: listenFds,
                      kernel: LinuxInitKernel(), security: { try ProcessSecurity(process: process) })
    }
}
