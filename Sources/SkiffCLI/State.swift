#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import Skiff

struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "state", _superCommandName: "skiff", abstract: "output the state of a container")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "container id") var id: String

    func run() throws {
        do {
            let state = try global.runtime().state(id: id)
            // runc's `state` layout: two-space indent, the spec's field order.
            print(String(decoding: try state.jsonData(indent: "  "), as: UTF8.self))
        } catch {
            throw fail(error, global: global)
        }
    }
}
