import Foundation
import SkiffOCI
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The master side of a pty, as a user's terminal emulator or a shim holds it: what is written
/// is typed, what the programs on the other side print is read.
final class TerminalMaster {
    let fd: Int32
    /// Every byte read so far but carriage returns (kept as bytes: a "\r" at the end of one
    /// read and the "\n" at the start of the next would make one Character).
    private var bytes: [UInt8] = []
    private var closed = false

    /// Everything read so far, `\r\n` turned into `\n`.
    var output: String { String(decoding: bytes, as: UTF8.self) }

    init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// The output's lines.
    var lines: [String] { output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }

    func type(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            offset += n
        }
    }

    /// Reads until `condition` holds for the output, the other side is closed (EIO), or
    /// `timeout` seconds pass; returns whether `condition` held.
    @discardableResult
    func read(timeout: Double = 10, until condition: (TerminalMaster) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if condition(self) { return true }
            if closed || Date() > deadline { return false }
            readAvailable(waitMilliseconds: 20)
        }
    }

    /// Reads what is there now (waiting at most `waitMilliseconds` for the first byte).
    func readAvailable(waitMilliseconds: Int32 = 0) {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var wait = waitMilliseconds
        while !closed, Glibc.poll(&entry, 1, wait) > 0 {
            wait = 0
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            if n <= 0 {
                closed = true
                return
            }
            bytes += buffer[0..<n].filter { $0 != UInt8(ascii: "\r") }
        }
    }

    /// Whether a line of output is exactly `text` (a shell's echo of the typed command is
    /// not: it has the prompt and the command around it).
    func hasLine(_ text: String) -> Bool { lines.contains(text) }

    func setWindowSize(rows: UInt16, columns: UInt16) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = withUnsafeMutablePointer(to: &size) { ioctl(fd, UInt(TIOCSWINSZ), $0) }
    }
}

/// A pty made by the test (posix_openpt, grantpt, unlockpt), standing in for the terminal a
/// user runs skiff from.
final class PseudoTerminal {
    let master: TerminalMaster
    let slavePath: String

    /// posix_openpt, unlockpt and ptsname as glibc does them on Linux (Swift's Glibc module
    /// leaves out these XSI calls): /dev/ptmx, TIOCSPTLCK, TIOCGPTN. grantpt has nothing to
    /// do on devpts.
    init() throws {
        let fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(fd >= 0, "open /dev/ptmx: \(String(cString: strerror(errno)))")
        master = TerminalMaster(fd: fd)
        var unlock: Int32 = 0
        try #require(ioctl(fd, UInt(0x4004_5431) /* TIOCSPTLCK */, &unlock) == 0, "unlockpt: \(String(cString: strerror(errno)))")
        var number: UInt32 = 0
        try #require(ioctl(fd, UInt(0x8004_5430) /* TIOCGPTN */, &number) == 0, "ptsname: \(String(cString: strerror(errno)))")
        slavePath = "/dev/pts/\(number)"
    }

    /// The test's own handle on the slave, to read its settings; never the controlling
    /// terminal of the test.
    func openSlave() throws -> Int32 {
        let fd = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(fd >= 0, "open \(slavePath): \(String(cString: strerror(errno)))")
        return fd
    }

    /// Starts `skiff --root <root> arguments…` in a new session whose controlling terminal
    /// and stdio are this pty's slave, as from a shell in a terminal.
    func launchSkiff(_ sandbox: Sandbox, _ arguments: [String]) throws -> Launched {
        // The first open after setsid, without O_NOCTTY, makes the slave the session's terminal.
        try Launched(
            Paths.binary, ["--root", sandbox.root] + arguments,
            fds: [0: .path(slavePath, O_RDWR), 1: .path(slavePath, O_RDWR), 2: .path(slavePath, O_RDWR)],
            newSession: true)
    }
}

/// A terminal's settings, comparable.
struct TerminalSettings: Equatable, CustomStringConvertible {
    var iflag, oflag, cflag, lflag: UInt32
    var cc: [UInt8]
    var ispeed, ospeed: UInt32

    init?(_ fd: Int32) {
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else { return nil }
        iflag = t.c_iflag
        oflag = t.c_oflag
        cflag = t.c_cflag
        lflag = t.c_lflag
        cc = withUnsafeBytes(of: t.c_cc) { Array($0) }
        ispeed = t.c_ispeed
        ospeed = t.c_ospeed
    }

