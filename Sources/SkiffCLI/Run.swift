import ArgumentParser
import Skiff

struct RunCommand: InvocationCommand {
    static let configuration = CommandConfiguration(commandName: "run", _superCommandName: "skiff", abstract: "create and run a container")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var flags: CreateFlags
    @Flag(name: [.short, .long], help: "detach from the container's process")
    var detach = false
    @Flag(help: "do not delete the container after it exits")
    var keep = false
    @Flag(name: .customLong("no-subreaper"), help: "disable the use of the subreaper used to reap reparented processes")
    var noSubreaper = false
    @Argument(help: "container id") var id: String

    var invocation: Invocation {
        Invocation(globals: global.values, action: .run(
            id: id, bundle: flags.bundle, options: flags.values, detach: detach, keep: keep, noSubreaper: noSubreaper))
    }
}
