import ArgumentParser
import Skiff
import SkiffLinux

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", _superCommandName: "skiff", abstract: "kill sends the specified signal (default: SIGTERM) to the container's init process")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "send the specified signal to all processes inside the container")
    var all = false
    @Argument(help: "container id") var id: String
    @Argument(help: "signal name or number") var signal: String = "SIGTERM"

    func run() throws {
        do {
            // Signal 0 only checks that init is there (kill(2)): `kill ID 0`, as runc takes it.
            guard let number = signal == "0" ? 0 : Signals.parse(signal) else {
                throw SkiffError(.invalidArgument, "invalid signal \"\(signal)\"")
            }
            try global.runtime().kill(id: id, signal: number, all: all)
        } catch {
            throw fail(error, global: global)
        }
    }
}
