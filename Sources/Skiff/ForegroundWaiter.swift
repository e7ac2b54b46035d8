#if canImport(Glibc)
import Glibc
#endif
import SkiffLinux

/// Waits for a foreground container process that is our child, forwarding every catchable
/// signal skiff receives to it, so `kill <skiff>` and Ctrl-C reach the container as with
/// runc, and proxying the terminal when skiff holds it.
struct ForegroundWaiter {
    let pid: Int32
    var terminal: TerminalProxy?

    init(pid: Int32, terminal: TerminalProxy? = nil) {
        self.pid = pid
        self.terminal = terminal
    }

    /// Signals that are never forwarded: SIGCHLD is ours, KILL/STOP cannot be caught, and
    /// SIGWINCH resizes the pty when we hold the terminal.
    static let notForwarded: Set<Int32> = [SIGCHLD, SIGKILL, SIGSTOP]

    func wait() throws -> Processes.Exit {
        defer { terminal?.restore() }
        var mask = sigset_t()
        sigfillset(&mask)
        sigdelset(&mask, SIGKILL)
        sigdelset(&mask, SIGSTOP)
        let previous = try SignalFD.block(mask)
        defer { SignalFD.restore(previous) }
        let signals = try SignalFD.open(mask)
        // The pidfd tells us about the exit even when SIGCHLD goes to another thread of an
        // embedding process (a signal mask is per thread).
        let pidfd = try Processes.pidfd(pid)
        var stdinOpen = terminal != nil
        var masterOpen = terminal != nil
        while true {
            if let exit = try Processes.tryWait(pid) {
                if let terminal, masterOpen {
                    // Whatever the process wrote before exiting is still in the pty.
                    try? terminal.master.setNonBlocking(true)
                    while terminal.pump(from: terminal.master.raw, to: 1) {}
                }
                return exit
            }
            var entries = [pollfd(fd: signals.raw, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: pidfd.raw, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: stdinOpen ? 0 : -1, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: masterOpen ? terminal!.master.raw : -1, events: Int16(POLLIN), revents: 0)]
            try Poll.wait(&entries, timeout: -1)
            if let terminal {
                if entries[2].revents != 0, !terminal.pump(from: 0, to: terminal.master.raw) {
                    stdinOpen = false
                }
                if entries[3].revents != 0, !terminal.pump(from: terminal.master.raw, to: 1) {
                    masterOpen = false
                }
            }
            guard entries[0].revents & Int16(POLLIN) != 0 else { continue }
            guard let signal = try SignalFD.next(signals) else { continue }
            if signal == SIGWINCH, let terminal {
                terminal.resize()
            } else if !Self.notForwarded.contains(signal) {
                try? Processes.kill(pid, signal)
            }
        }
    }
}

/// Blocks every catchable signal until `release`, so they stay pending for ForegroundWaiter's
/// signalfd instead of killing skiff while a foreground container is being set up.
final class SignalHold {
    private var previous = sigset_t()
    private var held = false

    init() {
        var mask = sigset_t()
        sigfillset(&mask)
        sigdelset(&mask, SIGKILL)
        sigdelset(&mask, SIGSTOP)
        held = sigprocmask(SIG_BLOCK, &mask, &previous) == 0
    }

    func release() {
        if held { sigprocmask(SIG_SETMASK, &previous, nil) }
        held = false
    }

    deinit { release() }
}
