import Foundation
import Testing

@testable import SkiffOCI

@Suite("container state")
struct StateTests {
    @Test("encodes in runc's key order and omits what is unset")
    func encoding() throws {
        let state = State(ociVersion: "1.2.1", id: "web", status: .running, pid: 4242, bundle: "/run/bundles/web",
                          annotations: ["org.example": "1"])
        let data = try state.jsonData()
        #expect(try keysInOrder(data) == ["ociVersion", "id", "pid", "status", "bundle", "annotations", "org.example"])
        #expect(try State.decode(data) == state)

        let stopped = try State(id: "web", status: .stopped, bundle: "/b").jsonData()
        #expect(try keysInOrder(stopped) == ["ociVersion", "id", "status", "bundle"])
        #expect(String(decoding: stopped, as: UTF8.self).contains(#""status": "stopped""#))
    }

    @Test("decodes what runc state prints, ignoring runc's extra fields")
    func decodesRunc() throws {
        let json = #"""
            {
              "ociVersion": "1.0.2-dev",
              "id": "ct1",
              "pid": 31337,
              "status": "paused",
              "bundle": "/tmp/ct1",
              "rootfs": "/tmp/ct1/rootfs",
              "created": "2024-05-01T10:00:00.000000000Z",
              "owner": ""
            }
            """#
        let state = try State.decode(Data(json.utf8))
        #expect(state == State(ociVersion: "1.0.2-dev", id: "ct1", status: .paused, pid: 31337, bundle: "/tmp/ct1"))
    }

    @Test("an unknown status is named")
    func unknownStatus() {
        #expect(throws: SpecError(path: "status", message: #"unknown container status "zombie""#)) {
            try State.decode(Data(#"{"ociVersion": "1.2.1", "id": "x", "status": "zombie", "bundle": "/b"}"#.utf8))
        }
        #expect(throws: SpecError(path: "pid", message: "4294967296 is out of range for 32-bit integer")) {
            try State.decode(Data(#"{"ociVersion": "1.2.1", "id": "x", "status": "running", "pid": 4294967296, "bundle": "/b"}"#.utf8))
        }
    }
}
