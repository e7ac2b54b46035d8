#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Skiff

// The C stage returns here in the container's init (stage 2): go straight to the Swift init,
// without the CLI. The C stage says so, not argv: Swift reads the arguments from
// /proc/self/cmdline, and stage 2 of an exec is already in the container's mount namespace.
if Runtime.isContainerInit {
    ContainerInit.main()
}
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
    SkiffLogger(fd: 2).writeRaw("skiff: unknown command \"\(word)\"\n")
    SkiffCommand.exit(withError: ExitCode(1))
}
// The plain command lines of the shims, without ArgumentParser's reflection (DirectCommandLine).
if let invocation = DirectCommandLine.parse(arguments) {
    do {
        try invocation.perform()
    } catch let code as ExitCode {
        exit(code.rawValue)
    } catch {
        // perform reports its own failures and throws only exit codes.
        exit(1)
    }
    exit(0)
}
// The command's own type parses its arguments: parsing from the root reflected over every
// command's options. Each command names `skiff` as its super-command, which also makes
// ArgumentParser skip its search for `--generate-completion-script` (two extra parses with
// reflection, a third of a `skiff state`'s instructions); completion scripts and help go
// through the root.
let wantsHelp = arguments.contains { $0 == "-h" || $0 == "--help" || $0 == "--generate-completion-script" }
let commandType: ParsableCommand.Type = wantsHelp ? SkiffCommand.self
    : arguments.first.flatMap { word in SkiffCommand.configuration.subcommands.first { $0._commandName == word } }
    ?? SkiffCommand.self
// Usage errors are one line and exit 1, as runc's; help and --version print as usual.
do {
    var command = commandType == SkiffCommand.self
        ? try SkiffCommand.parseAsRoot(arguments) : try commandType.parseAsRoot(Array(arguments.dropFirst()))
    try command.run()
} catch {
    let code = commandType.exitCode(for: error)
    if code == .success || error is ExitCode {
        commandType.exit(withError: error)
    }
    let message = commandType.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    SkiffLogger(fd: 2).writeRaw("skiff: " + message + "\n")
    SkiffCommand.exit(withError: ExitCode(1))
}
