#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A problem with an OCI document, named by the JSON path of the offending field.
///
/// The path is what a user would type into `jq`: `process.user.uid`, `mounts[3].destination`,
/// `linux.sysctl["net.ipv4.ip_forward"]`. Problems with the document as a whole (malformed
/// JSON) carry the document's file name, e.g. `config.json`.
public struct SpecError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

extension SpecError {
    /// Converts an error thrown while decoding (by `JSONDecoder` or by skiff's own decoder) into a
    /// `SpecError` naming the field, so callers that decode with `JSONDecoder` get the same
    /// messages as `Spec.decode`.
    public init(_ error: DecodingError, document: String = "config.json") {
        func at(_ codingPath: [any CodingKey]) -> String {
            let rendered = JSONPath.render(codingPath)
            return rendered.isEmpty ? document : rendered
        }
        switch error {
        case .typeMismatch(let type, let context):
            self.init(path: at(context.codingPath), message: "expected \(JSONPath.typeName(type))")
        case .valueNotFound(let type, let context):
            self.init(path: at(context.codingPath), message: "expected \(JSONPath.typeName(type)), found null")
        case .keyNotFound(let key, let context):
            self.init(path: at(context.codingPath + [key]), message: "missing required field")
        case .dataCorrupted(let context):
            self.init(path: at(context.codingPath), message: context.debugDescription)
        @unknown default:
            self.init(path: document, message: "\(error)")
        }
    }
}

/// Renders coding paths the way users write JSON paths.
enum JSONPath {
    static func render(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath { out = appending(key, to: out) }
        return out
    }

    static func appending(_ key: any CodingKey, to path: String) -> String {
        if let index = arrayIndex(key) { return path + "[\(index)]" }
        return appending(key: key.stringValue, to: path)
    }

    /// `linux` + `sysctl` → `linux.sysctl`; keys that are not identifiers (map keys such as
    /// sysctl names or annotation keys) are quoted: `linux.sysctl["net.ipv4.ip_forward"]`.
    static func appending(key: String, to path: String) -> String {
        if isIdentifier(key) { return path.isEmpty ? key : path + "." + key }
        return path + "[\"" + key + "\"]"
    }

    static func appending(index: Int, to path: String) -> String { path + "[\(index)]" }

    private static func arrayIndex(_ key: any CodingKey) -> Int? {
        if let key = key as? IndexKey { return key.intValue }
        // JSONDecoder's own index keys read "Index 3".
        if let index = key.intValue, key.stringValue == "Index \(index)" { return index }
        return nil
    }

    /// An ASCII identifier: `_` or a letter, then those or digits. Tested on bytes: Unicode
    /// scalar properties would map the standard library's property tables into every process
    /// that validates a config (a `run` and its init asked them ~12 times).
    private static func isIdentifier(_ key: String) -> Bool {
        func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) }
        func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        guard let first = key.utf8.first, first == UInt8(ascii: "_") || isLetter(first) else { return false }
        return key.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isLetter($0) || isDigit($0) }
    }

    /// The name of a Swift type as a JSON user would call it.
    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Bool.Type: return "boolean"
        case is String.Type: return "string"
        case is Double.Type, is Float.Type: return "number"
        case is Int.Type: return integerName(Int.self)
        case is Int8.Type: return integerName(Int8.self)
        case is Int16.Type: return integerName(Int16.self)
        case is Int32.Type: return integerName(Int32.self)
        case is Int64.Type: return integerName(Int64.self)
        case is UInt.Type: return integerName(UInt.self)
        case is UInt8.Type: return integerName(UInt8.self)
        case is UInt16.Type: return integerName(UInt16.self)
        case is UInt32.Type: return integerName(UInt32.self)
        case is UInt64.Type: return integerName(UInt64.self)
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array<") { return "array" }
            if name.hasPrefix("Dictionary<") { return "object" }
            return "object"
        }
    }

    static func integerName<T: FixedWidthInteger>(_: T.Type) -> String {
        // String(_:), not "\(…)": a generic interpolation's dynamic casts scan the binary's
        // conformance records.
        (T.isSigned ? "" : "unsigned ") + String(T.bitWidth) + "-bit integer"
    }
}

/// The coding key skiff's decoder uses for array elements.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}
