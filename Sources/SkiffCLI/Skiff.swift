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

/// The options main moves behind the command (GlobalArguments), as `skiff --help` lists them
/// (runc's GLOBAL OPTIONS); each command's own help shows them in its usage too.
enum GlobalHelp {
    static let text = """
        GLOBAL OPTIONS:
          --root <root>           root directory for storage of container state (this should be located in
                                  tmpfs); default /run/skiff, or $XDG_RUNTIME_DIR/skiff when rootless
          --log <log>             set the log file to write runtime logs to (default is stderr)
          --log-format <format>   set the log format ('text' (default), or 'json')
          --debug                 enable debug logging
          --systemd-cgroup        enable systemd cgroup support: a transient scope per container (slice:prefix:name)
          --rootless <value>      ignore cgroup permission errors ('true', 'false', or 'auto') (default: auto)
          -v, --version           print the version
          -h, --help              show help

        """
}

enum VersionInfo {
    static let version = "0.1.0"
    static var text: String {
        "skiff version \(version)\ncommit: \(BuildInfo.commit)\nspec: \(OCIVersion.current)"
    }
}
