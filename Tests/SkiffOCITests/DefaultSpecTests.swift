import Foundation
import Testing

@testable import SkiffOCI

@Suite("skiff spec defaults against runc spec")
struct DefaultSpecTests {
    /// The runc fixture with skiff's documented differences applied: our version and hostname,
    /// no ambient capabilities (runc 1.1 sets them, 1.2 does not), and a cgroup namespace, which
    /// runc 1.1 adds only when the host it runs on uses cgroup v2.
    func normalized(_ name: String) throws -> Spec {
        var spec = try Spec.decode(fixture(name))
        spec.ociVersion = OCIVersion.current
        spec.hostname = "skiff"
        spec.process?.capabilities?.ambient = nil
        if var namespaces = spec.linux?.namespaces, !namespaces.contains(where: { $0.type == .cgroup }) {
            let userAt = namespaces.firstIndex { $0.type == .user } ?? namespaces.count
            namespaces.insert(LinuxNamespace(type: .cgroup), at: userAt)
            spec.linux?.namespaces = namespaces
        }
        return spec
    }

    @Test("runcDefault is what runc spec writes")
    func runcDefault() throws {
        #expect(Spec.runcDefault() == (try normalized("runc-spec.json")))
    }

    @Test("rootlessDefault is what runc spec --rootless writes")
    func rootlessDefault() throws {
        // The fixture was generated as root, so the single mapping is to 0.
        #expect(Spec.rootlessDefault(uid: 0, gid: 0) == (try normalized("runc-spec-rootless.json")))
    }

    @Test("rootlessDefault maps container root to the given user")
    func rootlessMappings() throws {
        let spec = Spec.rootlessDefault(uid: 1000, gid: 1001)
        #expect(spec.linux?.uidMappings == [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)])
        #expect(spec.linux?.gidMappings == [LinuxIDMapping(containerID: 0, hostID: 1001, size: 1)])
        #expect(spec.linux?.namespaces?.last == LinuxNamespace(type: .user))
        #expect(spec.linux?.namespace(.network) == nil)
        #expect(spec.linux?.resources == nil)
        let sys = try #require(spec.mounts?.first { $0.destination == "/sys" })
        #expect(sys == Mount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"]))
        let devpts = try #require(spec.mounts?.first { $0.destination == "/dev/pts" })
        #expect(devpts.options?.contains("gid=5") == false)
    }

    @Test("the defaults are valid and give no inheritable or ambient capabilities")
    func defaultsValidate() throws {
        for spec in [Spec.runcDefault(), Spec.rootlessDefault(uid: 1000, gid: 1000)] {
            #expect(spec.validationErrors() == [])
            #expect(spec.process?.capabilities?.inheritable == nil)
            #expect(spec.process?.capabilities?.ambient == nil)
            #expect(spec.hostname == "skiff")
        }
    }

    @Test("the default encodes to JSON that decodes to itself")
    func defaultRoundTrips() throws {
        let spec = Spec.runcDefault()
        let data = try spec.jsonData()
        #expect(try Spec.decode(data) == spec)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasPrefix("{\n\t\"ociVersion\": \"\(OCIVersion.current)\",\n\t\"process\": {\n\t\t\"terminal\": true,"))
        #expect(!text.contains("\\/"), "slashes are not escaped")
    }
}
