#if canImport(Glibc)
import Glibc
#endif
import CShims
import SkiffInitProtocol
import SkiffLinux

/// The runtime's end of process.terminal. With `--console-socket` the init sends the pty
/// master straight to that socket (conmon and containerd's shim listen there); in a
/// foreground `run -t`/`exec -t` skiff keeps the master itself and proxies it.
final class ConsoleConnection {
    /// Passed to init as its console socket.
    let childEnd: OwnedFD
    /// Ours when we receive the master ourselves.
    private let parentEnd: OwnedFD?
    private(set) var master: OwnedFD?

    init(childEnd: OwnedFD, parentEnd: OwnedFD?) {
        self.childEnd = childEnd
        self.parentEnd = parentEnd
    }

    /// After init reported ready, the master is waiting in our socket.
    func receiveMaster() throws {
        childEnd.close()
        guard let parentEnd else { return }
        master = try Sockets.receiveFD(parentEnd, operation: "receive console master").fd
    }
}

enum Terminal {
    static func consoleSocket(terminal: Bool, path: String?, foreground: Bool) throws -> ConsoleConnection? {
        guard terminal else {
            if let path {
                throw SkiffError(.invalidArgument, "--console-socket \"\(path)\": cannot use a console socket when process.terminal is false")
            }
            return nil
        }
        if let path {
            return ConsoleConnection(childEnd: try connect(path), parentEnd: nil)
        }
        guard foreground else {
            throw SkiffError(.invalidArgument, "process.terminal: cannot allocate tty if skiff will detach without setting console socket")
        }
        let (ours, theirs) = try Sockets.pair(type: Int32(SOCK_STREAM.rawValue))
        return ConsoleConnection(childEnd: theirs, parentEnd: ours)
    }

    /// Connects to the caller's console socket; the error names the path and what is wrong.
    static func connect(_ path: String) throws -> OwnedFD {
        let st: Glibc.stat
        do {
            st = try Files.status(path)
        } catch {
            throw SkiffError(.invalidArgument, "--console-socket", error)
        }
        if (st.st_mode & S_IFMT) != S_IFSOCK {
            throw SkiffError(.invalidArgument, "--console-socket \"\(path)\": not a socket")
        }
        do {
            return try Sockets.connect(path)
        } catch {
            throw SkiffError(.invalidArgument, "--console-socket", error)
        }
    }
}

/// A foreground terminal: the caller's terminal in raw mode, bytes copied both ways between
/// it and the pty master, window size followed. The caller's settings come back on every
/// way out (`restore`, and deinit as a last resort).
final class TerminalProxy {
    let master: OwnedFD
    private var saved: termios?

    init(master: OwnedFD) throws {
        self.master = master
        saved = Terminals.makeRaw(0)
        resize()
    }

    deinit { restore() }

    func restore() {
        if let settings = saved {
            Terminals.restore(0, settings)
            saved = nil
        }
    }

    /// Gives the pty the caller's window size (on start and on SIGWINCH).
    func resize() {
        if let size = Terminals.windowSize(0) {
            try? Terminals.setWindowSize(master.raw, rows: size.rows, columns: size.columns)
        }
    }

    /// Copies what is readable on `from` to `to`; false at end of file or error (EIO is the
    /// master's end of file once the last slave fd is closed).
    func pump(from: Int32, to: Int32) -> Bool {
        Terminals.copyAvailable(from: from, to: to)
    }
}
