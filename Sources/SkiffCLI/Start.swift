import ArgumentParser
import Skiff

struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", _superCommandName: "skiff", abstract: "executes the user defined process in a created container")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "container id") var id: String

    func run() throws {
        do {
            try global.runtime().start(id: id)
        } catch {
            throw fail(error, global: global)
        }
    }
}
