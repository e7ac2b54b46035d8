#if canImport(Glibc)
import Glibc
#endif

/// Signal names as `kill` accepts them: "KILL", "SIGKILL", "9", and SIGRTMIN+n forms.
public enum Signals {
    public static let names: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("ILL", SIGILL), ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT), ("IOT", SIGIOT), ("BUS", SIGBUS), ("FPE", SIGFPE), ("KILL", SIGKILL),
        ("USR1", SIGUSR1), ("SEGV", SIGSEGV), ("USR2", SIGUSR2), ("PIPE", SIGPIPE),
        ("ALRM", SIGALRM), ("TERM", SIGTERM), ("STKFLT", SIGSTKFLT), ("CHLD", SIGCHLD),
        ("CONT", SIGCONT), ("STOP", SIGSTOP), ("TSTP", SIGTSTP), ("TTIN", SIGTTIN),
        ("TTOU", SIGTTOU), ("URG", SIGURG), ("XCPU", SIGXCPU), ("XFSZ", SIGXFSZ),
        ("VTALRM", SIGVTALRM), ("PROF", SIGPROF), ("WINCH", SIGWINCH), ("IO", SIGIO),
        ("POLL", SIGPOLL), ("PWR", SIGPWR), ("SYS", SIGSYS),
    ]

    /// The highest signal number the kernel accepts (SIGRTMAX, 64 on Linux).
    public static let maximum: Int32 = 64

    /// Parses a signal given by number or name, with or without the SIG prefix, any case.
    /// Returns nil for anything else.
    public static func parse(_ text: String) -> Int32? {
        if let number = Int32(text) {
            return (1...maximum).contains(number) ? number : nil
        }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let match = names.first(where: { $0.0 == name }) { return match.1 }
        let rtMin: Int32 = 34, rtMax: Int32 = 64
        if name == "RTMIN" { return rtMin }
        if name == "RTMAX" { return rtMax }
        if name.hasPrefix("RTMIN+"), let n = Int32(name.dropFirst(6)), rtMin + n <= rtMax, n >= 0 { return rtMin + n }
        if name.hasPrefix("RTMAX-"), let n = Int32(name.dropFirst(6)), rtMax - n >= rtMin, n >= 0 { return rtMax - n }
        return nil
    }
}
