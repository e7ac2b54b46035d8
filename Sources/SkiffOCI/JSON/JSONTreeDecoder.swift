#if canImport(Glibc)
import Glibc
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A `Decoder` over a parsed `JSONValue` whose errors are `SpecError`s naming the JSON path.
///
/// Semantics follow Go's encoding/json where OCI documents are concerned: unknown fields are
/// ignored, the last of duplicate keys wins, integers must be integer literals that fit the
/// field's width. Unlike Go, a required field that is absent is an error (`missing required
/// field`) rather than a silent zero value.
struct JSONTreeDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSONValue, codingPath: [any CodingKey] = []) {
        self.value = value
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw value.mismatch("object", at: codingPath) }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw value.mismatch("array", at: codingPath) }
        return UnkeyedContainer(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(value: value, codingPath: codingPath)
    }
}

// MARK: - Converting one value

extension JSONValue {
    func mismatch(_ expected: String, at codingPath: [any CodingKey]) -> SpecError {
        mismatch(expected, at: JSONPath.render(codingPath))
    }

    func mismatch(_ expected: String, at path: String) -> SpecError {
        SpecError(path: path, message: "expected \(expected), found \(shortDescription)")
    }

    // One value converted, for the decoder's containers and for JSONObjectReader alike. The
    // value's JSON path is rendered only when it is wrong (an autoclosure): each `codingPath +
    // [key]` is two arrays of existentials, made for every field of every document otherwise.

    func unboxBool(at path: @autoclosure () -> String) throws(SpecError) -> Bool {
        guard case .bool(let bool) = self else { throw mismatch("boolean", at: path()) }
        return bool
    }

    func unboxString(at path: @autoclosure () -> String) throws(SpecError) -> String {
        guard case .string(let string) = self else { throw mismatch("string", at: path()) }
        // Every string of the spec ends up as a C string (a path, an argument, a name): a NUL
        // would silently cut it short, so the value that is checked would not be the one used.
        // memchr over the string's own buffer: UTF8View.contains went byte by byte through the
        // generic iterator (~230 instructions a string).
        let hasNUL = string.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false
        } ?? string.utf8.contains(0)
        if hasNUL {
            throw SpecError(path: path(), message: "contains a NUL byte")
        }
        return string
    }

    func unboxInteger<T: FixedWidthInteger>(_: T.Type, at path: @autoclosure () -> String) throws(SpecError) -> T {
        guard case .number(let literal) = self,
              !literal.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") })
        else { throw mismatch(JSONPath.integerName(T.self), at: path()) }
        guard let integer = T(literal, radix: 10) else {
            throw SpecError(path: path(),
                            message: "\(literal) is out of range for \(JSONPath.integerName(T.self))")
        }
        return integer
    }

    func unboxFloat<T: BinaryFloatingPoint & LosslessStringConvertible>(
        _: T.Type, at path: @autoclosure () -> String
    ) throws(SpecError) -> T {
        guard case .number(let literal) = self, let number = T(literal), number.isFinite else {
            throw mismatch("number", at: path())
        }
        return number
    }

    func decode<T: Decodable>(_: T.Type, at codingPath: [any CodingKey]) throws -> T {
        try T(from: JSONTreeDecoder(self, codingPath: codingPath))
    }
}

