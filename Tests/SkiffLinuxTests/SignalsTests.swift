import Glibc
import Testing

import SkiffLinux

/// `skiff kill` takes the signal the way runc and kill(1) do: by name in any case, with or
/// without SIG, by number, and as an offset from the real-time range.
@Suite struct SignalsTests {
    @Test(arguments: [
        ("KILL", SIGKILL), ("SIGKILL", SIGKILL), ("kill", SIGKILL), ("SigTerm", SIGTERM),
        ("9", SIGKILL), ("15", SIGTERM), ("1", SIGHUP), ("64", 64),
        ("HUP", SIGHUP), ("WINCH", SIGWINCH), ("SIGUSR1", SIGUSR1), ("CHLD", SIGCHLD),
        ("SIGRTMIN", 34), ("RTMIN", 34), ("SIGRTMAX", 64),
        ("SIGRTMIN+3", 37), ("rtmin+3", 37), ("RTMIN+30", 64), ("RTMAX-1", 63), ("SIGRTMAX-30", 34),
    ])
    func parsesValidSignals(text: String, expected: Int32) {
        #expect(Signals.parse(text) == expected)
    }

    @Test(arguments: [
        "FOO", "SIGFOO", "", "SIG", "0", "65", "-1", "-9", "999999999999", "9x", "KILL ",
        "SIGRTMIN+40", "RTMIN+31", "RTMAX-31", "RTMIN+-1", "RTMAX-", "RTMIN+", "SIGSIGKILL",
    ])
    func rejectsInvalidSignals(text: String) {
        #expect(Signals.parse(text) == nil)
    }

    /// The table must agree with the C library: a wrong number would deliver another signal.
    @Test func everyNameMapsToItsLibcNumber() {
        for (name, number) in Signals.names {
            let text = String(cString: strsignal(number))
            #expect(!text.hasPrefix("Unknown signal"), "\(name) = \(number)")
            #expect(Signals.parse("SIG" + name) == number)
        }
    }
}
