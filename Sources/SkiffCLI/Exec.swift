import ArgumentParser
import Skiff

struct ExecCommand: InvocationCommand {
    static let configuration = CommandConfiguration(commandName: "exec", _superCommandName: "skiff", abstract: "execute new process inside the container")

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("console-socket"), help: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
    var consoleSocket: String?
    @Option(help: "current working directory in the container") var cwd: String?
    @Option(name: [.short, .long], help: "set environment variables") var env: [String] = []
    @Flag(name: [.short, .long], help: "allocate a pseudo-TTY") var tty = false
    @Option(name: [.short, .long], help: "UID (format: <uid>[:<gid>], names are looked up in the container)") var user: String?
    @Option(name: [.customShort("g"), .customLong("additional-gids")], help: "additional gids") var additionalGids: [UInt32] = []
    @Option(name: [.short, .long], help: "path to the process.json") var process: String?
    @Flag(name: [.short, .long], help: "detach from the container's process") var detach = false
    @Option(name: .customLong("pid-file"), help: "specify the file to write the process id to") var pidFile: String?
    @Option(name: .customLong("process-label"), help: "set the asm process label for the process commonly used with selinux") var processLabel: String?
    @Option(help: "set the apparmor profile for the process") var apparmor: String?
    @Flag(name: .customLong("no-new-privs"), help: "set the no new privileges value for the process") var noNewPrivs = false
    @Option(name: [.short, .long], help: "add a capability to the bounding set for the process") var cap: [String] = []
    @Option(name: .customLong("preserve-fds"), help: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)") var preserveFds: Int = 0
    @Option(help: "run the process in an (existing) sub-cgroup(s): path, or controller[,controller]:path (repeatable)") var cgroup: [String] = []
    @Flag(name: .customLong("ignore-paused"), help: "allow exec in a paused container") var ignorePaused = false
    @Argument(help: "container id") var id: String
    @Argument(parsing: .captureForPassthrough, help: "command and arguments") var command: [String] = []

    var arguments: ExecArguments {
        ExecArguments(id: id, command: command, consoleSocket: consoleSocket, cwd: cwd, env: env, tty: tty, user: user,
                      additionalGids: additionalGids, process: process, detach: detach, pidFile: pidFile,
                      processLabel: processLabel, apparmor: apparmor, noNewPrivs: noNewPrivs, cap: cap,
                      preserveFds: preserveFds, cgroup: cgroup, ignorePaused: ignorePaused)
    }

    var invocation: Invocation { Invocation(globals: global.values, action: .exec(arguments)) }
}
