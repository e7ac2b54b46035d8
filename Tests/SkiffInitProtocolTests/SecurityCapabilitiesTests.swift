import Foundation
import Testing

@testable import SkiffInitProtocol
import SkiffOCI

/// process.capabilities as the runtime checks them before anything is created: names against
/// the running kernel, the capset(2) rules, and what the runtime itself lacks.
@Suite struct SecurityCapabilitiesTests {
    func message(_ body: () throws -> Void) -> String? {
        #expect(throws: SkiffError.self) { try body() }?.message
    }

    @Test func namesMapToTheKernelNumbers() throws {
        let sets = try CapabilitySets(LinuxCapabilities(
            bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"], effective: ["CAP_KILL"],
            inheritable: [], permitted: ["CAP_KILL"], ambient: ["CAP_KILL"]))
        #expect(sets.bounding == [0, 5, 10])
        #expect(sets.effective == [5])
        #expect(sets.permitted == [5])
        #expect(sets.inheritable == [])
        #expect(sets.ambient == [5])
    }

    @Test func absentCapabilitiesKeepNothing() throws {
        // runc: a nil capabilities object is an empty one, bounding set included.
        #expect(try CapabilitySets(nil) == CapabilitySets(bounding: [], effective: [], inheritable: [], permitted: [], ambient: []))
    }

    @Test func anUnknownNameIsAnErrorNamingTheField() {
        #expect(message { _ = try CapabilitySets(LinuxCapabilities(bounding: ["CAP_KILL", "CAP_TEST"])) }
            == #"process.capabilities.bounding: unknown capability "CAP_TEST""#)
        #expect(message { _ = try CapabilitySets(LinuxCapabilities(ambient: ["CAP_TEST"])) }
            == #"process.capabilities.ambient: unknown capability "CAP_TEST""#)
    }

    /// libcap's own parser takes these; the spec spells a capability one way.
    @Test(arguments: ["cap_kill", "KILL", "5", "CAP_KILL ", "", "CAP_ALL"])
    func onlyTheSpecSpellingIsAccepted(_ name: String) {
        #expect(message { _ = try CapabilitySets(LinuxCapabilities(effective: [name])) }
            == "process.capabilities.effective: unknown capability \"\(name)\"")
    }

    @Test func aCapabilityNewerThanTheKernelIsAnError() {
        // As if the kernel stopped at CAP_SYS_ADMIN (21).
        #expect(message { _ = try CapabilitySets(LinuxCapabilities(permitted: ["CAP_SYS_BOOT"]), kernelCount: 22) }
            == #"process.capabilities.permitted: capability "CAP_SYS_BOOT" is not supported by this kernel (last is CAP_SYS_ADMIN)"#)
    }

    @Test func everyKernelCapabilityHasItsName() {
        let names = CapabilitySets.kernelNames()
        #expect(names.count == Int(CapabilitySets.kernelCount))
        #expect(names.first == "CAP_CHOWN")
        for name in names { #expect(CapabilitySets.value(of: name).map(CapabilitySets.name(of:)) == name) }
    }

    @Test func effectiveMustBePermitted() {
        let sets = CapabilitySets(bounding: [5, 10], effective: [5, 10], inheritable: [], permitted: [5], ambient: [])
        #expect(message { _ = try sets.checked(available: Set(0..<41)) }
            == #"process.capabilities.effective: "CAP_NET_BIND_SERVICE" is not in permitted"#)
    }

    @Test func inheritableMustBeInTheBoundingSet() {
        let sets = CapabilitySets(bounding: [5], effective: [], inheritable: [5, 12], permitted: [5], ambient: [])
        #expect(message { _ = try sets.checked(available: Set(0..<41)) }
            == #"process.capabilities.inheritable: "CAP_NET_ADMIN" is not in bounding"#)
    }

    /// This host's root has no CAP_SYS_RESOURCE (24) in its bounding set: asking for it
    /// leaves it out everywhere instead of failing capset, as runc does.
    @Test func whatTheRuntimeLacksIsLeftOut() throws {
        let sets = CapabilitySets(bounding: [5, 24], effective: [5, 24], inheritable: [24], permitted: [5, 24], ambient: [24])
        var available = Set<Int32>(0..<41)
        available.remove(24)
        let checked = try sets.checked(available: available)
        #expect(checked == CapabilitySets(bounding: [5], effective: [5], inheritable: [], permitted: [5], ambient: []))
        #expect(sets.unavailable(available) == ["CAP_SYS_RESOURCE"])
    }

    /// `runc spec` of 1.1 put the defaults in ambient without inheritable; the kernel cannot
    /// raise those, runc skips them, and such bundles must keep running.
    @Test func ambientIsRaisedOnlyWhenPermittedAndInheritable() {
        let sets = CapabilitySets(bounding: [5, 10, 29], effective: [5], inheritable: [10], permitted: [5, 10],
                                  ambient: [5, 10, 29])
        #expect(sets.raisableAmbient == [10])
    }

    @Test func theDefaultSpecHasNoInheritableCapabilities() throws {
        // CVE-2022-29162: inheritable capabilities survive exec of a non-root binary.
        let caps = try #require(Spec.runcDefault().process?.capabilities)
        #expect(caps.inheritable ?? [] == [])
        #expect(caps.ambient ?? [] == [])
    }
}
