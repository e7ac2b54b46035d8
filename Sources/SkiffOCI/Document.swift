#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The runtime-spec version skiff writes and the range it reads.
public enum OCIVersion {
    /// The version skiff's types follow; written by `skiff spec` and `skiff state`.
    public static let current = "1.2.1"
    /// The oldest version skiff accepts, as reported in features.json.
    public static let minimum = "1.0.0"
}

/// A runtime-spec JSON document: config.json, process.json (for exec), state or features.
public protocol OCIDocument: Codable, Sendable {
    /// The file name errors about the whole document are reported against.
    static var documentName: String { get }
}

extension OCIDocument {
    /// Decodes a document, reporting any problem as a `SpecError` that names the JSON path:
    /// `process.user.uid: expected unsigned 32-bit integer, found string`,
    /// `mounts[3].destination: missing required field`,
    /// `config.json: malformed JSON: unexpected character '}' at line 4, column 1`.
    public static func decode(_ data: Data) throws(SpecError) -> Self {
        let tree: JSONValue
        do {
            tree = try JSONParser.parse(data)
        } catch {
            throw SpecError(path: documentName, message: "malformed JSON: \(error.message)")
        }
        do {
            return try Self(from: JSONTreeDecoder(tree))
        } catch let error as SpecError {
            guard error.path.isEmpty else { throw error }
            throw SpecError(path: documentName, message: error.message)
        } catch let error as DecodingError {
            throw SpecError(error, document: documentName)
        } catch {
            throw SpecError(path: documentName, message: "\(error)")
        }
    }

    /// The document as JSON, written the way runc writes it: fields in the spec's (Go struct)
    /// order, unset fields omitted as Go's `omitempty` omits them, map keys sorted.
    ///
    /// - Parameter indent: one level of indentation (runc uses a tab for config.json and two
    ///   spaces for `state`), or nil for one compact line, as hooks receive the state.
    public func jsonData(indent: String? = "\t") throws -> Data {
        Data(JSONWriter.write(try JSONTreeEncoder.encode(self), indent: indent).utf8)
    }
}

/// Decodes a closed set of string values, naming the field and the value when it is not one of
/// them (`linux.namespaces[2].type: unknown namespace type "foo"`).
protocol StrictStringEnum: RawRepresentable<String>, Codable, CaseIterable {
    /// How the error message names this kind of value: "namespace type".
    static var valueDescription: String { get }
}

extension StrictStringEnum {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let value = Self(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "unknown \(Self.valueDescription) \"\(raw)\"")
        }
        self = value
    }
}
