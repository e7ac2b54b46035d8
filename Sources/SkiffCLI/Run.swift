import ArgumentParser
import Skiff

struct RunCommand: ParsableCommand {
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

    func run() throws {
        let code: Int32
        do {
            code = try global.runtime().run(id: id, bundle: flags.bundle, options: flags.options,
                                            detach: detach, keep: keep, subreaper: !noSubreaper)
        } catch {
            throw fail(error, global: global)
        }
        if code != 0 { throw ExitCode(code) }
    }
}
