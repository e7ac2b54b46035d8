import Foundation
import Testing

/// A fresh directory under /tmp, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "skiff-test") throws {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: try #require(made))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ relative: String) -> String { path + "/" + relative }
}

/// The error `body` throws, or nil (with an issue recorded) if it returns.
func thrown<E: Error>(_ type: E.Type, sourceLocation: SourceLocation = #_sourceLocation,
                      _ body: () throws -> Void) -> E? {
    do {
        try body()
        Issue.record("expected \(E.self) to be thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as E {
        return error
    } catch {
        Issue.record("expected \(E.self), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
