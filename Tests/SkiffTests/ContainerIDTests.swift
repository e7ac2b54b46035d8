import Testing

@testable import Skiff

/// The id names a directory under the state root: it must be a single, plain path component.
@Suite struct ContainerIDTests {
    @Test(arguments: ["a", "web", "web-1", "my_container.v2", "a+b", "ABC123", "...", "a..b",
                      String(repeating: "x", count: 255)])
    func acceptsValidIDs(id: String) throws {
        try ContainerID.validate(id)
    }

    @Test func rejectsEmpty() {
        let error = thrown(SkiffError.self) { try ContainerID.validate("") }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.description == "invalid container id: must not be empty")
    }

    @Test(arguments: [".", ".."])
    func rejectsDotEntries(id: String) {
        let error = thrown(SkiffError.self) { try ContainerID.validate(id) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.description == "invalid container id \"\(id)\"")
    }

    @Test func rejectsTooLong() {
        let error = thrown(SkiffError.self) { try ContainerID.validate(String(repeating: "x", count: 256)) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.description == "invalid container id: longer than 255 bytes")
    }

    /// Length is counted in bytes, as the filesystem counts a name.
    @Test func lengthIsInBytes() {
        #expect(throws: SkiffError.self) { try ContainerID.validate(String(repeating: "é", count: 128)) }
    }

    @Test(arguments: ["a/b", "/abs", "../x", "a b", " a", "a\tb", "a\nb", "a\0b", "é", "a:b", "a*", "$(id)"])
    func rejectsCharactersOutsideTheSet(id: String) {
        let error = thrown(SkiffError.self) { try ContainerID.validate(id) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.description == "invalid container id \"\(id)\": only letters, digits, _ + - . are allowed")
    }
}
