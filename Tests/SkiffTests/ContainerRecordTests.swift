import Foundation
import Testing

@testable import Skiff
import SkiffOCI

/// state.json is written and read by hand (ContainerRecord.json, init(reading:)); the record's
/// public Codable conformance is synthesized. They must be one format: the same bytes from
/// both writers, and each reader taking what the other wrote.
@Suite struct ContainerRecordTests {
    static let full: ContainerRecord = {
        var record = StateStoreTests.record("web")
        record.annotations = ["b.example/second": "2", "a.example/first": "1 \"quoted\"", "z": ""]
        record.process = SkiffOCI.Process(
            terminal: true, consoleSize: Box(height: 24, width: 80), user: User(uid: 1000, gid: 1000, umask: 0o22, additionalGids: [10]),
            args: ["/bin/sh", "-c", "echo hi"], env: ["A=1"], cwd: "/tmp",
            capabilities: LinuxCapabilities(bounding: ["CAP_KILL"], effective: ["CAP_KILL"]),
            rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)], noNewPrivileges: true, oomScoreAdj: -500)
        record.hooks = Hooks(poststart: [Hook(path: "/bin/true", args: ["true"], env: ["X=1"], timeout: 5)],
                             poststop: [Hook(path: "/bin/false")])
        record.netDevices = ["eth1": "net0", "dummy0": "dummy0"]
        record.systemdUnit = "skiff-web.scope"
        record.systemdUserBus = true
        return record
    }()

    static let minimal = ContainerRecord(
        ociVersion: "1.0.2", id: "c", pid: 0, pidStartTime: 0, bundle: "/b", rootfs: "/b/rootfs", created: "now", owner: "0",
        annotations: nil, cgroupPaths: [], cgroupsPath: "", cgroupRelative: true, namespaces: [], process: nil)

    @Test(arguments: [full, minimal, StateStoreTests.record("web")])
    func oneFormatWithTheSynthesizedCodable(record: ContainerRecord) throws {
        let byHand = SkiffJSON.write(record.json())
        #expect(String(decoding: byHand, as: UTF8.self) == String(decoding: try SkiffJSON.encode(record), as: UTF8.self))
        #expect(try StateStore.decodeRecord(byHand, id: record.id) == record)
        #expect(try JSONDecoder().decode(ContainerRecord.self, from: Data(byHand)) == record)
        var withoutProcess = record
        withoutProcess.process = nil
        #expect(try StateStore.decodeRecord(byHand, id: record.id, includingProcess: false) == withoutProcess)
    }

    @Test(arguments: [
        (#"[]"#, "state.json: expected object, found array"),
        (#"{"ociVersion":"1","id":"c","pid":1.5}"#, "pid: expected 32-bit integer, found 1.5"),
        (#"{"ociVersion":"1","id":"c"}"#, "pid: missing required field"),
        (#"{"ociVersion":"1","id":"c","pid":4294967296}"#, "pid: 4294967296 is out of range for 32-bit integer"),
        (#"{"ociVersion":"1","id":"c","pid":1,"pidStartTime":-1}"#, "pidStartTime: -1 is out of range for unsigned 64-bit integer"),
        (#"{"ociVersion":"1","id":"c","pid":1,"pidStartTime":1,"bundle":"/b\u0000x"}"#, "bundle: contains a NUL byte"),
        (#"{"ociVersion":"1","id":"c","pid":1,"pidStartTime":1,"bundle":"/b","rootfs":"/r","created":"t","owner":"0","annotations":{"a.b":1}}"#,
         #"annotations["a.b"]: expected string, found 1"#),
        (#"{"ociVersion":"1","id":"c","pid":1,"pidStartTime":1,"bundle":"/b","rootfs":"/r","created":"t","owner":"0","cgroupPaths":["/x",2]}"#,
         "cgroupPaths[1]: expected string, found 2"),
        (#"{"ociVersion":"1","id":"c","pid":1,"pidStartTime":1,"bundle":"/b","rootfs":"/r","created":"t","owner":"0","cgroupPaths":[],"cgroupsPath":"","cgroupRelative":false,"namespaces":[],"process":{"cwd":"/","user":{"uid":-1,"gid":0}}}"#,
         "process.user.uid: -1 is out of range for unsigned 32-bit integer"),
    ])
    func malformedRecordsNameTheField(text: String, message: String) {
        let error = #expect(throws: SpecError.self) { try StateStore.decodeRecord(Array(text.utf8), id: "c") }
        #expect(error?.description == message)
    }
}
