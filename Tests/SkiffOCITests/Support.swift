import Foundation
import Testing

@testable import SkiffOCI

/// The bytes of a file in Fixtures/.
func fixture(_ name: String) throws -> Data {
    let directory = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
    return try Data(contentsOf: directory.appendingPathComponent(name))
}

/// Decodes a config.json given as a string, returning the error it throws (or nil).
func decodeError(_ json: String) -> SpecError? {
    do {
        _ = try Spec.decode(Data(json.utf8))
        return nil
    } catch {
        return error
    }
}

/// The validation error a spec gives (or nil).
func validationError(_ spec: Spec) -> SpecError? {
    do {
        try spec.validate()
        return nil
    } catch {
        return error
    }
}

/// JSON text parsed with Foundation's parser, for comparing documents independent of key order
/// and formatting.
func jsonObject(_ data: Data) throws -> NSObject {
    try #require(JSONSerialization.jsonObject(with: data) as? NSObject)
}

/// Object keys in document order, as they appear in the text.
func keysInOrder(_ data: Data) throws -> [String] {
    let text = String(decoding: data, as: UTF8.self)
    let regex = try NSRegularExpression(pattern: #""([^"\\]*)"\s*:"#)
    return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
        String(text[Range($0.range(at: 1), in: text)!])
    }
}
