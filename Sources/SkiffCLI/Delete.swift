import ArgumentParser
import Skiff

struct Delete: InvocationCommand {
    static let configuration = CommandConfiguration(commandName: "delete", _superCommandName: "skiff", abstract: "delete any resources held by the container often used with detached container")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Forcibly deletes the container if it is still running (uses SIGKILL)")
    var force = false
    @Argument(help: "container id") var id: String

    var invocation: Invocation { Invocation(globals: global.values, action: .delete(id: id, force: force)) }
}
