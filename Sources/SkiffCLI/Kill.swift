import ArgumentParser
import Skiff

struct Kill: InvocationCommand {
    static let configuration = CommandConfiguration(commandName: "kill", _superCommandName: "skiff", abstract: "kill sends the specified signal (default: SIGTERM) to the container's init process")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "send the specified signal to all processes inside the container")
    var all = false
    @Argument(help: "container id") var id: String
    @Argument(help: "signal name or number") var signal: String = "SIGTERM"

    var invocation: Invocation { Invocation(globals: global.values, action: .kill(id: id, signal: signal, all: all)) }
}
