/// runc takes its global flags before the command (`runc --root R --log-format json create
/// ID`), which is how containerd and conmon call it. ArgumentParser reads a subcommand's
/// options only after its name, so the leading global flags are moved behind the command.
enum GlobalArguments {
    static let withValue: Set<String> = ["--root", "--log", "--log-format", "--rootless", "--criu"]
    static let flags: Set<String> = ["--debug", "--systemd-cgroup"]

    static func moveAfterCommand(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if withValue.contains(name) {
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
        guard index < arguments.count, !globals.isEmpty else { return arguments }
        return [arguments[index]] + globals + arguments[(index + 1)...]
    }
}
