import ArgumentParser
import Skiff

struct Start: InvocationCommand {
    static let configuration = CommandConfiguration(commandName: "start", _superCommandName: "skiff", abstract: "executes the user defined process in a created container")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "container id") var id: String

    var invocation: Invocation { Invocation(globals: global.values, action: .start(id: id)) }
}
