import ArgumentParser
import Skiff

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", _superCommandName: "skiff", abstract: "delete any resources held by the container often used with detached container")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Forcibly deletes the container if it is still running (uses SIGKILL)")
    var force = false
    @Argument(help: "container id") var id: String

    func run() throws {
        do {
            try global.runtime().delete(id: id, force: force)
        } catch let error as SkiffError where error.kind == .notFound && force {
            // runc: delete --force of a missing container succeeds.
            return
        } catch {
            throw fail(error, global: global)
        }
    }
}
