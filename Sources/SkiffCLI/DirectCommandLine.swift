import Skiff

/// The command lines containerd's shim, conmon and dockerd send on every container (create,
/// run, start, state, kill, delete, exec), read without ArgumentParser. ArgumentParser
/// finds a command's options by reflecting over its type, and each option type it meets
/// costs a scan of the binary's ~4,500 protocol conformance records: a `skiff state` went
/// from 7.95 M to 1.77 M instructions, ~1 ms of CPU on this project's machine
/// (docs/benchmarks.md). The shims call these commands several times per container.
///
/// ArgumentParser stays the parser of record: this one reads only forms whose meaning is
/// beyond doubt — each option at most once, before the positional arguments, as `--name
/// value`, `--name=value` or its one-letter `-n value` — and returns nil for anything else
/// (help, an unknown or repeated option, combined short flags, `--`, a value that is not a
/// number, an option-like word after the arguments), which ArgumentParser then parses and,
/// if it is wrong, reports. `SkiffCLITests` checks that both give the same `Invocation` for
/// every command line the callers use; an option added to a command's type and not here
/// makes this parser return nil, which costs speed, never meaning.
enum DirectCommandLine {
    struct Option {
        let long: String
        let short: String?
        let takesValue: Bool
        let repeatable: Bool
    }

    static func parse(_ arguments: [String]) -> Invocation? {
        guard let command = arguments.first, let (read, action) = action(command, arguments.dropFirst()) else { return nil }
        let globals = Globals(root: read.value("--root"), log: read.value("--log"), logFormat: read.value("--log-format") ?? "text",
                              debug: read.has("--debug"), systemdCgroup: read.has("--systemd-cgroup"))
        // GlobalOptions.validate's check: ArgumentParser reports a bad format.
        guard SkiffLogger.Format(rawValue: globals.logFormat) != nil else { return nil }
        return Invocation(globals: globals, action: action)
    }

    private static func action(_ command: String, _ words: ArraySlice<String>) -> (Read, Action)? {
        switch command {
        case "create":
            guard let read = Read(words, options: createOptions, positionals: 1...1), let flags = read.createFlags else { return nil }
            return (read, .create(id: read.positionals[0], bundle: read.value("--bundle") ?? ".", options: flags))
        case "run":
            guard let read = Read(words, options: runOptions, positionals: 1...1), let flags = read.createFlags else { return nil }
            return (read, .run(id: read.positionals[0], bundle: read.value("--bundle") ?? ".", options: flags,
                               detach: read.has("--detach"), keep: read.has("--keep"), noSubreaper: read.has("--no-subreaper")))
        case "start", "state":
            guard let read = Read(words, options: globalOptions, positionals: 1...1) else { return nil }
            return (read, command == "start" ? .start(id: read.positionals[0]) : .state(id: read.positionals[0]))
        case "kill":
            guard let read = Read(words, options: killOptions, positionals: 1...2) else { return nil }
            return (read, .kill(id: read.positionals[0], signal: read.positionals.count == 2 ? read.positionals[1] : "SIGTERM",
                                all: read.has("--all")))
        case "delete":
            guard let read = Read(words, options: deleteOptions, positionals: 1...1) else { return nil }
            return (read, .delete(id: read.positionals[0], force: read.has("--force")))
        case "exec":
            // As ArgumentParser's `.captureForPassthrough`: the words after the id are the command.
            guard let read = Read(words, options: execOptions, positionals: 1...Int.max, restAfterFirst: true),
                  let arguments = read.execArguments else { return nil }
            return (read, .exec(arguments))
        default:
            return nil
        }
    }

    private static func flag(_ long: String, _ short: String? = nil) -> Option {
        Option(long: long, short: short, takesValue: false, repeatable: false)
    }

    private static func value(_ long: String, _ short: String? = nil, repeatable: Bool = false) -> Option {
        Option(long: long, short: short, takesValue: true, repeatable: repeatable)
    }

