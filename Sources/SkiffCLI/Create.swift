import ArgumentParser
import Skiff

/// Options shared by create and run.
struct CreateFlags: ParsableArguments {
    @Option(name: [.short, .long], help: "path to the root of the bundle directory, defaults to the current directory")
    var bundle: String = "."

    @Option(name: .customLong("pid-file"), help: "specify the file to write the process id to")
    var pidFile: String?

    @Option(name: .customLong("console-socket"), help: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal")
    var consoleSocket: String?

    @Flag(name: .customLong("no-pivot"), help: "do not use pivot root to jail process inside rootfs")
    var noPivot = false

    @Flag(name: .customLong("no-new-keyring"), help: "do not create a new session keyring for the container")
    var noNewKeyring = false

    @Option(name: .customLong("preserve-fds"), help: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)")
    var preserveFds: Int = 0

    var values: CreateFlagValues {
        CreateFlagValues(pidFile: pidFile, consoleSocket: consoleSocket, noPivot: noPivot,
                         noNewKeyring: noNewKeyring, preserveFds: preserveFds)
    }
}

struct Create: InvocationCommand {
    static let configuration = CommandConfiguration(commandName: "create", _superCommandName: "skiff", abstract: "create a container")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var flags: CreateFlags
    @Argument(help: "container id") var id: String

    var invocation: Invocation {
        Invocation(globals: global.values, action: .create(id: id, bundle: flags.bundle, options: flags.values))
    }
}
