/// runc takes its global flags before the command (`runc --root R --log-format json create
/// ID`), which is how containerd and conmon call it. ArgumentParser reads a subcommand's
/// options only after its name, so the leading global flags are moved behind the command.
enum GlobalArguments {
    static let withValue: Set<String> = ["--root", "--log", "--log-format", "--rootless", "--criu"]
    /// The command names; globals are moved only in front of one of these. Written out, not
    /// read from `SkiffCommand.configuration`: building that configuration (help texts and
    /// all) cost ~76 K instructions in every command (callgrind, `skiff state`), and
    /// SkiffCLITests checks that the two lists agree.
    static let commands: Set<String> = [
        "create", "start", "state", "kill", "delete", "run", "exec", "pause", "resume", "ps", "events", "update",
        "list", "spec", "features",
    ]
    /// `--rootless true|false|auto` as given before the command (it cannot be an option of
    /// every command: `spec --rootless` is a flag).
    nonisolated(unsafe) static var rootless: String?
    static let flags: Set<String> = ["--debug", "--systemd-cgroup"]

    static func moveAfterCommand(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if name == "--rootless" {
                if let equals = argument.firstIndex(of: "=") {
                    rootless = String(argument[argument.index(after: equals)...])
                } else if index + 1 < arguments.count {
                    rootless = arguments[index + 1]
                    index += 1
                }
            } else if withValue.contains(name) {
                globals.append(argument)
                if !argument.contains("="), index + 1 < arguments.count {
                    globals.append(arguments[index + 1])
                    index += 1
                }
            } else if flags.contains(argument) {
                globals.append(argument)
            } else {
                break
            }
            index += 1
        }
        guard index < arguments.count, commands.contains(arguments[index]) else {
            // Not a command: leave the globals out so the error names the word that is wrong.
            return Array(arguments[index...])
        }
        return [arguments[index]] + globals + arguments[(index + 1)...]
    }
}
