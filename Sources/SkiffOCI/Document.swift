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
        try decode(bytes: Array(data))
    }

    /// The same from bytes already read: the runtime's own paths (config.json, process.json)
    /// never touch Foundation's `Data`, whose code and data a short-lived process would
    /// otherwise fault in for one copy (~200 KB of the peak RSS of `run`).
    public static func decode(bytes: [UInt8]) throws(SpecError) -> Self {
        try SkiffJSON.decode(Self.self, from: bytes, document: documentName)
    }

    /// The document as JSON, written the way runc writes it: fields in the spec's (Go struct)
    /// order, unset fields omitted as Go's `omitempty` omits them, map keys sorted.
    ///
    /// - Parameter indent: one level of indentation (runc uses a tab for config.json and two
    ///   spaces for `state`), or nil for one compact line, as hooks receive the state.
    public func jsonData(indent: String? = "\t") throws -> Data {
        Data(try SkiffJSON.encode(self, indent: indent))
    }
}

/// skiff's one JSON implementation, for the spec's documents and for what skiff writes and
/// reads itself (state.json, the sync socket's messages, the C stage's reports). Decoding
/// and encoding go through a parsed tree without the dynamic casts Foundation's coders make
/// per type, which every short-lived skiff process would pay for in conformance lookups.
public enum SkiffJSON {
    /// Decodes `type` from JSON text; errors name the JSON path, or `document` for the whole.
    /// `omitting`: members decoded as if absent (parsed, as JSON, but not turned into values),
    /// for a caller that does not need them: a top-level member (`process`) or one of a
    /// top-level object's (`linux.seccomp`).
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], document: String,
                                            omitting: Set<String> = []) throws(SpecError) -> T {
        try JSONDocument(parsing: bytes, name: document).decode(type, omitting: omitting)
    }

    /// JSON text for `value`: members in declaration order, dictionaries' keys sorted, unset
    /// optionals omitted; one line unless `indent` is given.
    public static func encode(_ value: some Encodable, indent: String? = nil) throws -> [UInt8] {
        JSONWriter.write(try JSONTreeEncoder.encode(value), indent: indent)
    }

    // The tree itself, for skiff's own messages mapped by hand rather than through Codable
    // (the sync socket's, which init decodes first thing: Codable's first use in a fresh
    // process instantiates its generic containers and their metadata, docs/benchmarks.md).

    /// JSON text as a tree; errors name `document`.
    package static func parse(_ bytes: [UInt8], document: String) throws(SpecError) -> JSONValue {
        try JSONDocument(parsing: bytes, name: document).tree
    }

    /// One line of JSON text for a tree.
    package static func write(_ tree: JSONValue) -> [UInt8] {
        JSONWriter.write(tree, indent: nil)
    }

    /// Decodes `type` from a tree through Codable; errors name the JSON path below `document`.
    package static func decode<T: Decodable>(_ type: T.Type, from tree: JSONValue, document: String) throws(SpecError) -> T {
        try JSONDocument(tree: tree, name: document).decode(type)
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

/// A JSON document parsed once: decoded whole or without some members, and a member's own
/// text at hand (the runtime keys its compiled seccomp filters by the profile's text, and
/// decodes the profile only when no filter is cached for it).
public struct JSONDocument: Sendable {
    let tree: JSONValue
    /// What errors about the whole document name: `config.json`.
    public let name: String

    init(tree: JSONValue, name: String) {
        self.tree = tree
        self.name = name
    }

    public init(parsing bytes: [UInt8], name: String) throws(SpecError) {
        do {
            tree = try JSONParser.parse(bytes)
        } catch {
            throw SpecError(path: name, message: "malformed JSON: \(error.message)")
        }
        self.name = name
    }

    /// Decodes `type`, errors naming the JSON path; `omitting` as in `SkiffJSON.decode`.
    public func decode<T: Decodable>(_ type: T.Type, omitting: Set<String> = []) throws(SpecError) -> T {
        let value = omitting.isEmpty ? tree : tree.omitting(omitting)
        // The documents on skiff's own paths are read by hand (SpecReading.swift), found by
        // the type's identity: asking whether T conforms to JSONObjectMapped would scan the
        // binary's conformance records, the first time in every process. Compared one by one,
        // not through an array of `any JSONObjectMapped.Type`: that array instantiated the
        // three types' Decodable witness tables (a resilient protocol's, made at run time)
        // in every process that decoded any of them.
        if type == Spec.self { return try Spec(reading: JSONObjectReader(value, document: name)) as! T }
        if type == Process.self { return try Process(reading: JSONObjectReader(value, document: name)) as! T }
        if type == LinuxResources.self {
            return try LinuxResources(reading: JSONObjectReader(value, document: name)) as! T
        }
        return try Self.decodeThroughCodable(type, value, document: name)
    }

    /// Decodes `type` through its Codable conformance, even a type read by hand elsewhere:
    /// the reference SpecReadingTests and the fuzzer hold the hand readings to.
    package func decodeThroughCodable<T: Decodable>(_ type: T.Type) throws(SpecError) -> T {
        try Self.decodeThroughCodable(type, tree, document: name)
    }

    private static func decodeThroughCodable<T: Decodable>(_ type: T.Type, _ value: JSONValue, document name: String) throws(SpecError) -> T {
        do {
            return try T(from: JSONTreeDecoder(value))
        } catch let error as SpecError {
            guard error.path.isEmpty else { throw error }
            throw SpecError(path: name, message: error.message)
        } catch let error as DecodingError {
            throw SpecError(error, document: name)
        } catch {
            throw SpecError(path: name, message: "\(error)")
        }
    }

    /// The member `path` names (`linux.seccomp`: a top-level member, or one of a top-level
    /// object's) as compact JSON text, written back from the parse: the same text for the
    /// same value, whatever whitespace the file had. Nil when it is absent or null.
    public func text(of path: String) -> [UInt8]? {
        let (key, member) = JSONValue.split(path)
        guard let outer = tree[member: key], let value = member.map({ outer[member: $0] }) ?? outer else { return nil }
        if case .null = value { return nil }
        return JSONWriter.write(value, indent: nil)
    }
}

extension JSONValue {
    /// This object without the members `paths` name: `key` for one of its own, `key.member`
    /// for one of the object under `key`. Anything else is left as it is.
    func omitting(_ paths: Set<String>) -> JSONValue {
        guard case .object(let members) = self else { return self }
        var nested: [String: Set<String>] = [:]
        for path in paths {
            let (key, member) = Self.split(path)
            if let member { nested[key, default: []].insert(member) }
        }
        return .object(members.compactMap { member in
            if paths.contains(member.key) { return nil }
            guard let inner = nested[member.key], case .object(let innerMembers) = member.value else { return member }
            return (member.key, .object(innerMembers.filter { !inner.contains($0.key) }))
        })
    }

    /// `linux.seccomp` as ("linux", "seccomp"), `process` as ("process", nil): the one level of
    /// nesting `omitting` and `JSONDocument.text(of:)` take.
    static func split(_ path: String) -> (key: String, member: String?) {
        guard let dot = path.firstIndex(of: ".") else { return (path, nil) }
        return (String(path[..<dot]), String(path[path.index(after: dot)...]))
    }
}
