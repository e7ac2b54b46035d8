/// One JSON object read member by member, for skiff's own documents mapped by hand rather than
/// through Codable (the sync socket's messages, state.json): Codable's first use in a fresh
/// process instantiates its generic containers, their metadata and witness tables, which every
/// short-lived command and every container's init paid for (docs/benchmarks.md). The spec's
/// types inside them (a process, hooks) still decode through Codable (`decode`).
///
/// An optional member that is absent or null is nil; a required one that is missing, or any
/// member of the wrong type, is a `SpecError` naming its path (`options.cgroups[0].version`).
package struct JSONObjectReader {
    /// Where this object is in its document, "" for the document itself.
    package let path: String
    private let value: JSONValue

    /// `document` names the whole (`state.json`) when it is not an object.
    package init(_ value: JSONValue, path: String = "", document: String = "document") throws(SpecError) {
        guard case .object = value else {
            throw SpecError(path: path.isEmpty ? document : path, message: "expected an object, found \(value.kind)")
        }
        self.value = value
        self.path = path
    }

    /// `key`'s path below this object.
    package func path(of key: String) -> String {
        JSONPath.appending(key: key, to: path)
    }

    /// The member, nil when it is absent or null.
    package func optionalMember(_ key: String) -> JSONValue? {
        guard let member = value[member: key] else { return nil }
        if case .null = member { return nil }
        return member
    }

    package func member(_ key: String) throws(SpecError) -> JSONValue {
        guard let member = optionalMember(key) else { throw SpecError(path: path(of: key), message: "missing required field") }
        return member
    }

    // Each value converted by the spec decoder's own functions (JSONTreeDecoder.swift): the
    // same checks (integer literals, ranges, NUL bytes) and the same messages.

    package func string(_ key: String) throws(SpecError) -> String {
        let member = try member(key)
        return try member.unboxString(at: path(of: key))
    }

    package func optionalString(_ key: String) throws(SpecError) -> String? {
        optionalMember(key) == nil ? nil : try string(key)
    }

    package func bool(_ key: String) throws(SpecError) -> Bool {
        let member = try member(key)
        return try member.unboxBool(at: path(of: key))
    }

    package func optionalBool(_ key: String) throws(SpecError) -> Bool? {
        optionalMember(key) == nil ? nil : try bool(key)
    }

    private func integer<T: FixedWidthInteger>(_ key: String, _ type: T.Type) throws(SpecError) -> T {
        let member = try member(key)
        return try member.unboxInteger(type, at: path(of: key))
    }

    package func int(_ key: String) throws(SpecError) -> Int {
        try integer(key, Int.self)
    }

    package func optionalInt(_ key: String) throws(SpecError) -> Int? {
        optionalMember(key) == nil ? nil : try int(key)
    }

    package func int32(_ key: String) throws(SpecError) -> Int32 {
        try integer(key, Int32.self)
    }

    package func optionalInt32(_ key: String) throws(SpecError) -> Int32? {
        optionalMember(key) == nil ? nil : try int32(key)
    }

    package func uint64(_ key: String) throws(SpecError) -> UInt64 {
        try integer(key, UInt64.self)
    }

    package func strings(_ key: String) throws(SpecError) -> [String] {
        let member = try member(key)
        guard case .array(let elements) = member else { throw member.mismatch("array", at: path(of: key)) }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            strings.append(try element.unboxString(at: JSONPath.appending(index: index, to: path(of: key))))
        }
        return strings
    }

    /// An object of strings (annotations), nil when absent or null.
    package func optionalStringMap(_ key: String) throws(SpecError) -> [String: String]? {
        guard let member = optionalMember(key) else { return nil }
        guard case .object(let members) = member else { throw member.mismatch("object", at: path(of: key)) }
        var map: [String: String] = [:]
        for (name, value) in members {
            map[name] = try value.unboxString(at: JSONPath.appending(key: name, to: path(of: key)))
        }
        return map
    }

    package func object(_ key: String) throws(SpecError) -> JSONObjectReader {
        try JSONObjectReader(try member(key), path: path(of: key))
    }

    package func objects(_ key: String) throws(SpecError) -> [JSONObjectReader] {
        let member = try member(key)
        guard case .array(let elements) = member else { throw member.mismatch("array", at: path(of: key)) }
        var objects: [JSONObjectReader] = []
        for (index, element) in elements.enumerated() {
            objects.append(try JSONObjectReader(element, path: JSONPath.appending(index: index, to: path(of: key))))
        }
        return objects
    }

    /// A member of a spec type, through Codable; nil when absent or null. Errors name the
    /// member's path below this object.
    package func decode<T: Decodable>(_ type: T.Type, _ key: String) throws(SpecError) -> T? {
        guard let member = optionalMember(key) else { return nil }
        let at = path(of: key)
        do {
            return try SkiffJSON.decode(type, from: member, document: at)
        } catch where error.path != at {
            throw SpecError(path: at + (error.path.hasPrefix("[") ? "" : ".") + error.path, message: error.message)
        }
    }
}
