import ArgumentParser
import Skiff

struct StateCommand: InvocationCommand {
    static let configuration = CommandConfiguration(commandName: "state", _superCommandName: "skiff", abstract: "output the state of a container")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "container id") var id: String

    var invocation: Invocation { Invocation(globals: global.values, action: .state(id: id)) }
}
