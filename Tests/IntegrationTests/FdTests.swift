import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A command started with posix_spawn, for what Foundation.Process cannot set up: chosen fds
/// at 3 and above (as a shim or systemd hands them over), an exact environment, a pipe as
/// stdout, or a new session whose controlling terminal is a pty.
final class Launched {
    /// Where one fd of the child comes from.
    enum Source {
        /// `open(path, flags)`; without O_NOCTTY a tty becomes the new session's terminal.
        case path(String, Int32)
        /// dup2 of one of the test's own fds.
        case fd(Int32)
    }

    let pid: pid_t
    private var reaped: Outcome?

    /// Starts `executable` with exactly `fds` open (every other fd of the test is closed in
    /// the child) and `environment` as its whole environment.
    init(
        _ executable: String, _ arguments: [String], fds: [Int32: Source],
        environment: [String] = Launched.defaultEnvironment, newSession: Bool = false
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 of the test's fds first: a later open may take the number one of them has.
        for (target, source) in fds.sorted(by: { $0.key < $1.key }) {
            if case .fd(let fd) = source { posix_spawn_file_actions_adddup2(&actions, fd, target) }
        }
        for (target, source) in fds.sorted(by: { $0.key < $1.key }) {
            if case .path(let path, let flags) = source {
                posix_spawn_file_actions_addopen(&actions, target, path, flags, 0o644)
            }
        }
        let highest = fds.keys.max() ?? 2
        try #require(Launched.addCloseFrom != nil, "glibc has no posix_spawn_file_actions_addclosefrom_np")
        _ = Launched.addCloseFrom?(&actions, max(highest + 1, 3))

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A shell's defaults: nothing blocked or ignored, whatever the test runner set.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigemptyset(&all)
        for signal in 1..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&all, Int32(signal)) }
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= Launched.spawnSetsid }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL)
        }
        self.pid = pid
    }

    /// glibc's POSIX_SPAWN_SETSID, a GNU extension Swift's Glibc module does not export.
    static let spawnSetsid: Int32 = 0x80

    /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34), also a GNU extension: every
    /// fd of the test from the given one on is closed in the child.
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    static let addCloseFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddCloseFrom.self) }

    /// The test's environment without the variables a test sets itself.
    static var defaultEnvironment: [String] {
        ProcessInfo.processInfo.environment
            .filter { !["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"].contains($0.key) }
            .map { "\($0.key)=\($0.value)" }
    }

    var isRunning: Bool {
        if reaped != nil { return false }
        return tryReap() == nil
    }

    /// Reaps the child if it exited; its status, or nil while it runs.
    private func tryReap() -> Outcome? {
        if let reaped { return reaped }
        var status: Int32 = 0
        let got = waitpid(pid, &status, WNOHANG)
        guard got == pid else { return nil }
        let signal = status & 0x7f
        reaped = Outcome(
            status: signal == 0 ? (status >> 8) & 0xff : signal, signaled: signal != 0,
            stdout: "", stderr: "", timedOut: false)
        return reaped
    }

    /// Waits for the exit, killing the child after `timeout` seconds. stdout and stderr are
    /// read from `stdoutPath`/`stderrPath` when given.
    func wait(timeout: Double = 20, stdoutPath: String? = nil, stderrPath: String? = nil) -> Outcome {
        var timedOut = false
        if !poll(timeout: timeout, interval: 0.002, { tryReap() != nil }) {
            kill(pid, SIGKILL)
            timedOut = true
            poll(timeout: 5) { tryReap() != nil }
        }
        var outcome = reaped ?? Outcome(status: -1, signaled: false, stdout: "", stderr: "", timedOut: true)
        outcome.timedOut = timedOut
        outcome.stdout = stdoutPath.flatMap(readFile) ?? ""
        outcome.stderr = stderrPath.flatMap(readFile) ?? ""
        return outcome
    }

    deinit {
        if reaped == nil, tryReap() == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

/// skiff started in the background as a shell starts it: no signal blocked or ignored (a child
/// of Foundation.Process inherits the test thread's blocked signals, which would hide every
/// signal that reaches skiff before it blocks them itself), output in files.
final class LaunchedSkiff {
    let launched: Launched
    let stdoutPath: String
    let stderrPath: String

    init(_ sandbox: Sandbox, _ arguments: [String]) throws {
        let name = UUID().uuidString
        stdoutPath = sandbox.path("\(name).out")
        stderrPath = sandbox.path("\(name).err")
        launched = try Launched(Paths.binary, ["--root", sandbox.root] + arguments, fds: [
            0: .path("/dev/null", O_RDONLY),
            1: .path(stdoutPath, O_WRONLY | O_CREAT | O_TRUNC),
            2: .path(stderrPath, O_WRONLY | O_CREAT | O_TRUNC),
        ])
    }

    var pid: Int32 { launched.pid }
    var stdout: String { readFile(stdoutPath) ?? "" }

    func wait(timeout: Double = 20) -> Outcome {
        launched.wait(timeout: timeout, stdoutPath: stdoutPath, stderrPath: stderrPath)
    }
}

extension Sandbox {
    /// Runs `skiff --root <root> arguments…` with stdin /dev/null, stdout and stderr in
    /// files, and `extra` open at fd 3 onwards (each a file of the sandbox, opened read-only).
    func skiff(
        _ arguments: [String], extraFDs extra: [String],
        environment: [String] = Launched.defaultEnvironment, timeout: Double = 20
    ) -> Outcome {
        let name = UUID().uuidString
        let out = path("\(name).out"), err = path("\(name).err")
        var fds: [Int32: Launched.Source] = [
            0: .path("/dev/null", O_RDONLY),
            1: .path(out, O_WRONLY | O_CREAT | O_TRUNC),
            2: .path(err, O_WRONLY | O_CREAT | O_TRUNC),
        ]
        for (index, file) in extra.enumerated() { fds[Int32(3 + index)] = .path(file, O_RDONLY) }
        do {
            let launched = try Launched(Paths.binary, ["--root", root] + arguments, fds: fds, environment: environment)
            return launched.wait(timeout: timeout, stdoutPath: out, stderrPath: err)
        } catch {
            return Outcome(status: -1, signaled: false, stdout: "", stderr: "spawn failed: \(error)", timedOut: false)
        }
    }

    /// Files `fd3`, `fd4`… in the sandbox, each holding its own name, for handing over.
    func handoverFiles(_ count: Int) throws -> [String] {
        try (0..<count).map { index in
            let file = path("fd\(3 + index)")
            try "fd\(3 + index)\n".write(toFile: file, atomically: false, encoding: .utf8)
            return file
        }
    }
}

/// A script that prints what arrived at fds 3…`last` (one line each, "-" when closed), then
/// becomes `ls /proc/self/fd`, which lists the fds the process had plus its own dirfd (the
/// lowest free number). A shell listing itself would show the pipe of its `$(…)` or `|`.
func describeFDs(upTo last: Int) -> String {
    let reads = (3...max(last, 3)).map { "cat 2>/dev/null <&\($0) || echo -" }.joined(separator: "; ")
    return "\(reads); exec ls /proc/self/fd"
}

/// What `describeFDs` lists when the process got stdio and `passed` more fds.
func fdList(passed: Int) -> [String] { (0...(3 + passed)).map(String.init) }

/// --preserve-fds, socket activation and stdio: the fds a container's process gets are
/// exactly stdio, the $LISTEN_FDS and the N asked for; nothing else skiff had open.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct FdTests {
    // MARK: --preserve-fds

    @Test func runPreservesExactlyTheFdsAskedFor() throws {
        try Sandbox.with { sandbox in
            // fds 3, 4 and 5 are open in skiff; only 3 and 4 are asked for.
            let files = try sandbox.handoverFiles(3)
            let id = sandbox.id("pfds")
            let bundle = try sandbox.bundle(args: sh(describeFDs(upTo: 5)))
            let outcome = sandbox.skiff(["run", "--preserve-fds", "2", "--bundle", bundle, id], extraFDs: files)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["fd3", "fd4", "-"] + fdList(passed: 2))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func runWithoutPreserveFdsPassesOnlyStdio() throws {
        try Sandbox.with { sandbox in
            let files = try sandbox.handoverFiles(3)
            let id = sandbox.id("nofds")
            let bundle = try sandbox.bundle(args: sh(describeFDs(upTo: 5)))
            let outcome = sandbox.skiff(["run", "--bundle", bundle, id], extraFDs: files)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["-", "-", "-"] + fdList(passed: 0))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func execPreservesExactlyTheFdsAskedFor() throws {
        try Sandbox.with { sandbox in
            let files = try sandbox.handoverFiles(3)
            let container = try sandbox.runningContainer("epfds")
            let outcome = sandbox.skiff(
                ["exec", "--preserve-fds", "2", container.id] + sh(describeFDs(upTo: 5)), extraFDs: files)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["fd3", "fd4", "-"] + fdList(passed: 2))
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func execWithoutPreserveFdsPassesOnlyStdio() throws {
        try Sandbox.with { sandbox in
            let files = try sandbox.handoverFiles(3)
            let container = try sandbox.runningContainer("enofds")
            let outcome = sandbox.skiff(["exec", container.id] + sh(describeFDs(upTo: 5)), extraFDs: files)
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["-", "-", "-"] + fdList(passed: 0))
        }
    }

    @Test(arguments: [
        ["--preserve-fds", "-1"], ["--preserve-fds=-1"], ["--preserve-fds", "100000"],
        ["--preserve-fds", "99999999999999999999"], ["--preserve-fds", "two"],
    ])
    func execRejectsABadPreserveFds(_ flag: [String]) throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("badfds")
            let outcome = sandbox.skiff(["exec"] + flag + [container.id, "true"])
            expectRejected(outcome, mentioning: ["--preserve-fds"], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test(arguments: [["--preserve-fds", "100000"], ["--preserve-fds", "99999999999999999999"]])
    func runRejectsAHugePreserveFds(_ flag: [String]) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("hugefds")
            let bundle = try sandbox.bundle(args: ["true"])
            let outcome = sandbox.skiff(["run"] + flag + ["--bundle", bundle, id])
            expectRejected(outcome, mentioning: ["--preserve-fds"], in: sandbox, id: id)
            #expect(sandbox.rootEntries == [])
        }
    }

    // MARK: socket activation

    /// `skiff run` with LISTEN_FDS=2 and fds 3, 4 (and an unrelated 5) open.
    func runWithListenFds(
        _ sandbox: Sandbox, _ id: String, listenPid: String?, preserveFds: Int = 0
    ) throws -> Outcome {
        let files = try sandbox.handoverFiles(4)
        let bundle = try sandbox.bundle(args: sh("echo LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID; " + describeFDs(upTo: 6)))
        let command = ["run", "--preserve-fds", "\(preserveFds)", "--bundle", bundle, id]
        var environment = Launched.defaultEnvironment + ["LISTEN_FDS=2"]
        guard let listenPid else { return sandbox.skiff(command, extraFDs: files, environment: environment) }
        if listenPid != "$$" { environment.append("LISTEN_PID=\(listenPid)") }
        // A shell that sets LISTEN_PID to its own pid and then becomes skiff, as systemd
        // sets it for the process it starts.
        let script = listenPid == "$$" ? #"LISTEN_PID=$$ exec "$@""# : #"exec "$@""#
        let name = UUID().uuidString
        let out = sandbox.path("\(name).out"), err = sandbox.path("\(name).err")
        var fds: [Int32: Launched.Source] = [
            0: .path("/dev/null", O_RDONLY), 1: .path(out, O_WRONLY | O_CREAT), 2: .path(err, O_WRONLY | O_CREAT),
        ]
        for (index, file) in files.enumerated() { fds[Int32(3 + index)] = .path(file, O_RDONLY) }
        let launched = try Launched(
            "/bin/sh", ["-c", script, "sh", Paths.binary, "--root", sandbox.root] + command, fds: fds,
            environment: environment)
        return launched.wait(stdoutPath: out, stderrPath: err)
    }

    @Test func listenFdsWithoutListenPidArePassedOn() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("listen")
            let outcome = try runWithListenFds(sandbox, id, listenPid: nil)
            #expect(outcome.succeeded, "\(outcome)")
            // LISTEN_PID is the pid the process has in its own namespace.
            #expect(outcome.lines == ["LISTEN_FDS=2 LISTEN_PID=1", "fd3", "fd4", "-", "-"] + fdList(passed: 2))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func listenFdsForSkiffsOwnPidArePassedOn() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("listenpid")
            let outcome = try runWithListenFds(sandbox, id, listenPid: "$$")
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["LISTEN_FDS=2 LISTEN_PID=1", "fd3", "fd4", "-", "-"] + fdList(passed: 2))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func listenFdsForAnotherPidAreNotPassedOn() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("listenother")
            let outcome = try runWithListenFds(sandbox, id, listenPid: "1")
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["LISTEN_FDS= LISTEN_PID=", "-", "-", "-", "-"] + fdList(passed: 0))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func listenFdsComeBeforeThePreservedOnes() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("listenpreserve")
            let outcome = try runWithListenFds(sandbox, id, listenPid: nil, preserveFds: 1)
            #expect(outcome.succeeded, "\(outcome)")
            // LISTEN_FDS counts only the listeners; fd 5 is the one preserved after them.
            #expect(outcome.lines == ["LISTEN_FDS=2 LISTEN_PID=1", "fd3", "fd4", "fd5", "-"] + fdList(passed: 3))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func execPassesListenFdsWithTheProcessesOwnPid() throws {
        try Sandbox.with { sandbox in
            let files = try sandbox.handoverFiles(3)
            let container = try sandbox.runningContainer("elisten")
            let outcome = sandbox.skiff(
                ["exec", container.id] + sh("echo LISTEN_FDS=$LISTEN_FDS; [ \"$LISTEN_PID\" = $$ ] && echo own-pid; " + describeFDs(upTo: 5)),
                extraFDs: files, environment: Launched.defaultEnvironment + ["LISTEN_FDS=2"])
            #expect(outcome.succeeded, "\(outcome)")
            #expect(outcome.lines == ["LISTEN_FDS=2", "own-pid", "fd3", "fd4", "-"] + fdList(passed: 2))
        }
    }

    // MARK: stdio

    /// A shim gives the container a pipe as stdout and goes away: the container writes into
    /// that very pipe after skiff has exited, and the reader sees EOF when the process exits.
    @Test(arguments: [false, true])
    func stdoutPipeReachesTheProcessAfterSkiffExits(exec: Bool) throws {
        try Sandbox.with { sandbox in
            let control = try Control(sandbox)
            let script = "\(Control.waitForGo); echo late"
            var id = sandbox.id("pipe")
            var command: [String]
            if exec {
                let container = try sandbox.runningContainer("pipe") { $0.mounts?.append(control.mount) }
                id = container.id
                command = ["exec", "--detach", id] + sh(script)
            } else {
                let bundle = try sandbox.bundle(args: sh(script)) { $0.mounts?.append(control.mount) }
                command = ["run", "--detach", "--bundle", bundle, id]
            }
            var ends: [Int32] = [0, 0]
            try #require(pipe(&ends) == 0)
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            defer { close(ends[0]) }
            let err = sandbox.path("pipe.err")
            let launched = try Launched(Paths.binary, ["--root", sandbox.root] + command, fds: [
                0: .path("/dev/null", O_RDONLY), 1: .fd(ends[1]), 2: .path(err, O_WRONLY | O_CREAT),
            ])
            close(ends[1])
            let started = launched.wait(stderrPath: err)
            #expect(started.succeeded, "\(started)")

            control.release()
            // Read to EOF: only the container's process still holds the write end.
            var output = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            var pollEntry = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                guard Glibc.poll(&pollEntry, 1, 100) > 0 else { continue }
                let n = buffer.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
                if n <= 0 { break }
                output += buffer[0..<n]
            }
            #expect(String(decoding: output, as: UTF8.self) == "late\n")
            if !exec {
                #expect(sandbox.waitFor(id, status: "stopped"), "status: \(sandbox.status(id) ?? "none")")
            }
        }
    }
}
