import ArgumentParser
import Skiff

// The C stage returns here in the container's init (stage 2) with argv ["skiff", "init"]:
// go straight to the Swift init, without the CLI.
if CommandLine.arguments.count == 2, CommandLine.arguments[1] == "init", Runtime.nsexecLinked {
    ContainerInit.main()
}
SkiffCommand.main(GlobalArguments.moveAfterCommand(Array(CommandLine.arguments.dropFirst())))
