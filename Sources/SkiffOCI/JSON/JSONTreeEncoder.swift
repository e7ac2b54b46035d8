#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An `Encoder` producing a `JSONValue` whose object members are in the order they were encoded,
/// which for synthesized `Codable` is declaration order: the order of the Go structs, so output
/// lines up with runc's. (`JSONEncoder` on Linux orders keys by hash.) Dictionaries are written
/// with sorted keys, as Go writes maps.
struct JSONTreeEncoder {
    static func encode(_ value: some Encodable) throws -> JSONValue {
        let root = EncodingNode()
        try root.encode(value, codingPath: [])
        return root.value
    }
}

/// A place in the document being built; containers write into it after they are handed out, so
/// it is a reference.
private final class EncodingNode {
    enum Kind {
        case unset
        case value(JSONValue)
        case object
        case array
    }

    var kind = Kind.unset
    /// The key type of the keyed container handed out for this node, if any.
    var keyType: ObjectIdentifier?
    private var members: [(key: String, node: EncodingNode)] = []
    private var elements: [EncodingNode] = []

    var value: JSONValue {
        switch kind {
        case .unset: .object([])
        case .value(let value): value
        case .object: .object(members.map { ($0.key, $0.node.value) })
        case .array: .array(elements.map(\.value))
        }
    }

    func encode(_ value: some Encodable, codingPath: [any CodingKey]) throws {
        try value.encode(to: NodeEncoder(node: self, codingPath: codingPath))
        if keyType != nil, keyType == Self.dictionaryKeyType {
            members.sort { $0.key < $1.key }
            memberIndex = nil
        }
    }

    /// The standard library's key type for a dictionary's members (`_DictionaryCodingKey`,
    /// internal to it), found once by encoding an empty `[String: Int]`. A node keyed by it is a
    /// dictionary. Comparing key types replaces a cast of every encoded value to a marker
    /// protocol: each cast of a type not seen before scanned all ~4,500 protocol conformance
    /// records of the binary (~340 K instructions); an `exec`'s runtime up to the spawn went
    /// from 5.55 M to 4.00 M instructions.
    private static let dictionaryKeyType: ObjectIdentifier? = {
        let probe = EncodingNode()
        try? [String: Int]().encode(to: NodeEncoder(node: probe, codingPath: []))
        return probe.keyType
    }()

    func makeObject() {
        if case .object = kind { return }
        kind = .object
        members = []
        memberIndex = nil
    }

    func makeArray() {
        if case .array = kind { return }
        kind = .array
        elements = []
    }

    /// Each key's position among `members`, once there are many (a map such as annotations):
    /// searching the members for each new key made a 200,000-entry map take minutes to write.
    private var memberIndex: [String: Int]?

    /// The member for a key, replacing an earlier one with the same key.
    func child(forKey key: String) -> EncodingNode {
        makeObject()
        let node = EncodingNode()
        if memberIndex == nil, members.count >= 32 {
            memberIndex = Dictionary(members.indices.map { (members[$0].key, $0) }, uniquingKeysWith: { _, last in last })
        }
        let existing: Int?
        if let memberIndex { existing = memberIndex[key] } else { existing = members.firstIndex(where: { $0.key == key }) }
        if let index = existing {
            members[index].node = node
        } else {
            memberIndex?[key] = members.count
            members.append((key, node))
        }
        return node
    }

    func appendElement() -> EncodingNode {
        makeArray()
        let node = EncodingNode()
        elements.append(node)
        return node
    }

    var elementCount: Int { elements.count }
}

private struct NodeEncoder: Encoder {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        node.keyType = ObjectIdentifier(Key.self)
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(node: node, codingPath: codingPath)
    }
}

/// The leaf conversions every container shares.
private enum Leaf {
    static func integer(_ value: some FixedWidthInteger) -> JSONValue { .number(String(value)) }

