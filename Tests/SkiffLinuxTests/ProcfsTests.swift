import Foundation
import Glibc
import Testing

import SkiffLinux

@Suite struct ProcfsTests {
    /// With the pid, the start time tells a live process from a later one given the same pid;
    /// it must not change while the process lives.
    @Test func startTimeOfThisProcessIsStable() throws {
        let first = try #require(Procfs.startTime(of: getpid()))
        #expect(first > 0)
        #expect(Procfs.startTime(of: getpid()) == first)
        // Field 22 as a second, independent parse: the 20th field after the ") ".
        let stat = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
        let afterName = stat[stat.range(of: ") ", options: .backwards)!.upperBound...]
        #expect(UInt64(afterName.split(separator: " ")[19]) == first)
    }

    @Test func startTimeOfAMissingProcessIsNil() {
        #expect(Procfs.startTime(of: Int32.max) == nil)
        #expect(Procfs.processState(of: Int32.max) == nil)
    }

    /// The command name may hold spaces and parentheses; the fields after it must still be
    /// found (a process can name itself to confuse a naive parser).
    @Test func startTimeWithAHostileCommandName() throws {
        let temp = try TemporaryDirectory("skiff-procfs")
        let name = "a) b ( c) 1 2"
        try temp.symlink(name, to: "/bin/sleep")
        let pid = try Processes.spawn(path: temp.file(name), arguments: [name, "30"], environment: [],
                                      fds: [], closeFrom: 3).pid
        defer {
            kill(pid, SIGKILL)
            _ = try? Processes.wait(pid)
        }
        let start = try #require(Procfs.startTime(of: pid))
        #expect(start >= Procfs.startTime(of: getpid())!)
        #expect(Procfs.processState(of: pid) != nil)
        #expect(Procfs.processState(of: pid) != "Z")
    }

    /// The fields after the last ')', separated by blanks; too few fields, or a field 22 that is
    /// not a number that fits, is no answer rather than a wrong one.
    @Test func parseStatFindsFieldsThreeAndTwentyTwo() {
        let tail = (4...21).map(String.init).joined(separator: " ")
        func parse(_ text: String) -> (state: Character, startTime: UInt64)? { Procfs.parseStat(Array(text.utf8)) }
        #expect(parse("1 (a) b) S \(tail) 12345 23 24\n").map { "\($0.state) \($0.startTime)" } == "S 12345")
        #expect(parse("1 (x) R \(tail) 7\n").map { "\($0.state) \($0.startTime)" } == "R 7")
        #expect(parse("1 (x) R \(tail)\n") == nil)
        #expect(parse("1 (x) R \(tail) 12a 1") == nil)
        #expect(parse("1 (x) R \(tail) 18446744073709551616 1") == nil)
        #expect(parse("1 x R \(tail) 5") == nil)
        #expect(parse("") == nil)
    }

    @Test func readOfProcfsWorks() throws {
        let text = try Procfs.read("/proc/self/status")
        #expect(text.contains("Pid:\t\(getpid())\n"))
    }

    /// A write meant for /proc landing on another filesystem (an image's fake /proc) is refused.
    @Test func writeRefusesAFileThatIsNotOnProcfs() throws {
        let temp = try TemporaryDirectory("skiff-procfs")
        try temp.write("oom_score_adj", "0")
        let path = temp.file("oom_score_adj")
        do {
            try Procfs.write(path, "-1000")
            Issue.record("wrote to a non-procfs file")
        } catch {
            #expect(error.operation == "verify procfs")
            #expect(error.description.hasPrefix("verify procfs \"\(path)\": "))
        }
        #expect(try temp.read("oom_score_adj") == "0")
    }

    /// A symlink to a real /proc file is refused too: the last component is not followed.
    @Test func openRefusesASymlinkToProcfs() throws {
        let temp = try TemporaryDirectory("skiff-procfs")
        try temp.symlink("status", to: "/proc/self/status")
        #expect(throws: LinuxError("open", path: temp.file("status"), errno: ELOOP)) {
            try Procfs.read(temp.file("status"))
        }
    }
}
