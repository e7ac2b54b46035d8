import ArgumentParser
import Testing

@testable import SkiffCLI

/// `DirectCommandLine` reads the shims' command lines without ArgumentParser; it must read
/// each exactly as ArgumentParser's command types do, and leave everything else to them.
@Suite struct DirectCommandLineTests {
    /// What main runs for `argv` through ArgumentParser (the globals moved behind the command).
    static func viaArgumentParser(_ argv: [String]) throws -> Invocation? {
        let command = try SkiffCommand.parseAsRoot(GlobalArguments.moveAfterCommand(argv))
        return (command as? any InvocationCommand)?.invocation
    }

    static func direct(_ argv: [String]) -> Invocation? {
        DirectCommandLine.parse(GlobalArguments.moveAfterCommand(argv))
    }

    /// The command lines containerd's shim (go-runc), conmon, dockerd and people use.
    static let callerLines: [[String]] = [
        // containerd's shim
        ["--root", "/run/containerd/runc/k8s.io", "--log", "/run/c/log.json", "--log-format", "json",
         "create", "--bundle", "/run/c/b", "--pid-file", "/run/c/init.pid", "abc"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/p",
         "--console-socket", "/tmp/pty.sock", "--no-pivot", "--no-new-keyring", "abc"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "start", "abc"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "state", "abc"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "abc", "9"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "kill", "--all", "abc", "15"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "abc"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "delete", "--force", "abc"],
        ["--root", "/r", "--log", "/l", "--log-format", "json", "exec", "--process", "/tmp/p.json", "--detach",
         "--pid-file", "/run/c/e.pid", "abc"],
        ["--root", "/r", "exec", "--process", "/p.json", "--console-socket", "/s", "--detach", "--pid-file", "/e.pid", "abc"],
        // conmon (podman)
        ["--systemd-cgroup", "--root", "/run/user/1000/skiff", "--log", "/x/log", "--log-format", "json", "create",
         "--bundle", "/x/userdata", "--pid-file", "/x/pidfile", "--preserve-fds", "2", "--console-socket", "/s", "c1"],
        ["--root", "/r", "exec", "--pid-file", "/x/exec.pid", "--process", "/x/exec.json", "--detach", "--tty",
         "--console-socket", "/s", "c1"],
        ["--debug", "--rootless", "true", "--root", "/r", "delete", "--force", "c1"],
        // people
        ["run", "--bundle", "bundles/busybox", "web"],
        ["run", "-d", "-b", "b", "--keep", "--no-subreaper", "web"],
        ["run", "--pid-file=/tmp/p", "--bundle=b", "--preserve-fds=3", "web"],
        ["--root=/tmp/r", "--log-format=text", "state", "web"],
        ["state", "web", ],
        ["state", "--root", "/r", "web"],
        ["kill", "web"],
        ["kill", "web", "KILL"],
        ["kill", "-a", "web", "SIGUSR1"],
        ["delete", "-f", "web"],
        ["start", ""],
        ["create", "--pid-file", "", "-b", "b", "web"],
        ["exec", "web", "sh", "-c", "echo hi --tty"],
        ["exec", "-t", "web", "sh"],
        ["exec", "web", "-t", "sh"],
        ["exec", "web", "--", "ls", "-l"],
        ["exec", "-e", "A=1", "-e", "B=2=3", "--env=C=", "--cwd", "/tmp", "-u", "1000:1000", "web", "id"],
        ["exec", "-g", "10", "-g", "20", "--additional-gids=30", "-u", "nobody", "web", "id"],
        ["exec", "--cap", "CAP_SYS_ADMIN", "-c", "CAP_NET_RAW", "--no-new-privs", "--apparmor", "p", "--process-label",
         "l", "web", "true"],
        ["exec", "--cgroup", "memory:sub", "--cgroup", "cpu,cpuacct:sub2", "--ignore-paused", "--preserve-fds", "1",
         "web", "true"],
        ["exec", "-p", "/p.json", "web"],
        ["exec", "-d", "--user", "0:0", "web", "sleep", "1"],
        ["run", "--detach", "--no-pivot", "--no-new-keyring", "--console-socket", "/s", "web"],
    ]

