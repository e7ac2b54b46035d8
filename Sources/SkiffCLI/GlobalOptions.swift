import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Skiff
import SkiffLinux

/// runc's global flags. containerd's shim and conmon put them before the command name
/// (`skiff --root R --log L --log-format json create …`); they are accepted after it too.
struct GlobalOptions: ParsableArguments {
    @Option(help: "root directory for storage of container state (this should be located in tmpfs); default /run/skiff, or $XDG_RUNTIME_DIR/skiff when rootless")
    var root: String?

    @Option(help: "set the log file to write runtime logs to (default is stderr)")
    var log: String?

    @Option(name: .customLong("log-format"), help: "set the log format ('text' (default), or 'json')")
    var logFormat: String = "text"

    @Flag(help: "enable debug logging")
    var debug = false

    @Flag(name: .customLong("systemd-cgroup"), help: "enable systemd cgroup support: linux.cgroupsPath \"slice:prefix:name\" becomes a transient scope (default system.slice:skiff:<id>)")
    var systemdCgroup = false

    func validate() throws {
        guard SkiffLogger.Format(rawValue: logFormat) != nil else {
            throw ValidationError("invalid log-format: \(logFormat)")
        }
    }

    var values: Globals {
        Globals(root: root, log: log, logFormat: logFormat, debug: debug, systemdCgroup: systemdCgroup)
    }

    func runtime() throws -> Runtime { try values.runtime() }
}

/// The global options as values, whichever parser read them (ArgumentParser's `GlobalOptions`,
/// or `DirectCommandLine` for the commands the shims call).
struct Globals: Equatable {
    var root: String?
    var log: String?
    var logFormat = "text"
    var debug = false
    var systemdCgroup = false

    /// The runtime with its logger. Errors also go to stderr (see `fail`), as runc does.
    func runtime() throws -> Runtime {
        let logger = try makeLogger()
        let rootless = try Runtime.rootlessMode(GlobalArguments.rootless)
        return Runtime(root: try stateRoot(rootless: rootless), logger: logger, debug: debug, rootless: rootless,
                       systemdCgroup: systemdCgroup)
    }

    /// --root, else what runc's `shouldHonorXDGRuntimeDir` picks: `$XDG_RUNTIME_DIR/skiff`
    /// for a user other than root, and for root of a user namespace (rootless podman) unless
    /// USER=root; /run/skiff for real root (whose XDG_RUNTIME_DIR, /run/user/0, runc ignores
    /// too), or for root of a user namespace without XDG_RUNTIME_DIR.
    func stateRoot(rootless: Bool) throws -> String {
        if let root { return root }
        let runtimeDir = getenv("XDG_RUNTIME_DIR").map { String(cString: $0) } ?? ""
        if geteuid() != 0 {
            guard !runtimeDir.isEmpty else {
                throw SkiffError(.invalidArgument, "rootless: XDG_RUNTIME_DIR is not set; set it or pass --root")
            }
            return runtimeDir + "/skiff"
        }
        let user = getenv("USER").map { String(cString: $0) }
        if !runtimeDir.isEmpty, user != "root", !Procfs.isInitialUserNamespace() {
            return runtimeDir + "/skiff"
        }
        return "/run/skiff"
    }

    func makeLogger() throws -> SkiffLogger {
        let format = SkiffLogger.Format(rawValue: logFormat) ?? .text
        var fd: Int32 = 2
        if let log {
            do {
                // Held open for the whole command: the logger borrows it.
                fd = try Files.open(log, flags: O_WRONLY | O_APPEND | O_CREAT, mode: 0o644).release()
            } catch {
                throw SkiffError(.system, "\(LinuxError("open log file", path: log, errno: error.errno.rawValue))")
            }
        }
        return SkiffLogger(fd: fd, format: format, minimum: debug ? .debug : .info)
    }
}

/// How every command ends on error: the message on stderr and, when --log is set, as an
/// error entry there (the shim shows the last one), exit status 1.
func fail(_ error: any Error, global: GlobalOptions) -> ExitCode {
    fail(error, globals: global.values)
}

func fail(_ error: any Error, globals global: Globals) -> ExitCode {
    let message = SkiffError.text(of: error)
    if global.log != nil, let logger = try? global.makeLogger() {
        logger.error(message)
    }
    SkiffLogger(fd: 2, format: .text).writeRaw(message + "\n")
    return ExitCode(1)
}
