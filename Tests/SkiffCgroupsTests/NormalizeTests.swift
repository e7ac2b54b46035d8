import Testing

import SkiffCgroups

/// linux.cgroupsPath is config input; the runtime runs as root and creates and removes
/// directories named by it, so it must stay inside the hierarchy.
@Suite struct NormalizeTests {
    @Test(arguments: [
        ("/skiff/x", "/skiff/x"),
        ("skiff/x", "/skiff/x"),
        ("./a//b/", "/a/b"),
        ("/machine.slice/libpod-abc.scope", "/machine.slice/libpod-abc.scope"),
        ("x", "/x"),
        ("/a/./b/.", "/a/b"),
    ])
    func accepts(input: String, expected: String) throws {
        #expect(try CgroupManager.normalize(input) == expected)
    }

    @Test(arguments: ["/a/../b", "..", "../x", "/skiff/..", "a/b/../../../etc"])
    func rejectsDotDot(input: String) {
        do {
            _ = try CgroupManager.normalize(input)
            Issue.record("\(input) accepted")
        } catch {
            #expect(error.description == #"linux.cgroupsPath: "\#(input)" must not contain "..""#)
        }
    }

    @Test(arguments: ["/", "", ".", "//", "/./"])
    func rejectsTheRootCgroup(input: String) {
        do {
            _ = try CgroupManager.normalize(input)
            Issue.record("\(input) accepted")
        } catch {
            #expect(error.description == #"linux.cgroupsPath: "\#(input)" names the root cgroup"#)
        }
    }

    @Test func managerKeepsTheNormalizedPath() throws {
        let manager = try CgroupManager(hierarchies: [], cgroupsPath: "skiff//c1/")
        #expect(manager.path == "/skiff/c1")
        #expect(throws: CgroupError.self) { try CgroupManager(hierarchies: [], cgroupsPath: "/../../etc") }
    }
}