    /// Every name DirectCommandLine knows is read in some caller line above, so each one is
    /// checked against ArgumentParser.
    @Test func everyOptionItKnowsIsComparedWithArgumentParser() {
        let tables = ["create": DirectCommandLine.createOptions, "run": DirectCommandLine.runOptions,
                      "start": DirectCommandLine.globalOptions, "state": DirectCommandLine.globalOptions,
                      "kill": DirectCommandLine.killOptions, "delete": DirectCommandLine.deleteOptions,
                      "exec": DirectCommandLine.execOptions]
        var used: [String: Set<String>] = [:]
        for argv in Self.callerLines {
            let line = GlobalArguments.moveAfterCommand(argv)
            used[line[0], default: []].formUnion(line.map { String($0.prefix { $0 != "=" }) })
        }
        // The global options are one OptionGroup in every command: read in some line of any.
        let usedAnywhere = used.values.reduce(into: Set<String>()) { $0.formUnion($1) }
        let globalNames = Set(DirectCommandLine.globalOptions.map(\.long))
        for name in globalNames {
            #expect(usedAnywhere.contains(name), "\(name) is in no caller line")
        }
        for (command, options) in tables {
            for option in options where !globalNames.contains(option.long) {
                for name in [option.long] + (option.short.map { [$0] } ?? []) {
                    #expect(used[command, default: []].contains(name), "\(command) \(name) is in no caller line")
                }
            }
        }
        #expect(used.keys.sorted() == tables.keys.sorted())
    }

    @Test(arguments: callerLines)
    func readsTheCallersLinesAsArgumentParserDoes(argv: [String]) throws {
        let expected = try Self.viaArgumentParser(argv)
        #expect(expected != nil)
        let direct = Self.direct(argv)
        #expect(direct != nil, "DirectCommandLine left \(argv) to ArgumentParser")
        #expect(direct == expected)
    }

    /// Lines that DirectCommandLine leaves to ArgumentParser, whatever ArgumentParser then
    /// makes of them (help, a usage error, or a reading that needs its rules).
    static let leftToArgumentParser: [[String]] = [
        ["state", "--help"], ["state", "-h"], ["help", "state"], ["list"], ["spec"], ["ps", "web"],
        ["state"], ["state", "a", "b"], ["start"],
        ["create", "--bundle", "b", "--bogus", "web"],
        ["create", "--pid-file", "a", "--pid-file", "b", "web"],
        ["create", "--preserve-fds", "x", "web"],
        ["create", "--preserve-fds", "-1", "web"],
        ["create", "--", "web"],
        ["create", "--bundle", "web"],
        ["create", "--bundle"],
        ["run", "-dk", "web"],
        ["run", "-b=b", "web"],
        ["delete", "web", "--force"],
        ["delete", "--force=true", "web"],
        ["delete", "-f", "-f", "web"],
        ["kill", "web", "-9"],
        ["kill", "web", "9", "extra"],
        ["exec", "-g", "x", "web", "true"],
        ["exec", "-g", "-1", "web", "true"],
        ["exec", "--preserve-fds", "1.5", "web", "true"],
        ["exec", "-e"],
        ["exec"],
        ["--log-format", "xml", "state", "web"],
        ["--log-format=yaml", "delete", "web"],
        ["-", "state", "web"],
        ["state", "-", "web"],
    ]

    @Test(arguments: leftToArgumentParser)
    func leavesEverythingElseToArgumentParser(argv: [String]) {
        #expect(Self.direct(argv) == nil)
    }

    /// A value like `--bundle=` keeps its `=`s as ArgumentParser does: only the first splits.
    @Test func splitsAnInlineValueAtTheFirstEquals() throws {
        let argv = ["create", "--bundle==a=b", "--pid-file=p=", "web"]
        let direct = try #require(Self.direct(argv))
        #expect(direct == (try Self.viaArgumentParser(argv)))
        guard case let .create(_, bundle, flags) = direct.action else { Issue.record("not a create"); return }
        #expect(bundle == "=a=b")
        #expect(flags.pidFile == "p=")
    }

    /// ArgumentParser reads `--pid-file= web` as `--pid-file web`; so does main, through it.
    @Test func leavesAnEmptyInlineValueToArgumentParser() throws {
        let argv = ["create", "--pid-file=", "web", "id2"]
        #expect(Self.direct(argv) == nil)
        guard case let .create(id, _, flags) = try #require(try Self.viaArgumentParser(argv)).action else {
            Issue.record("not a create"); return
        }
        #expect(flags.pidFile == "web")
        #expect(id == "id2")
    }
}
