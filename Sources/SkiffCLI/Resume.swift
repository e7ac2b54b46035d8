import ArgumentParser
import Skiff

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", _superCommandName: "skiff", abstract: "resumes all processes that have been previously paused")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "container id") var id: String

    func run() throws {
        do {
            try global.runtime().resume(id: id)
        } catch {
            throw fail(error, global: global)
        }
    }
}
