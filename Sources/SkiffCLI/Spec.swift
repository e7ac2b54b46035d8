#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Skiff
import SkiffLinux
import SkiffOCI

struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spec", _superCommandName: "skiff", abstract: "create a new specification file")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "path to the root of the bundle directory")
    var bundle: String = "."
    @Flag(help: "generate a configuration for a rootless container")
    var rootless = false

    func run() throws {
        do {
            let spec = rootless ? Spec.rootlessDefault(uid: getuid(), gid: getgid()) : Spec.runcDefault()
            let path = bundle + "/config.json"
            if Files.exists(path) { throw SkiffError(.exists, "File \(path) exists. Remove it first") }
            // Tab-indented with Go's field order, byte for byte what `runc spec` writes.
            try Files.writeAtomically(path, Array(try spec.jsonData()), mode: 0o644)
        } catch {
            throw fail(error, global: global)
        }
    }
}
