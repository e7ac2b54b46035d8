import Foundation
import Testing

@testable import SkiffInitProtocol
import SkiffOCI
import SkiffLinux

/// containerd's shim and conmon read `--log` back to show why a command failed: the lines
/// must be what logrus writes.
@Suite struct LoggerTests {
    /// Logs through a pipe and returns the bytes written.
    func capture(format: SkiffLogger.Format, minimum: SkiffLogger.Level = .info, _ body: (SkiffLogger) -> Void) throws -> String {
        let pipe = try Sockets.pipe()
        body(SkiffLogger(fd: pipe.write.raw, format: format, minimum: minimum))
        pipe.write.close()
        return String(decoding: try pipe.read.readAll(), as: UTF8.self)
    }

    /// RFC 3339 with nine fraction digits in UTC; the capture is the part up to the seconds.
    static var rfc3339Nano: Regex<(Substring, Substring)> { #/^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.\d{9}Z$/# }

    @Test func jsonLine() throws {
        let before = Date()
        let output = try capture(format: .json) { $0.error("create \"web\": mount \"/proc\": permission denied") }
        #expect(output.hasSuffix("\n"))
        #expect(output.filter { $0 == "\n" }.count == 1)
        // logrus orders the keys: level, msg, time.
        #expect(output.hasPrefix(#"{"level":"error","msg":"create \"web\": mount \"/proc\": permission denied","time":""#))
        let object = try #require(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: String])
        #expect(Set(object.keys) == ["level", "msg", "time"])
        #expect(object["level"] == "error")
        #expect(object["msg"] == "create \"web\": mount \"/proc\": permission denied")
        let time = try #require(object["time"])
        let match = try #require(time.wholeMatch(of: Self.rfc3339Nano), "time \(time)")
        let formatter = ISO8601DateFormatter()
        let seconds = try #require(formatter.date(from: String(match.1) + "Z"))
        #expect(abs(seconds.timeIntervalSince(before)) < 60)
    }

    @Test func textLine() throws {
        let output = try capture(format: .text) { $0.warning("a \"quoted\" word") }
        let match = try #require(output.wholeMatch(of: #/time="([^"]+)" level=warning msg="a \\"quoted\\" word"\n/#))
        #expect(match.1.wholeMatch(of: Self.rfc3339Nano) != nil)
    }

    @Test func levelsBelowTheMinimumAreDropped() throws {
        let output = try capture(format: .json, minimum: .warning) {
            $0.debug("d")
            $0.info("i")
            $0.warning("w")
            $0.error("e")
        }
        let levels = try output.split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String])["level"]
        }
        #expect(levels == ["warning", "error"])
    }

    @Test func debugIsNotEvaluatedWhenDropped() throws {
        var evaluated = false
        _ = try capture(format: .text) { logger in
            logger.debug({ evaluated = true; return "expensive" }())
        }
        #expect(!evaluated)
        let output = try capture(format: .text, minimum: .debug) { $0.debug("shown") }
        #expect(output.contains("level=debug msg=\"shown\""))
    }

    @Test func writeRawWritesAsIs() throws {
        #expect(try capture(format: .json) { $0.writeRaw("plain\n") } == "plain\n")
    }

    @Test func timestampIsUTCWithNanoseconds() {
        let stamp = SkiffLogger.timestamp()
        #expect(stamp.wholeMatch(of: Self.rfc3339Nano) != nil, "\(stamp)")
    }
}

/// JSON string literals for log messages that may hold anything a failing mount prints.
@Suite struct JSONQuoteTests {
    @Test(arguments: [
        ("plain", #""plain""#),
        ("say \"hi\"", #""say \"hi\"""#),
        (#"C:\dir"#, #""C:\\dir""#),
        ("a\nb\rc\td", #""a\nb\rc\td""#),
        ("\u{1}\u{1f}", #""\u0001\u001f""#),
        ("\u{0}", #""\u0000""#),
        ("é ✓ 🐳", "\"é ✓ 🐳\""),
        ("/", #""/""#),
        ("\u{7f}", "\"\u{7f}\""),
        ("", #""""#),
    ])
    func escapes(input: String, expected: String) {
        #expect(jsonQuote(input) == expected)
    }

    /// Whatever the text, a JSON parser reads back the same string.
    @Test func roundTripsThroughAJSONParser() throws {
        var everyControl = ""
        for value in 0..<0x20 { everyControl.unicodeScalars.append(Unicode.Scalar(UInt8(value))) }
        for text in [everyControl, "\"\\\"\\", "mixed \u{1b}[31mred\u{1b}[0m \u{2028}", "🐳\u{0}x"] {
            let data = Data(("[" + jsonQuote(text) + "]").utf8)
            let parsed = try #require(JSONSerialization.jsonObject(with: data) as? [String])
            #expect(parsed == [text])
        }
    }
}
