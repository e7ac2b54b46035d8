#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// process.terminal: a pty made from the container's own devpts (/dev/ptmx after pivot_root),
/// its peer opened by fd (TIOCGPTPEER, never by a path the image could redirect), made the
/// controlling terminal and stdio of the process, and its master sent to the console socket
/// with SCM_RIGHTS as runc does. Kernel calls go through `kernel` (InitKernel), so tests can
/// record them.
struct Console<Kernel: InitKernel> {
    let socket: OwnedFD
    let size: Box?
    let kernel: Kernel

    func setUp(bindToDevConsole: Bool) throws {
        let master = try kernel.open("/dev/ptmx", flags: O_RDWR | O_NOCTTY)
        let peer = try kernel.openTerminalPeer(master, display: "/dev/ptmx")
        if let size {
            try kernel.setWindowSize(master, rows: UInt16(clamping: size.height), columns: UInt16(clamping: size.width))
        }
        if bindToDevConsole { try bindDevConsole(peer) }
        try kernel.sendFD(socket, master, name: "/dev/ptmx", operation: "send console master")
        socket.close()
        master.close()
        try kernel.makeControllingTerminal(peer)
        for target in Int32(0)...2 {
            try kernel.duplicate(peer, onto: target, operation: "dup2 console")
        }
    }

    /// /dev/console is the pty peer. The target is opened without following symlinks and
    /// must be a plain file or a character device, so an image cannot aim the bind at
    /// something else (runc CVE-2025-52565, crun CVE-2026-88264).
    private func bindDevConsole(_ peer: OwnedFD) throws {
        kernel.tryCreateFile("/dev/console", mode: 0o000)
        let target = try kernel.open("/dev/console", flags: SKIFF_O_PATH | O_NOFOLLOW)
        let kind = try kernel.status(of: target).st_mode & S_IFMT
        guard kind == S_IFREG || kind == S_IFCHR else {
            throw SkiffError(.system, "mount /dev/console: target is not a regular file or a character device")
        }
        try kernel.mount(source: peer.procPath, target: target.procPath, type: nil, flags: UInt(MS_BIND), display: "/dev/console")
    }
}

extension Console where Kernel == LinuxInitKernel {
    /// The console socket the runtime passed (`_SKIFF_CONSOLEFD`) when process.terminal is set.
    static func fromEnvironment(process: Process) throws -> Console? {
        guard process.terminal == true else { return nil }
        guard let fd = InitEnvironment.fd(InitEnvironment.console) else {
            throw SkiffError(.invalidArgument, "process.terminal: no console socket was passed to init")
        }
        return Console(socket: OwnedFD(fd), size: process.consoleSize, kernel: LinuxInitKernel())
    }
}
