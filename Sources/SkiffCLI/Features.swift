#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import Skiff
import SkiffOCI

struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features", _superCommandName: "skiff", abstract: "show the enabled features",
        discussion: "The output format follows the runtime-spec features.md; fields skiff does not implement are false or absent.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        do {
            var features = Runtime.features()
            features.annotations?["io.github.skiff.version"] = VersionInfo.version
            features.annotations?["io.github.skiff.commit"] = BuildInfo.commit
            // runc's layout: four-space indent, the spec's field order.
            print(String(decoding: try features.jsonData(indent: "    "), as: UTF8.self))
        } catch {
            throw fail(error, global: global)
        }
    }
}
