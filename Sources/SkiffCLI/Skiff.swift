import ArgumentParser
import Skiff
import SkiffOCI

// Every command sets commandName: without it ArgumentParser derives the name from
// String(describing: Self.self), and each such call scans the binary's protocol conformance
// records (tens of thousands, with the static Swift runtime), about 1 ms per invocation.
struct SkiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skiff",
        abstract: "Open Container Initiative runtime",
        discussion: "skiff is a command line client for running applications packaged according to the OCI format.",
        version: VersionInfo.text,
        subcommands: [Create.self, Start.self, StateCommand.self, Kill.self, Delete.self, RunCommand.self, ExecCommand.self,
                      Pause.self, Resume.self, Ps.self, Events.self, Update.self,
                      List.self, SpecCommand.self, FeaturesCommand.self])
}

enum VersionInfo {
    static let version = "0.1.0"
    static var text: String {
        "skiff version \(version)\ncommit: \(BuildInfo.commit)\nspec: \(OCIVersion.current)"
    }
}
