import ArgumentParser
import Testing

@testable import SkiffCLI

@Suite struct GlobalArgumentsTests {
    /// main and the globals' move use a written-out list of command names (reading it from
    /// ArgumentParser's configuration cost every command its construction); it must name
    /// exactly the commands ArgumentParser knows.
    @Test func theCommandNamesAreArgumentParsersSubcommands() {
        let registered = Set(SkiffCommand.configuration.subcommands.map { $0._commandName })
        #expect(GlobalArguments.commands == registered)
    }

    @Test func globalsBeforeACommandMoveBehindIt() {
        #expect(GlobalArguments.moveAfterCommand(["--root", "/r", "--debug", "exec", "c", "true"])
            == ["exec", "--root", "/r", "--debug", "c", "true"])
        // A word that is no command keeps the globals out, so the error names the word.
        #expect(GlobalArguments.moveAfterCommand(["--root", "/r", "nosuch", "c"]) == ["nosuch", "c"])
    }
}
