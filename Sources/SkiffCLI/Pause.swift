import ArgumentParser
import Skiff

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", _superCommandName: "skiff", abstract: "pause suspends all processes inside the container",
        discussion: "The processes are frozen (cgroup freezer) until `skiff resume`; `state` reports \"paused\".")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "container id") var id: String

    func run() throws {
        do {
            try global.runtime().pause(id: id)
        } catch {
            throw fail(error, global: global)
        }
    }
}