    static func float<T: BinaryFloatingPoint & LosslessStringConvertible>(
        _ value: T, codingPath: [any CodingKey]
    ) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, .init(codingPath: codingPath, debugDescription: "\(value) cannot be written as JSON"))
        }
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(String(value))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodingNode
    let codingPath: [any CodingKey]

    private func set(_ value: JSONValue, _ key: Key) { node.child(forKey: key.stringValue).kind = .value(value) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(try Leaf.float(value, codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(try Leaf.float(value, codingPath: codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(Leaf.integer(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(Leaf.integer(value), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try node.child(forKey: key.stringValue).encode(value, codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        NodeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        NodeEncoder(node: node.child(forKey: "super"), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        NodeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    var count: Int { node.elementCount }

    private var nextPath: [any CodingKey] { codingPath + [IndexKey(count)] }
    private func append(_ value: JSONValue) { node.appendElement().kind = .value(value) }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(try Leaf.float(value, codingPath: nextPath)) }
    mutating func encode(_ value: Float) throws { append(try Leaf.float(value, codingPath: nextPath)) }
    mutating func encode(_ value: Int) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: Int8) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: Int16) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: Int32) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: Int64) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: UInt) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: UInt8) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: UInt16) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: UInt32) throws { append(Leaf.integer(value)) }
    mutating func encode(_ value: UInt64) throws { append(Leaf.integer(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = nextPath
        try node.appendElement().encode(value, codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        return NodeEncoder(node: node.appendElement(), codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        return NodeEncoder(node: node.appendElement(), codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        return NodeEncoder(node: node.appendElement(), codingPath: path)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let node: EncodingNode
    let codingPath: [any CodingKey]

    private func set(_ value: JSONValue) { node.kind = .value(value) }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try Leaf.float(value, codingPath: codingPath)) }
    mutating func encode(_ value: Float) throws { set(try Leaf.float(value, codingPath: codingPath)) }
    mutating func encode(_ value: Int) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: Int8) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: Int16) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: Int32) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: Int64) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: UInt) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: UInt8) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: UInt16) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: UInt32) throws { set(Leaf.integer(value)) }
    mutating func encode(_ value: UInt64) throws { set(Leaf.integer(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws { try node.encode(value, codingPath: codingPath) }
}

// MARK: - Writing text

/// Writes JSON text as Go's encoding/json does (`json.Marshal`, or `json.MarshalIndent` with an
/// empty prefix): `"key": value`, `<`, `>` and `&` escaped, no trailing newline. It writes UTF-8
/// bytes: appending to a String scalar by scalar was the largest part of encoding state.json and
/// the init's sync message (writeString alone 1.6 M instructions of a `run` up to the spawn).
enum JSONWriter {
    /// - Parameter indent: one level of indentation, or nil for compact output.
    static func write(_ value: JSONValue, indent: String?) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(value, indent: indent.map { Array($0.utf8) }, depth: 0, into: &out)
        return out
    }

    private static func write(_ value: JSONValue, indent: [UInt8]?, depth: Int, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let bool): out.append(contentsOf: bool ? "true".utf8 : "false".utf8)
        case .number(let literal): out.append(contentsOf: literal.utf8)
        case .string(let string): writeString(string, into: &out)
        case .array(let elements):
            if elements.isEmpty { out.append(contentsOf: "[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent, depth + 1, into: &out)
                write(element, indent: indent, depth: depth + 1, into: &out)
            }
            newline(indent, depth, into: &out)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            if members.isEmpty { out.append(contentsOf: "{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent, depth + 1, into: &out)
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                write(member.value, indent: indent, depth: depth + 1, into: &out)
            }
            newline(indent, depth, into: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ indent: [UInt8]?, _ depth: Int, into out: inout [UInt8]) {
        guard let indent else { return }
        out.append(UInt8(ascii: "\n"))
        for _ in 0..<depth { out.append(contentsOf: indent) }
    }

    static func writeString(_ string: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = string
        text.withUTF8 { bytes in
            var index = 0
            // Bytes that need no escape are copied a run at a time: appended one by one, each
            // with its capacity check, they were most of writing state.json (~35 instructions
            // a byte).
            var plainFrom = 0
            func flushPlain(upTo end: Int) {
                if plainFrom < end { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plainFrom..<end])) }
            }
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"), 0..<0x20, 0xE2:
                    flushPlain(upTo: index)
                    plainFrom = index + 1
                default:
                    index += 1
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
                case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
                case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
                case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
                // Go escapes these so the output is safe inside HTML, and the line separators
                // (U+2028, U+2029: E2 80 A8, E2 80 A9) so it is safe inside JavaScript; matching
                // it keeps our output byte-identical to runc's.
                case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "&"), 0..<0x20:
                    unicodeEscape(UInt32(byte), into: &out)
                case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80
                    && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9):
                    unicodeEscape(bytes[index + 2] == 0xA8 ? 0x2028 : 0x2029, into: &out)
                    index += 2
                    plainFrom = index + 1
                default:
                    // 0xE2 starting any other character: copied with the run that follows.
                    plainFrom = index
                }
                index += 1
            }
            flushPlain(upTo: bytes.count)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `\u` and four lowercase hex digits, as Go writes them.
    private static func unicodeEscape(_ value: UInt32, into out: inout [UInt8]) {
        out.append(contentsOf: #"\u"#.utf8)
        for shift in stride(from: 12, through: 0, by: -4) {
            let digit = UInt8((value >> UInt32(shift)) & 0xF)
            out.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
        }
    }
}

/// `text` as a JSON string literal, escaped as Go escapes it (runc's log lines and state).
/// The one JSON quoting of the project: log lines, stats and documents all use it.
public func jsonQuote(_ text: String) -> String {
    var out: [UInt8] = []
    JSONWriter.writeString(text, into: &out)
    return String(decoding: out, as: UTF8.self)
}