    /// `GlobalOptions` (main moves them behind the command name).
    static let globalOptions = [value("--root"), value("--log"), value("--log-format"), flag("--debug"), flag("--systemd-cgroup")]
    /// `CreateFlags`.
    static let createOptions = globalOptions + [
        value("--bundle", "-b"), value("--pid-file"), value("--console-socket"), flag("--no-pivot"), flag("--no-new-keyring"),
        value("--preserve-fds"),
    ]
    static let runOptions = createOptions + [flag("--detach", "-d"), flag("--keep"), flag("--no-subreaper")]
    static let killOptions = globalOptions + [flag("--all", "-a")]
    static let deleteOptions = globalOptions + [flag("--force", "-f")]
    /// `ExecCommand`.
    static let execOptions = globalOptions + [
        value("--console-socket"), value("--cwd"), value("--env", "-e", repeatable: true), flag("--tty", "-t"),
        value("--user", "-u"), value("--additional-gids", "-g", repeatable: true), value("--process", "-p"),
        flag("--detach", "-d"), value("--pid-file"), value("--process-label"), value("--apparmor"), flag("--no-new-privs"),
        value("--cap", "-c", repeatable: true), value("--preserve-fds"), value("--cgroup", repeatable: true),
        flag("--ignore-paused"),
    ]

    /// One command line read against a command's options: values by long name, flags given,
    /// positional arguments; nil for anything this parser leaves to ArgumentParser.
    struct Read {
        private(set) var values: [String: [String]] = [:]
        private(set) var positionals: [String] = []

        init?(_ words: ArraySlice<String>, options: [Option], positionals range: ClosedRange<Int>, restAfterFirst: Bool = false) {
            var index = words.startIndex
            while index < words.endIndex {
                let word = words[index]
                index += 1
                if !positionals.isEmpty {
                    if restAfterFirst {
                        positionals.append(word)
                        continue
                    }
                    // ArgumentParser would read an option here; runc would not. Leave it to ArgumentParser.
                    guard !word.hasPrefix("-") else { return nil }
                    positionals.append(word)
                    continue
                }
                guard word.hasPrefix("-") else {
                    positionals.append(word)
                    continue
                }
                var name = word
                var inlineValue: String?
                if word.hasPrefix("--"), let equals = word.firstIndex(of: "=") {
                    name = String(word[..<equals])
                    inlineValue = String(word[word.index(after: equals)...])
                }
                guard let option = options.first(where: { $0.long == name || $0.short == name }) else { return nil }
                guard option.repeatable || values[option.long] == nil else { return nil }
                let value: String
                if option.takesValue {
                    if let inlineValue {
                        // ArgumentParser reads `--name=` as `--name` and takes the next word.
                        guard !inlineValue.isEmpty else { return nil }
                        value = inlineValue
                    } else {
                        guard index < words.endIndex, !words[index].hasPrefix("-") else { return nil }
                        value = words[index]
                        index += 1
                    }
                } else {
                    guard inlineValue == nil else { return nil }
                    value = ""
                }
                values[option.long, default: []].append(value)
            }
            guard range.contains(positionals.count) else { return nil }
        }

        func value(_ long: String) -> String? { values[long]?.last }
        func list(_ long: String) -> [String] { values[long] ?? [] }
        func has(_ long: String) -> Bool { values[long] != nil }

        /// An Int option as ArgumentParser reads one (`Int(_:)`): `fallback` when absent, nil
        /// when it is not a number.
        func integer(_ long: String, fallback: Int) -> Int? {
            guard let text = value(long) else { return fallback }
            return Int(text)
        }

        var createFlags: CreateFlagValues? {
            guard let preserveFds = integer("--preserve-fds", fallback: 0) else { return nil }
            return CreateFlagValues(pidFile: value("--pid-file"), consoleSocket: value("--console-socket"),
                                    noPivot: has("--no-pivot"), noNewKeyring: has("--no-new-keyring"),
                                    preserveFds: preserveFds)
        }

        var execArguments: ExecArguments? {
            guard let preserveFds = integer("--preserve-fds", fallback: 0) else { return nil }
            let gids = list("--additional-gids").map { UInt32($0) }
            guard !gids.contains(nil) else { return nil }
            return ExecArguments(
                id: positionals[0], command: Array(positionals.dropFirst()), consoleSocket: value("--console-socket"),
                cwd: value("--cwd"), env: list("--env"), tty: has("--tty"), user: value("--user"),
                additionalGids: gids.compactMap { $0 }, process: value("--process"), detach: has("--detach"),
                pidFile: value("--pid-file"), processLabel: value("--process-label"), apparmor: value("--apparmor"),
                noNewPrivs: has("--no-new-privs"), cap: list("--cap"), preserveFds: preserveFds,
                cgroup: list("--cgroup"), ignorePaused: has("--ignore-paused"))
        }
    }
}
