import ArgumentParser
import Skiff

// The C stage returns here in the container's init (stage 2) with argv ["skiff", "init"]:
// go straight to the Swift init, without the CLI.
if CommandLine.arguments.count == 2, CommandLine.arguments[1] == "init", Runtime.nsexecLinked {
    ContainerInit.main()
}
GlobalArguments.commands = Set(SkiffCommand.configuration.subcommands.map { $0._commandName })
// Usage errors are one line and exit 1, as runc's; help and --version print as usual.
do {
    var command = try SkiffCommand.parseAsRoot(GlobalArguments.moveAfterCommand(Array(CommandLine.arguments.dropFirst())))
    try command.run()
} catch {
    let code = SkiffCommand.exitCode(for: error)
    if code == .success || error is ExitCode {
        SkiffCommand.exit(withError: error)
    }
    let message = SkiffCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    Logger(fd: 2).writeRaw("skiff: " + message + "\n")
    SkiffCommand.exit(withError: ExitCode(1))
}
