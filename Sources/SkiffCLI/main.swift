import ArgumentParser
import Skiff

// The C stage returns here in the container's init (stage 2) with argv ["skiff", "init"]:
// go straight to the Swift init, without the CLI.
if CommandLine.arguments.count == 2, CommandLine.arguments[1] == "init", Runtime.nsexecLinked {
    ContainerInit.main()
}
GlobalArguments.commands = Set(SkiffCommand.configuration.subcommands.map { $0._commandName })
let arguments = GlobalArguments.moveAfterCommand(Array(CommandLine.arguments.dropFirst()))
// runc's -v; ArgumentParser only knows --version.
if arguments == ["-v"] {
    print(VersionInfo.text)
    SkiffCommand.exit()
}
// The root help with the global options, which no command of ArgumentParser's owns.
if arguments.isEmpty || arguments == ["-h"] || arguments == ["--help"] || arguments == ["help"] {
    print(SkiffCommand.helpMessage() + "\n\n" + GlobalHelp.text, terminator: "")
    SkiffCommand.exit()
}
// `skiff nosuch -h` would print the root help and exit 0: a word that is no command is an error
// whatever follows it (runc: "No help topic for 'nosuch'", exit 3).
if let word = arguments.first, !word.hasPrefix("-"), word != "help", !GlobalArguments.commands.contains(word) {
    Logger(fd: 2).writeRaw("skiff: unknown command \"\(word)\"\n")
    SkiffCommand.exit(withError: ExitCode(1))
}
// Usage errors are one line and exit 1, as runc's; help and --version print as usual.
do {
    var command = try SkiffCommand.parseAsRoot(arguments)
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
