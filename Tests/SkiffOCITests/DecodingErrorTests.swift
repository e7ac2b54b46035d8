import Foundation
import Testing

@testable import SkiffOCI

@Suite("decoding errors name the JSON path")
struct DecodingErrorTests {
    /// A minimal valid config.json with `process` and `extra` spliced in.
    static func config(process: String = #"{"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"}"#, extra: String = "") -> String {
        #"{"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": \#(process)\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let json: String
        let path: String
        let message: String
        var testDescription: String { "\(path): \(message)" }
    }

    static let cases: [Case] = [
        // Wrong types.
        Case(json: config(process: #"{"user": {"uid": "0", "gid": 0}, "cwd": "/"}"#),
             path: "process.user.uid", message: "expected unsigned 32-bit integer, found string"),
        Case(json: config(process: #"{"user": {"uid": 0, "gid": 0}, "cwd": null}"#),
             path: "process.cwd", message: "expected string, found null"),
        Case(json: config(process: #"{"cwd": "/", "terminal": "yes"}"#),
             path: "process.terminal", message: "expected boolean, found string"),
        Case(json: config(process: #"{"cwd": "/", "args": "sh"}"#),
             path: "process.args", message: "expected array, found string"),
        Case(json: config(process: #"{"cwd": "/", "args": ["sh", 7]}"#),
             path: "process.args[1]", message: "expected string, found 7"),
        Case(json: config(extra: #""mounts": {"destination": "/proc"}"#),
             path: "mounts", message: "expected array, found object"),
        Case(json: config(extra: #""linux": {"sysctl": {"net.ipv4.ip_forward": 1}}"#),
             path: #"linux.sysctl["net.ipv4.ip_forward"]"#, message: "expected string, found 1"),
        Case(json: config(extra: #""annotations": {"org.example/key": true}"#),
             path: #"annotations["org.example/key"]"#, message: "expected string, found boolean"),

        // Integer widths and forms, as Go's encoding/json enforces them.
        Case(json: config(process: #"{"user": {"uid": 4294967296, "gid": 0}, "cwd": "/"}"#),
             path: "process.user.uid", message: "4294967296 is out of range for unsigned 32-bit integer"),
        Case(json: config(process: #"{"user": {"uid": -1, "gid": 0}, "cwd": "/"}"#),
             path: "process.user.uid", message: "-1 is out of range for unsigned 32-bit integer"),
        Case(json: config(process: #"{"user": {"uid": 1.5, "gid": 0}, "cwd": "/"}"#),
             path: "process.user.uid", message: "expected unsigned 32-bit integer, found 1.5"),
        Case(json: config(process: #"{"user": {"uid": 1e3, "gid": 0}, "cwd": "/"}"#),
             path: "process.user.uid", message: "expected unsigned 32-bit integer, found 1e3"),
        Case(json: config(process: #"{"user": {"uid": 0, "gid": 0, "additionalGids": [10, 4294967296]}, "cwd": "/"}"#),
             path: "process.user.additionalGids[1]", message: "4294967296 is out of range for unsigned 32-bit integer"),
        Case(json: config(process: #"{"cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551616, "soft": 1}]}"#),
             path: "process.rlimits[0].hard", message: "18446744073709551616 is out of range for unsigned 64-bit integer"),
        Case(json: config(process: #"{"cwd": "/", "scheduler": {"policy": "SCHED_OTHER", "nice": 2147483648}}"#),
             path: "process.scheduler.nice", message: "2147483648 is out of range for 32-bit integer"),
        Case(json: config(extra: #""linux": {"resources": {"blockIO": {"weight": 65536}}}"#),
             path: "linux.resources.blockIO.weight", message: "65536 is out of range for unsigned 16-bit integer"),
        Case(json: config(extra: #""linux": {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 4294967296}]}"#),
             path: "linux.uidMappings[0].size", message: "4294967296 is out of range for unsigned 32-bit integer"),

        // Missing required fields.
        Case(json: #"{"root": {"path": "rootfs"}}"#, path: "ociVersion", message: "missing required field"),
        Case(json: #"{"ociVersion": "1.2.0", "root": {}}"#, path: "root.path", message: "missing required field"),
        Case(json: config(process: #"{"user": {"uid": 0, "gid": 0}, "args": ["sh"]}"#),
             path: "process.cwd", message: "missing required field"),
        Case(json: config(process: #"{"cwd": "/", "user": {"gid": 0}}"#),
             path: "process.user.uid", message: "missing required field"),
        Case(json: config(extra: #""mounts": [{"destination": "/a"}, {"destination": "/b"}, {"destination": "/c"}, {"type": "tmpfs"}]"#),
             path: "mounts[3].destination", message: "missing required field"),
        Case(json: config(extra: #""linux": {"devices": [{"path": "/dev/sda", "type": "b", "minor": 0}]}"#),
             path: "linux.devices[0].major", message: "missing required field"),
        Case(json: config(extra: #""linux": {"seccomp": {"syscalls": []}}"#),
             path: "linux.seccomp.defaultAction", message: "missing required field"),
        Case(json: config(extra: #""linux": {"resources": {"pids": {}}}"#),
             path: "linux.resources.pids.limit", message: "missing required field"),

        // Closed sets.
        Case(json: config(extra: #""linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "foo"}]}"#),
             path: "linux.namespaces[2].type", message: #"unknown namespace type "foo""#),
        Case(json: config(extra: #""linux": {"namespaces": [{"path": "/proc/1/ns/net"}]}"#),
             path: "linux.namespaces[0].type", message: "missing required field"),

        // The document itself.
        Case(json: "", path: "config.json", message: "malformed JSON: unexpected end of input at line 1, column 1"),
        Case(json: "[1, 2]", path: "config.json", message: "expected object, found array"),
        Case(json: "{\"ociVersion\": \"1.2.0\",\n  \"root\": {\"path\": \"rootfs\"}\n  \"hostname\": \"x\"}",
             path: "config.json", message: "malformed JSON: expected ',' or '}' in object, found character '\"' at line 3, column 3"),
        Case(json: "{\"ociVersion\": \"1.2.0\",}", path: "config.json",
             message: "malformed JSON: expected a string key, found character '}' at line 1, column 24"),
        Case(json: "{\"ociVersion\": \"1.2.0\"} {}", path: "config.json",
             message: "malformed JSON: unexpected character '{' after the top-level value at line 1, column 25"),
        Case(json: "{\"ociVersion\": \"1.2.0\", \"hostname\": tru}", path: "config.json",
             message: "malformed JSON: unexpected character '}' at line 1, column 40"),
        Case(json: "{\"ociVersion\": \"1.2.0\n\"}", path: "config.json",
             message: "malformed JSON: control character byte 0xA in string at line 1, column 22"),
        Case(json: "{\"ociVersion\": \"\\x\"}", path: "config.json",
             message: "malformed JSON: invalid escape '\\x' in string at line 1, column 17"),
        // A NUL would cut the C string the value becomes: refused wherever it is.
        Case(json: config(process: #"{"cwd": "/tmp\u0000/x"}"#), path: "process.cwd", message: "contains a NUL byte"),
        Case(json: config(process: #"{"cwd": "/", "args": ["sh", "a\u0000b"]}"#), path: "process.args[1]", message: "contains a NUL byte"),
        Case(json: config(extra: #""hostname": "a\u0000b""#), path: "hostname", message: "contains a NUL byte"),
        Case(json: config(extra: #""mounts": [{"destination": "/a\u0000b"}]"#), path: "mounts[0].destination", message: "contains a NUL byte"),
        Case(json: "{\"ociVersion\": 01}", path: "config.json",
             message: "malformed JSON: expected ',' or '}' in object, found character '1' at line 1, column 17"),
    ]

    @Test("the error names the field and says what is wrong", arguments: cases)
    func error(_ c: Case) {
        #expect(decodeError(c.json) == SpecError(path: c.path, message: c.message))
    }

    @Test("SpecError reads as path: message")
    func description() {
        #expect(SpecError(path: "process.args", message: "must not be empty").description == "process.args: must not be empty")
    }

    @Test("a missing user means uid 0 and gid 0, as in runc")
    func missingUser() throws {
        let spec = try Spec.decode(Data(Self.config(process: #"{"args": ["sh"], "cwd": "/"}"#).utf8))
        #expect(spec.process?.user == User(uid: 0, gid: 0))
    }

    @Test("a FIFO device needs no device number")
    func fifoDevice() throws {
        let spec = try Spec.decode(Data(Self.config(extra: #""linux": {"devices": [{"path": "/dev/fifo", "type": "p"}]}"#).utf8))
        #expect(spec.linux?.devices == [LinuxDevice(path: "/dev/fifo", type: "p", major: 0, minor: 0)])
    }

    @Test("omitted members are not decoded, at the top level and one level down; the rest is")
    func omittedMembers() throws {
        // Wrong types in linux.seccomp and linux.resources: an error unless they are omitted.
        let json = Self.config(extra: #""linux": {"seccomp": {"defaultAction": 7}, "resources": {"pids": {"limit": "x"}}, "sysctl": {"kernel.domainname": "a"}}, "hostname": "h""#)
        let bytes = Array(json.utf8)
        #expect(throws: SpecError.self) { try SkiffJSON.decode(Spec.self, from: bytes, document: "config.json") }
        let spec = try SkiffJSON.decode(Spec.self, from: bytes, document: "config.json",
                                        omitting: ["linux.seccomp", "linux.resources"])
        #expect(spec.linux?.seccomp == nil)
        #expect(spec.linux?.resources == nil)
        #expect(spec.linux?.sysctl == ["kernel.domainname": "a"])
        #expect(spec.hostname == "h")
        let withoutLinux = try SkiffJSON.decode(Spec.self, from: bytes, document: "config.json", omitting: ["linux"])
        #expect(withoutLinux.linux == nil)
        #expect(withoutLinux.process?.args == ["sh"])
    }

    @Test("unknown fields are ignored, as runc ignores them")
    func unknownFields() throws {
        let spec = try Spec.decode(Data(Self.config(extra: #""solaris": {"milestone": "x"}, "vm": {}"#).utf8))
        #expect(spec.root == Root(path: "rootfs"))
    }

    @Test("the largest values of each width decode")
    func limits() throws {
        let json = Self.config(
            process: #"{"user": {"uid": 4294967295, "gid": 0}, "cwd": "/", "oomScoreAdj": -1000, "rlimits": [{"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 18446744073709551615}]}"#,
            extra: #""linux": {"resources": {"memory": {"limit": -1, "swap": 9223372036854775807}}}"#)
        let spec = try Spec.decode(Data(json.utf8))
        #expect(spec.process?.user.uid == UInt32.max)
        #expect(spec.process?.rlimits?.first?.hard == UInt64.max)
        #expect(spec.linux?.resources?.memory?.limit == -1)
        #expect(spec.linux?.resources?.memory?.swap == Int64.max)
    }

    @Test("a DecodingError from JSONDecoder converts to the same kind of SpecError")
    func fromJSONDecoder() throws {
        let json = #"{"ociVersion": "1", "linux": {"namespaces": [{"type": "pid"}, {"type": "bogus"}]}}"#
        do {
            _ = try JSONDecoder().decode(Spec.self, from: Data(json.utf8))
            Issue.record("decoding succeeded")
        } catch let error as DecodingError {
            #expect(SpecError(error) == SpecError(path: "linux.namespaces[1].type", message: #"unknown namespace type "bogus""#))
        }
        do {
            _ = try JSONDecoder().decode(Spec.self, from: Data(#"{"root": {"path": "r"}}"#.utf8))
            Issue.record("decoding succeeded")
        } catch let error as DecodingError {
            #expect(SpecError(error) == SpecError(path: "ociVersion", message: "missing required field"))
        }
    }
}

@Suite("the JSON parser")
struct JSONParserTests {
    func string(_ json: String) throws -> String {
        let value = try JSONParser.parse(Array(json.utf8))
        guard case .string(let string) = value else {
            Issue.record("not a string: \(value)")
            return ""
        }
        return string
    }

    @Test("string escapes, including surrogate pairs")
    func escapes() throws {
        #expect(try string(#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00""#) == "a\"b\\c/d\n\té😀")
        // A lone surrogate becomes U+FFFD, as Go does.
        #expect(try string(#""\ud800x""#) == "\u{FFFD}x")
        #expect(try string("\"ünïcödé\"") == "ünïcödé")
    }

    /// Strings without an escape are decoded in one go; the bytes before the first escape or
    /// control character must carry over to the byte-by-byte path.
    @Test("strings with and without escapes, and what ends them")
    func stringPaths() throws {
        #expect(try string(#""""#) == "")
        #expect(try string(#""plain text""#) == "plain text")
        #expect(try string(#""before\nafter""#) == "before\nafter")
        #expect(try string(#""x\\""#) == "x\\")
        // Invalid UTF-8 becomes U+FFFD on either path.
        let invalid: [([UInt8], String)] = [([0x22, 0x61, 0xFF, 0x22], "a\u{FFFD}"), ([0x22, 0x5C, 0x6E, 0xFF, 0x22], "\n\u{FFFD}")]
        for (bytes, expected) in invalid {
            guard case .string(let decoded) = try JSONParser.parse(bytes) else {
                Issue.record("not a string: \(bytes)")
                continue
            }
            #expect(decoded == expected)
        }
        // Unterminated (after plain text, after an escape), a raw tab, a control character after an escape.
        for bad in [#""abc"#, #""abc\"#, "\"ab\tc\"", "\"a\\nb\u{1}\""] {
            #expect(throws: JSONSyntaxError.self, "\(bad.debugDescription)") { try JSONParser.parse(Array(bad.utf8)) }
        }
    }

    @Test("the last duplicate key wins, as in Go")
    func duplicates() throws {
        let spec = try Spec.decode(Data(#"{"ociVersion": "1.0.0", "hostname": "a", "hostname": "b"}"#.utf8))
        #expect(spec.hostname == "b")
    }

    @Test("deep nesting is refused, not a crash")
    func depth() {
        let json = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(Array(json.utf8)) }
    }

    @Test("numbers keep their literal text")
    func numbers() throws {
        for literal in ["0", "-0", "12", "-3.25", "1e9", "2E-3", "18446744073709551616"] {
            let value = try JSONParser.parse(Array(literal.utf8))
            guard case .number(let text) = value else {
                Issue.record("\(literal) is not a number")
                continue
            }
            #expect(text == literal)
        }
        for bad in ["-", "1.", ".5", "+1", "1e", "0x10"] {
            #expect(throws: JSONSyntaxError.self, "\(bad)") { try JSONParser.parse(Array(bad.utf8)) }
        }
    }
}