    var isRaw: Bool { lflag & UInt32(ICANON | ECHO | ISIG) == 0 }

    var description: String {
        "iflag \(String(iflag, radix: 8)) oflag \(String(oflag, radix: 8)) cflag \(String(cflag, radix: 8)) lflag \(String(lflag, radix: 8))"
    }
}

/// The listening end of `--console-socket`, as conmon and containerd's shim hold it.
final class ConsoleSocket {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0, "socket: \(String(cString: strerror(errno)))")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(bound == 0, "bind \(path): \(String(cString: strerror(errno)))")
        try #require(listen(fd, 4) == 0, "listen: \(String(cString: strerror(errno)))")
    }

    deinit { close(fd) }

    /// Accepts the runtime's connection and receives the fd it sends with SCM_RIGHTS;
    /// returns the fd and the message that came with it.
    func receive(timeout: Double = 10) throws -> (fd: Int32, message: String) {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        try #require(Glibc.poll(&entry, 1, Int32(timeout * 1000)) == 1, "nobody connected to \(path)")
        let connection = accept(fd, nil, nil)
        try #require(connection >= 0, "accept: \(String(cString: strerror(errno)))")
        _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
        defer { close(connection) }
        var connectionEntry = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
        try #require(Glibc.poll(&connectionEntry, 1, Int32(timeout * 1000)) == 1, "nothing sent on \(path)")

        let body = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { body.deallocate() }
        let controlSize = 64
        let control = UnsafeMutableRawBufferPointer.allocate(byteCount: controlSize, alignment: 8)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0)
        var vector = iovec(iov_base: body.baseAddress, iov_len: body.count)
        var message = msghdr()
        let received = withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int in
            message.msg_iov = vectorPointer
            message.msg_iovlen = 1
            message.msg_control = control.baseAddress
            message.msg_controllen = controlSize
            return recvmsg(connection, &message, Int32(MSG_CMSG_CLOEXEC))
        }
        try #require(received >= 0, "recvmsg: \(String(cString: strerror(errno)))")
        let header = control.load(as: cmsghdr.self)
        try #require(message.msg_controllen >= MemoryLayout<cmsghdr>.size, "no control message with \(received) bytes")
        try #require(header.cmsg_level == SOL_SOCKET && header.cmsg_type == Int32(SCM_RIGHTS),
                     "control message \(header.cmsg_level)/\(header.cmsg_type), not SCM_RIGHTS")
        // CMSG_DATA: the header rounded up to the alignment of size_t.
        let dataOffset = (MemoryLayout<cmsghdr>.size + 7) & ~7
        let passed = control.load(fromByteOffset: dataOffset, as: Int32.self)
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: body[0..<received]), as: UTF8.self)
        return (passed, text.replacingOccurrences(of: "\u{0}", with: ""))
    }
}

extension Sandbox {
    /// A unix socket in the sandbox for `--console-socket`.
    func consoleSocket() throws -> ConsoleSocket { try ConsoleSocket(path: path("console.sock")) }
}

/// The script typed into every terminal: arithmetic only the shell can do, and the name of
/// its terminal.
let typedCommand = "echo $((6*7)); tty; exit\n"

/// process.terminal: console sockets (runc's protocol) and skiff's own proxy for foreground
/// `run`/`exec -t`, driven from a pty of the test.
@Suite(.serialized, .enabled(if: isRoot, "needs root: creates namespaces, cgroups and mounts"))
struct TerminalTests {
    // MARK: --console-socket