// MARK: - Containers

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(key: String, value: JSONValue)]
    let codingPath: [any CodingKey]
    /// Each name's last member, for a large object (a map such as annotations, decoded as a
    /// Dictionary: one lookup per key). Searching the members for each key made a
    /// config.json with 200,000 annotations take minutes; a small object (a struct's fields)
    /// is searched, which costs less than building the index.
    private let lastIndex: [String: Int]?

    init(members: [(key: String, value: JSONValue)], codingPath: [any CodingKey]) {
        self.members = members
        self.codingPath = codingPath
        lastIndex = members.count > 32 ? JSONValue.lastPositions(of: members) : nil
    }

    var allKeys: [Key] {
        var seen = Set<String>()
        return members.compactMap { member in
            guard seen.insert(member.key).inserted else { return nil }
            return Key(stringValue: member.key)
        }
    }

    func contains(_ key: Key) -> Bool { lookup(key) != nil }

    private func lookup(_ key: Key) -> JSONValue? {
        if let lastIndex { return lastIndex[key.stringValue].map { members[$0].value } }
        return members.last(where: { $0.key == key.stringValue })?.value
    }

    /// `key`'s JSON path, for an error about its value.
    private func path(_ key: Key) -> String { JSONPath.render(codingPath + [key]) }

    private func require(_ key: Key) throws -> JSONValue {
        guard let value = lookup(key) else {
            throw SpecError(path: JSONPath.render(codingPath + [key]), message: "missing required field")
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let value = lookup(key) else { return true }
        if case .null = value { return true }
        return false
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try require(key).unboxBool(at: path(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try require(key).unboxString(at: path(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try require(key).unboxFloat(type, at: path(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try require(key).unboxFloat(type, at: path(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(type, key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try require(key).decode(type, at: codingPath + [key])
    }

    private func integer<T: FixedWidthInteger>(_ type: T.Type, _ key: Key) throws -> T {
        try require(key).unboxInteger(type, at: path(key))
    }

    // The optional fields, most of the spec: the protocol's default `decodeIfPresent` asks
    // `contains`, then `decodeNil`, then `decode`, three searches of the object's members
    // through the type-erasing box; these find the member once. Absent or null is nil, as there.
    private func present(_ key: Key) -> JSONValue? {
        guard let value = lookup(key) else { return nil }
        if case .null = value { return nil }
        return value
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try present(key)?.unboxBool(at: path(key)) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try present(key)?.unboxString(at: path(key)) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try present(key)?.unboxFloat(type, at: path(key)) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try present(key)?.unboxFloat(type, at: path(key)) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try optionalInteger(type, key) }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try present(key)?.decode(type, at: codingPath + [key])
    }

    private func optionalInteger<T: FixedWidthInteger>(_ type: T.Type, _ key: Key) throws -> T? {
        try present(key)?.unboxInteger(type, at: path(key))
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONTreeDecoder(require(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONTreeDecoder(require(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        JSONTreeDecoder(.object(members), codingPath: codingPath)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONTreeDecoder(lookup(key) ?? .null, codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    private(set) var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private var currentPath: [any CodingKey] { codingPath + [IndexKey(currentIndex)] }

    /// `unbox` gets the element and a way to its path, built only when it is needed: for an
    /// error, or a nested decoder.
    private mutating func next<T>(_ unbox: (JSONValue, () -> [any CodingKey]) throws -> T) throws -> T {
        guard !isAtEnd else {
            throw SpecError(path: JSONPath.render(currentPath), message: "unexpected end of array")
        }
        let result = try unbox(elements[currentIndex], { currentPath })
        currentIndex += 1
        return result
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .null = elements[currentIndex] else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next { try $0.unboxBool(at: JSONPath.render($1())) } }
    mutating func decode(_ type: String.Type) throws -> String { try next { try $0.unboxString(at: JSONPath.render($1())) } }
    mutating func decode(_ type: Double.Type) throws -> Double { try next { try $0.unboxFloat(type, at: JSONPath.render($1())) } }
    mutating func decode(_ type: Float.Type) throws -> Float { try next { try $0.unboxFloat(type, at: JSONPath.render($1())) } }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next { try $0.decode(type, at: $1()) } }

    private mutating func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        try next { try $0.unboxInteger(type, at: JSONPath.render($1())) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try next { try JSONTreeDecoder($0, codingPath: $1()).container(keyedBy: type) }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next { try JSONTreeDecoder($0, codingPath: $1()).unkeyedContainer() }
    }

    mutating func superDecoder() throws -> any Decoder {
        try next { JSONTreeDecoder($0, codingPath: $1()) }
    }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool {
        if case .null = value { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try value.unboxBool(at: JSONPath.render(codingPath)) }
    func decode(_ type: String.Type) throws -> String { try value.unboxString(at: JSONPath.render(codingPath)) }
    func decode(_ type: Double.Type) throws -> Double { try value.unboxFloat(type, at: JSONPath.render(codingPath)) }
    func decode(_ type: Float.Type) throws -> Float { try value.unboxFloat(type, at: JSONPath.render(codingPath)) }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try value.decode(type, at: codingPath) }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        try value.unboxInteger(type, at: JSONPath.render(codingPath))
    }
}
