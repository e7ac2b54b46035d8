import Foundation
import Testing

@testable import SkiffOCI

@Suite("JSON output in Go's format")
struct JSONWriterTests {
    @Test("compact output is one line, as hooks read the state on stdin")
    func compact() throws {
        let state = State(ociVersion: "1.2.1", id: "c1", status: .created, pid: 7, bundle: "/b")
        let text = String(decoding: try state.jsonData(indent: nil), as: UTF8.self)
        #expect(text == #"{"ociVersion":"1.2.1","id":"c1","pid":7,"status":"created","bundle":"/b"}"#)
    }

    @Test("map keys are sorted, struct fields keep their order")
    func mapKeys() throws {
        let spec = Spec(
            ociVersion: "1.2.1", annotations: ["z": "1", "a": "2", "m": "3"],
            linux: Linux(sysctl: ["net.b": "1", "net.a": "2"]))
        let text = String(decoding: try spec.jsonData(indent: nil), as: UTF8.self)
        #expect(text == #"{"ociVersion":"1.2.1","annotations":{"a":"2","m":"3","z":"1"},"linux":{"sysctl":{"net.a":"2","net.b":"1"}}}"#)
    }

    @Test("strings are escaped as Go escapes them")
    func escaping() throws {
        let spec = Spec(ociVersion: "1", hostname: "a\"b\\c\n\t<&>\u{1}\u{2028}é/")
        let text = String(decoding: try spec.jsonData(indent: nil), as: UTF8.self)
        #expect(text == #"{"ociVersion":"1","hostname":"a\"b\\c\n\t\u003c\u0026\u003e\u0001\u2028é/"}"#)
        #expect(try Spec.decode(Data(text.utf8)).hostname == spec.hostname)
    }

    @Test("the line separators are escaped, other three-byte characters are not")
    func lineSeparators() throws {
        let spec = Spec(ociVersion: "1", hostname: "\u{2029}€\u{2027}\u{2028}\u{1F}\u{7F}✓")
        let text = String(decoding: try spec.jsonData(indent: nil), as: UTF8.self)
        #expect(text == #"{"ociVersion":"1","hostname":"\u2029€\#u{2027}\u2028\u001f\#u{7F}✓"}"#)
        #expect(jsonQuote("x\u{2028}") == #""x\u2028""#)
    }

    /// The writer copies unescaped bytes a run at a time; a reference that escapes scalar by
    /// scalar, over seeded strings of the pieces that matter (escapes, three-byte characters
    /// that are and are not line separators, at the start, the end and side by side).
    @Test("run-at-a-time escaping matches a scalar-by-scalar reference")
    func escapingMatchesAReference() {
        func reference(_ text: String) -> String {
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case "<", ">", "&", "\u{2028}", "\u{2029}", "\u{0}"..."\u{1F}":
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        let pieces = ["a", "bc", "\"", "\\", "\n", "\r", "\t", "<", ">", "&", "\u{0}", "\u{1F}", "\u{7F}", "é", "€",
                      "\u{2027}", "\u{2028}", "\u{2029}", "\u{202A}", "✓", "😀", "/"]
        var generator = SplitMix64(seed: 0x4A50)
        for _ in 0..<2000 {
            let text = (0..<generator.next(below: 8)).map { _ in pieces[generator.next(below: pieces.count)] }.joined()
            #expect(jsonQuote(text) == reference(text), "\(Array(text.unicodeScalars))")
        }
    }

    @Test("empty lists and objects are written, not dropped")
    func empties() throws {
        let spec = Spec(ociVersion: "1", mounts: [], linux: Linux())
        let text = String(decoding: try spec.jsonData(), as: UTF8.self)
        #expect(text == "{\n\t\"ociVersion\": \"1\",\n\t\"mounts\": [],\n\t\"linux\": {}\n}")
    }
}
