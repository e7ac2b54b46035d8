/// One JSON object read member by member, for documents mapped by hand rather than through
/// Codable: the spec's types skiff reads on the way to every container (config.json, a
/// process), and skiff's own (the sync socket's messages, state.json). Codable's first use in
/// a fresh process instantiates its generic containers, their metadata and witness tables,
/// which every short-lived command and every container's init paid for (docs/benchmarks.md).
///
/// The reading is the spec decoder's (JSONTreeDecoder): an optional member that is absent or
/// null is nil; a required one that is absent is `missing required field`; a value of the
/// wrong type, null for a required member included, is `expected …, found …`; the last of
/// duplicate keys wins; every error is a `SpecError` naming the member's path
/// (`linux.namespaces[2].type`). Tests/SkiffOCITests/SpecReadingTests.swift holds the two
/// readings to the same values and the same errors.
package struct JSONObjectReader {
    /// Where this object is in its document, "" for the document itself.
    package let path: String
    private let members: [(key: String, value: JSONValue)]

    /// `document` names the whole (`state.json`) when it is not an object.
    package init(_ value: JSONValue, path: String = "", document: String = "document") throws(SpecError) {
        guard case .object(let members) = value else { throw value.mismatch("object", at: path.isEmpty ? document : path) }
        self.members = members
        self.path = path
    }

    /// `key`'s path below this object.
    package func path(of key: String) -> String {
        JSONPath.appending(key: key, to: path)
    }

    /// The member as written (null included), the last of duplicates; nil when absent.
    private func lookup(_ key: String) -> JSONValue? {
        members.last(where: { $0.key == key })?.value
    }

    /// The member, nil when it is absent or null.
    private func optionalMember(_ key: String) -> JSONValue? {
        guard let member = lookup(key) else { return nil }
        if case .null = member { return nil }
        return member
    }

    /// A member that must be there; null is a value of the wrong type, as Codable reads it.
    package func member(_ key: String) throws(SpecError) -> JSONValue {
        guard let member = lookup(key) else { throw SpecError(path: path(of: key), message: "missing required field") }
        return member
    }

    /// A required member.
    package func required<T: JSONReadable>(_ key: String, as _: T.Type = T.self) throws(SpecError) -> T {
        try T.read(try member(key), at: path(of: key))
    }

    /// An optional member: nil when absent or null.
    package func optional<T: JSONReadable>(_ key: String, as _: T.Type = T.self) throws(SpecError) -> T? {
        guard let member = optionalMember(key) else { return nil }
        return try T.read(member, at: path(of: key))
    }

    /// A required array.
    package func array<T: JSONReadable>(_ key: String, of _: T.Type = T.self) throws(SpecError) -> [T] {
        try Self.elements(try member(key), at: path(of: key))
    }

    /// An optional array: nil when absent or null.
    package func optionalArray<T: JSONReadable>(_ key: String, of _: T.Type = T.self) throws(SpecError) -> [T]? {
        guard let member = optionalMember(key) else { return nil }
        return try Self.elements(member, at: path(of: key))
    }

    /// An optional object of values by name (annotations, sysctl): nil when absent or null.
    package func optionalMap<T: JSONReadable>(_ key: String, of _: T.Type = T.self) throws(SpecError) -> [String: T]? {
        guard let member = optionalMember(key) else { return nil }
        let at = path(of: key)
        guard case .object(let members) = member else { throw member.mismatch("object", at: at) }
        // As Dictionary's Decodable reads a keyed container: each name once, in the order of its
        // first appearance, with the value of its last.
        let last = JSONValue.lastPositions(of: members)
        var map: [String: T] = [:]
        map.reserveCapacity(last.count)
        for (name, _) in members where map[name] == nil {
            map[name] = try T.read(members[last[name]!].value, at: JSONPath.appending(key: name, to: at))
        }
        return map
    }

    private static func elements<T: JSONReadable>(_ value: JSONValue, at path: String) throws(SpecError) -> [T] {
        guard case .array(let elements) = value else { throw value.mismatch("array", at: path) }
        var values: [T] = []
        values.reserveCapacity(elements.count)
        for index in elements.indices {
            values.append(try T.read(elements[index], at: JSONPath.appending(index: index, to: path)))
        }
        return values
    }
}

/// A value read from one JSON value by hand: the spec's scalars, its objects
/// (`JSONObjectMapped`) and an object reader itself.
package protocol JSONReadable {
    /// `value` as this type; `path` (rendered only for an error, or to name a nested object's
    /// members) is where it is in its document.
    static func read(_ value: JSONValue, at path: @autoclosure () -> String) throws(SpecError) -> Self
}

/// A spec type with a hand-written reading beside its Codable conformance, which stays the
/// public one (and the reference the tests compare with).
package protocol JSONObjectMapped: JSONReadable, Decodable {
    init(reading object: JSONObjectReader) throws(SpecError)
}

extension JSONObjectMapped {
    package static func read(_ value: JSONValue, at path: @autoclosure () -> String) throws(SpecError) -> Self {
        try Self(reading: JSONObjectReader(value, path: path()))
    }
}

extension JSONObjectReader: JSONReadable {
    package static func read(_ value: JSONValue, at path: @autoclosure () -> String) throws(SpecError) -> Self {
        try JSONObjectReader(value, path: path())
    }
}

// Each scalar converted by the spec decoder's own functions (JSONTreeDecoder.swift): the same
// checks (integer literals, ranges, NUL bytes) and the same messages.

extension String: JSONReadable {
    package static func read(_ value: JSONValue, at path: @autoclosure () -> String) throws(SpecError) -> Self {
        try value.unboxString(at: path())
    }
}

extension Bool: JSONReadable {
    package static func read(_ value: JSONValue, at path: @autoclosure () -> String) throws(SpecError) -> Self {
        try value.unboxBool(at: path())
    }
}

extension JSONReadable where Self: FixedWidthInteger {
    package static func read(_ value: JSONValue, at path: @autoclosure () -> String) throws(SpecError) -> Self {
        try value.unboxInteger(Self.self, at: path())
    }
}

extension Int: JSONReadable {}
extension Int32: JSONReadable {}
extension Int64: JSONReadable {}
extension UInt: JSONReadable {}
extension UInt16: JSONReadable {}
extension UInt32: JSONReadable {}
extension UInt64: JSONReadable {}