    @Test func createSendsTheMasterToTheConsoleSocket() throws {
        try Sandbox.with { sandbox in
            let socket = try sandbox.consoleSocket()
            let id = sandbox.id("console")
            let bundle = try sandbox.bundle(args: ["sh"]) { $0.process?.terminal = true }
            let create = try sandbox.spawn(["create", "--console-socket", socket.path, "--bundle", bundle, id])
            let (fd, message) = try socket.receive()
            let master = TerminalMaster(fd: fd)
            #expect(message == "/dev/ptmx")
            let created = create.wait()
            #expect(created.succeeded, "\(created)")
            // The fd is a pty master: the kernel can name its peer.
            var number: UInt32 = 0
            #expect(withUnsafeMutablePointer(to: &number) { ioctl(fd, UInt(0x8004_5430) /* TIOCGPTN */, $0) } == 0)

            #expect(sandbox.skiff("start", id).succeeded)
            master.type(typedCommand)
            let done = master.read { $0.hasLine("42") && $0.hasLine("/dev/pts/0") }
            #expect(done, "output: \(master.output.debugDescription)")
            #expect(sandbox.waitFor(id, status: "stopped"), "status: \(sandbox.status(id) ?? "none")")
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func consoleIsThePtyAndTheControllingTerminal() throws {
        try Sandbox.with { sandbox in
            let socket = try sandbox.consoleSocket()
            let id = sandbox.id("ctty")
            // /dev/console is the same device as the pty; the process's session has it as
            // its controlling terminal (so /dev/tty opens), and stdio are all the pty.
            let script = "stat -c %t:%T /dev/console /dev/pts/0; echo ok > /dev/tty; for fd in 0 1 2; do readlink /proc/self/fd/$fd; done"
            let bundle = try sandbox.bundle(args: sh(script)) { $0.process?.terminal = true }
            let create = try sandbox.spawn(["create", "--console-socket", socket.path, "--bundle", bundle, id])
            let master = TerminalMaster(fd: try socket.receive().fd)
            #expect(create.wait().succeeded)
            #expect(sandbox.skiff("start", id).succeeded)
            master.read { $0.hasLine("ok") && $0.lines.filter { $0 == "/dev/pts/0" }.count == 3 }
            let lines = master.lines.filter { !$0.isEmpty }
            #expect(lines.count == 6 && lines[0] == lines[1] && lines[0] == "88:0", "\(lines)")
            #expect(lines.suffix(4) == ["ok", "/dev/pts/0", "/dev/pts/0", "/dev/pts/0"], "\(lines)")
            #expect(sandbox.waitFor(id, status: "stopped"))
        }
    }

    @Test(arguments: [false, true])
    func terminalProcessHasOnlyThePtyAsFds(exec: Bool) throws {
        // Neither the console socket nor the pty's own fds stay open in the process; ls's
        // dirfd is the 3.
        try Sandbox.with { sandbox in
            let socket = try sandbox.consoleSocket()
            let script = "exec ls -1 /proc/self/fd"
            let master: TerminalMaster
            if exec {
                let container = try sandbox.runningContainer("ttyfds")
                let outcome = sandbox.skiff(["exec", "-d", "-t", "--console-socket", socket.path, container.id] + sh(script))
                #expect(outcome.succeeded, "\(outcome)")
                master = TerminalMaster(fd: try socket.receive().fd)
            } else {
                let id = sandbox.id("ttyfds")
                let bundle = try sandbox.bundle(args: sh(script)) { $0.process?.terminal = true }
                let create = try sandbox.spawn(["create", "--console-socket", socket.path, "--bundle", bundle, id])
                master = TerminalMaster(fd: try socket.receive().fd)
                #expect(create.wait().succeeded)
                #expect(sandbox.skiff("start", id).succeeded)
            }
            master.read { $0.hasLine("3") }
            #expect(master.lines.filter { !$0.isEmpty } == ["0", "1", "2", "3"],
                    "output: \(master.output.debugDescription)")
        }
    }

    /// The terminal belongs to the process's uid, its group kept (runc: `stat -c %u:%g` of the
    /// pty reads 1000:5 for user 1000).
    @Test func terminalIsOwnedByTheProcessUser() throws {
        try Sandbox.with { sandbox in
            let socket = try sandbox.consoleSocket()
            let id = sandbox.id("ttyowner")
            let bundle = try sandbox.bundle(args: sh("echo owner=$(stat -c %u:%g $(readlink /proc/self/fd/0))")) {
                $0.process?.terminal = true
                $0.process?.user = User(uid: 1000, gid: 1000)
            }
            let create = try sandbox.spawn(["create", "--console-socket", socket.path, "--bundle", bundle, id])
            let master = TerminalMaster(fd: try socket.receive().fd)
            #expect(create.wait().succeeded)
            #expect(sandbox.skiff("start", id).succeeded)
            #expect(master.read { $0.lines.contains { $0.hasPrefix("owner=") } }, "output: \(master.output.debugDescription)")
            #expect(master.lines.contains("owner=1000:5"), "\(master.lines)")
            #expect(sandbox.waitFor(id, status: "stopped"))
        }
    }

    @Test func consoleSizeIsApplied() throws {
        try Sandbox.with { sandbox in
            let socket = try sandbox.consoleSocket()
            let id = sandbox.id("size")
            let bundle = try sandbox.bundle(args: ["stty", "size"]) {
                $0.process?.terminal = true
                $0.process?.consoleSize = Box(height: 31, width: 97)
            }
            let create = try sandbox.spawn(["create", "--console-socket", socket.path, "--bundle", bundle, id])
            let master = TerminalMaster(fd: try socket.receive().fd)
            #expect(create.wait().succeeded)
            #expect(sandbox.skiff("start", id).succeeded)
            #expect(master.read { $0.hasLine("31 97") }, "output: \(master.output.debugDescription)")
        }
    }

    @Test func execTtyWithAConsoleSocket() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("exectty")
            let socket = try sandbox.consoleSocket()
            let exec = try sandbox.spawn(["exec", "-t", "--console-socket", socket.path, container.id, "sh"])
            let (fd, message) = try socket.receive()
            let master = TerminalMaster(fd: fd)
            #expect(message == "/dev/ptmx")
            // The pty is the controlling terminal of the exec'd shell: /dev/tty opens.
            master.type("echo $((6*7)); tty; echo ok > /dev/tty; exit 5\n")
            #expect(master.read { $0.hasLine("42") && $0.hasLine("/dev/pts/0") && $0.hasLine("ok") },
                    "output: \(master.output.debugDescription)")
            // The foreground exec still waits for the process and exits with its code.
            let outcome = exec.wait()
            #expect(outcome.status == 5 && !outcome.signaled, "\(outcome)")
            #expect(outcome.stdout == "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func detachedExecTtyWithAConsoleSocket() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("exectty-d")
            let socket = try sandbox.consoleSocket()
            let pidFile = sandbox.path("tty.pid")
            let outcome = sandbox.skiff("exec", "-d", "-t", "--console-socket", socket.path, "--pid-file", pidFile,
                                        container.id, "sh")
            #expect(outcome.succeeded, "\(outcome)")
            let master = TerminalMaster(fd: try socket.receive().fd)
            master.type(typedCommand)
            #expect(master.read { $0.hasLine("42") && $0.hasLine("/dev/pts/0") }, "output: \(master.output.debugDescription)")
            let pid = Int(readFile(pidFile)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            #expect(poll { !isAlive(pid) }, "the exec'd shell \(pid) did not exit")
        }
    }

    /// A path for --console-socket that is not a listening unix socket.
    static let badSocketPaths = ["missing", "regular-file", "directory"]

    func badSocket(_ kind: String, in sandbox: Sandbox) throws -> String {
        let path = sandbox.path("bad-\(kind)")
        switch kind {
        case "regular-file": try "".write(toFile: path, atomically: false, encoding: .utf8)
        case "directory": try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        default: break
        }
        return path
    }

    @Test(arguments: badSocketPaths)
    func createWithABadConsoleSocketIsAClearError(_ kind: String) throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("badsock")
            let path = try badSocket(kind, in: sandbox)
            let bundle = try sandbox.bundle(args: ["sh"]) { $0.process?.terminal = true }
            let outcome = sandbox.skiff("create", "--console-socket", path, "--bundle", bundle, id)
            expectRejected(outcome, mentioning: ["--console-socket", path], in: sandbox, id: id)
            #expect(sandbox.rootEntries == [])
        }
    }

    @Test(arguments: badSocketPaths)
    func execWithABadConsoleSocketIsAClearError(_ kind: String) throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("execbadsock")
            let path = try badSocket(kind, in: sandbox)
            let outcome = sandbox.skiff("exec", "-t", "--console-socket", path, container.id, "sh")
            expectRejected(outcome, mentioning: ["--console-socket", path], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func socketThatNobodyListensOnIsAClearError() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("deadsock")
            var path = ""
            do {
                let socket = try sandbox.consoleSocket()
                path = socket.path
            }  // closed: the socket file stays, connect is refused
            let bundle = try sandbox.bundle(args: ["sh"]) { $0.process?.terminal = true }
            let outcome = sandbox.skiff("create", "--console-socket", path, "--bundle", bundle, id)
            expectRejected(outcome, mentioning: ["--console-socket", path], in: sandbox, id: id)
            #expect(sandbox.rootEntries == [])
        }
    }

    @Test func detachWithATerminalAndNoSocketIsAnError() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("detachtty")
            let bundle = try sandbox.bundle(args: ["sh"]) { $0.process?.terminal = true }
            let run = sandbox.skiff("run", "--detach", "--bundle", bundle, id)
            expectRejected(run, mentioning: ["console socket"], in: sandbox, id: id)
            #expect(sandbox.rootEntries == [])

            let container = try sandbox.runningContainer("detachtty-exec")
            let exec = sandbox.skiff("exec", "-d", "-t", container.id, "sh")
            expectRejected(exec, mentioning: ["console socket"], in: sandbox, id: "")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func consoleSocketWithoutATerminalIsAnError() throws {
        try Sandbox.with { sandbox in
            let socket = try sandbox.consoleSocket()
            let id = sandbox.id("notty")
            let bundle = try sandbox.bundle(args: ["true"])
            let outcome = sandbox.skiff("create", "--console-socket", socket.path, "--bundle", bundle, id)
            expectRejected(outcome, mentioning: ["--console-socket"], in: sandbox, id: id)
            #expect(sandbox.rootEntries == [])
        }
    }

    // MARK: the foreground proxy

    /// `arguments` run from a pty of the test; types `input` once the container is up and
    /// checks the pty is raw meanwhile and restored after. Returns the outcome and the master.
    func throughTerminal(
        _ sandbox: Sandbox, _ arguments: [String], ready: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
        _ drive: (TerminalMaster, Launched) throws -> Void
    ) throws -> Outcome {
        let pty = try PseudoTerminal()
        pty.master.setWindowSize(rows: 33, columns: 101)
        let slave = try pty.openSlave()
        defer { close(slave) }
        let before = try #require(TerminalSettings(slave), sourceLocation: sourceLocation)
        #expect(!before.isRaw, sourceLocation: sourceLocation)
        let launched = try pty.launchSkiff(sandbox, arguments)
        // skiff puts its terminal in raw mode while it proxies: keys go to the container.
        let raw = poll(timeout: 10) { TerminalSettings(slave)?.isRaw == true }
        #expect(raw, "skiff never made the terminal raw: \(TerminalSettings(slave)?.description ?? "")",
                sourceLocation: sourceLocation)
        try drive(pty.master, launched)
        let outcome = launched.wait(timeout: 15)
        pty.master.readAvailable()
        let after = TerminalSettings(slave)
        #expect(after == before, "the terminal was not restored: \(after?.description ?? "") instead of \(before)",
                sourceLocation: sourceLocation)
        return outcome
    }

    @Test func foregroundRunWithATerminal() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("fgtty")
            let bundle = try sandbox.bundle(args: ["sh"]) { $0.process?.terminal = true }
            var output = ""
            let outcome = try throughTerminal(sandbox, ["run", "--bundle", bundle, id]) { master, _ in
                master.type("stty size; echo $((6*7)); tty; exit 3\n")
                let done = master.read { $0.hasLine("42") && $0.hasLine("/dev/pts/0") }
                output = master.output
                #expect(done, "output: \(master.output.debugDescription)")
            }
            #expect(outcome.status == 3 && !outcome.signaled, "\(outcome)")
            // The window size of skiff's terminal is the container's.
            #expect(output.contains("33 101\n"), "output: \(output.debugDescription)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test(arguments: [false, true])
    func foregroundTerminalFollowsTheWindowSize(exec: Bool) throws {
        try Sandbox.with { sandbox in
            let id: String
            let command: [String]
            if exec {
                id = try sandbox.runningContainer("winch").id
                command = ["exec", "-t", id, "sh"]
            } else {
                id = sandbox.id("winch")
                let bundle = try sandbox.bundle(args: ["sh"]) { $0.process?.terminal = true }
                command = ["run", "--bundle", bundle, id]
            }
            let outcome = try throughTerminal(sandbox, command) { master, _ in
                master.type("stty size\n")
                #expect(master.read { $0.hasLine("33 101") }, "output: \(master.output.debugDescription)")
                // Resizing the terminal sends SIGWINCH to skiff, which resizes the pty.
                master.setWindowSize(rows: 47, columns: 133)
                let resized = master.read(timeout: 10) { master in
                    if master.hasLine("47 133") { return true }
                    master.type("stty size\n")
                    usleep(50_000)
                    return false
                }
                #expect(resized, "output: \(master.output.debugDescription)")
                master.type("exit\n")
            }
            #expect(outcome.succeeded, "\(outcome)")
            if !exec { #expect(sandbox.leftovers(id: id) == []) }
        }
    }

    @Test func outputWrittenJustBeforeExitIsNotLost() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("ttyflood")
            let bundle = try sandbox.bundle(args: sh("echo ready; read go; seq 1 5000; echo end")) { $0.process?.terminal = true }
            var lines: [String] = []
            let outcome = try throughTerminal(sandbox, ["run", "--bundle", bundle, id]) { master, launched in
                let ready = master.read { $0.hasLine("ready") }
                master.type("go\n")
                // Read while skiff writes, up to the end or skiff's exit.
                let pid = launched.pid
                master.read(timeout: 10) { $0.hasLine("end") || !isAlive(Int(pid)) }
                master.readAvailable(waitMilliseconds: 100)
                lines = master.lines
                #expect(ready)
            }
            #expect(outcome.succeeded, "\(outcome)")
            let numbers = lines.compactMap { Int($0) }
            #expect(numbers == Array(1...5000), "got \(numbers.count) numbers, last \(numbers.last ?? 0)")
            #expect(lines.contains("end"))
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func detachedRunWithAConsoleSocket() throws {
        try Sandbox.with { sandbox in
            let socket = try sandbox.consoleSocket()
            let id = sandbox.id("rund-tty")
            let bundle = try sandbox.bundle(args: ["sh"]) { $0.process?.terminal = true }
            let run = try sandbox.spawn(["run", "--detach", "--console-socket", socket.path, "--bundle", bundle, id])
            let master = TerminalMaster(fd: try socket.receive().fd)
            let started = run.wait()
            #expect(started.succeeded, "\(started)")
            #expect(sandbox.status(id) == "running")
            master.type(typedCommand)
            #expect(master.read { $0.hasLine("42") && $0.hasLine("/dev/pts/0") }, "output: \(master.output.debugDescription)")
            #expect(sandbox.waitFor(id, status: "stopped"))
            #expect(sandbox.skiff("delete", id).succeeded)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func foregroundExecWithATerminal() throws {
        try Sandbox.with { sandbox in
            let container = try sandbox.runningContainer("fgexec")
            let outcome = try throughTerminal(sandbox, ["exec", "-t", container.id, "sh"]) { master, _ in
                master.type("stty size; echo $((6*7)); tty; exit 4\n")
                #expect(master.read { $0.hasLine("42") && $0.hasLine("/dev/pts/0") && $0.hasLine("33 101") },
                        "output: \(master.output.debugDescription)")
            }
            #expect(outcome.status == 4 && !outcome.signaled, "\(outcome)")
            #expect(sandbox.processes(in: container.id) == [container.pid])
        }
    }

    @Test func terminalIsRestoredWhenTheContainerIsKilled() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("ttykill")
            let bundle = try sandbox.bundle(args: sh("echo ready; sleep 1000")) { $0.process?.terminal = true }
            let outcome = try throughTerminal(sandbox, ["run", "--bundle", bundle, id]) { master, _ in
                #expect(master.read { $0.hasLine("ready") }, "output: \(master.output.debugDescription)")
                let killed = sandbox.skiff("kill", id, "KILL")
                #expect(killed.succeeded, "\(killed)")
            }
            #expect(outcome.status == 137 && !outcome.signaled, "\(outcome)")
            #expect(sandbox.leftovers(id: id) == [])
        }
    }

    @Test func terminalIsRestoredWhenTheProcessCannotStart() throws {
        try Sandbox.with { sandbox in
            let id = sandbox.id("ttyfail")
            let bundle = try sandbox.bundle(args: ["no-such-command"]) { $0.process?.terminal = true }
            let pty = try PseudoTerminal()
            let slave = try pty.openSlave()
            defer { close(slave) }
            let before = TerminalSettings(slave)
            let launched = try pty.launchSkiff(sandbox, ["run", "--bundle", bundle, id])
            let outcome = launched.wait()
            pty.master.readAvailable()
            #expect(outcome.status != 0, "\(outcome)")
            #expect(pty.master.output.contains("executable file not found"), "\(pty.master.output.debugDescription)")
            #expect(TerminalSettings(slave) == before)
            #expect(sandbox.leftovers(id: id) == [])
        }
    }
}
