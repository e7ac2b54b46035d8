#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import Skiff

struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "state", abstract: "output the state of a container")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "container id") var id: String

    func run() throws {
        do {
            let state = try global.runtime().state(id: id)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(state), as: UTF8.self))
        } catch {
            throw fail(error, global: global)
        }
    }
}
