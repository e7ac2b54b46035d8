import Foundation
import Testing

@testable import SkiffOCI

/// The spec's types are read by hand on skiff's own paths (SpecReading.swift) and through
/// Codable everywhere else (JSONDecoder users, `decodeThroughCodable`). These tests hold the
/// two to the same values and the same errors, and fail when a member is added to a type
/// and not to its reading.
@Suite("hand-written spec readings and writings match Codable")
struct SpecReadingTests {
    static let configs = ["every-field.json", "runc-spec.json", "runc-spec-rootless.json", "podman.json", "containerd.json"]

    @Test("every-field.json sets every member of every type, arrays and maps non-empty")
    func fixtureLeavesNothingUnset() throws {
        let spec = try JSONDocument(parsing: Array(fixture("every-field.json")), name: "config.json")
            .decodeThroughCodable(Spec.self)
        // Every member of every type set somewhere, so every type Spec holds is reached, and
        // the comparisons below cover all of their readings.
        #expect(Self.neverSet(in: spec) == [])
    }

    @Test("both readings give the same value", arguments: configs)
    func sameValue(name: String) throws {
        let document = try JSONDocument(parsing: Array(fixture(name)), name: "config.json")
        let byHand = try document.decode(Spec.self)
        #expect(byHand == (try document.decodeThroughCodable(Spec.self)))
        // The public entry points take the hand reading too.
        #expect(try Spec.decode(fixture(name)) == byHand)
        if let process = document.tree[member: "process"] {
            let processDocument = try JSONDocument(parsing: SkiffJSON.write(process), name: "process.json")
            #expect(try processDocument.decode(Process.self) == processDocument.decodeThroughCodable(Process.self))
        }
    }

    /// Seeded mutations of every-field.json (members removed, nulled, duplicated, given values
    /// of other kinds, out-of-range integers, NUL bytes, unknown names), each decoded both ways
    /// as a config.json, its process as a process.json and its resources as `update` reads them.
    @Test("both readings give the same value or the same error for mutated documents")
    func sameOutcomeForMutations() throws {
        let original = try SkiffJSON.parse(Array(fixture("every-field.json")), document: "config.json")
        var generator = SplitMix64(seed: 0x5EED_0F_5C1FF)
        var errors = 0
        for round in 0..<3000 {
            var tree = original
            for _ in 0...generator.next(below: 3) { tree = Mutator.mutate(tree, using: &generator) }
            let bytes = SkiffJSON.write(tree)
            let spec = Self.outcomes(Spec.self, bytes, document: "config.json")
            #expect(spec.byHand == spec.throughCodable, "round \(round): \(String(decoding: bytes, as: UTF8.self))")
            if case .value(let value) = spec.byHand {
                #expect(try Self.writingsAgree(value), "round \(round)")
            } else {
                errors += 1
            }
            if let process = tree[member: "process"] {
                let outcome = Self.outcomes(Process.self, SkiffJSON.write(process), document: "process.json")
                #expect(outcome.byHand == outcome.throughCodable, "round \(round): process")
            }
            if let resources = tree[member: "linux"]?[member: "resources"] {
                let outcome = Self.outcomes(LinuxResources.self, SkiffJSON.write(resources), document: "linux.resources")
                #expect(outcome.byHand == outcome.throughCodable, "round \(round): resources")
            }
        }
        // The mutations reach both outcomes often (a test of errors alone, or of values alone,
        // would hold the readings to half of what they do).
        #expect(errors > 500 && errors < 2900, "\(errors) errors in 3000")
    }

    @Test("process and hooks are written as their Codable conformances write them", arguments: configs)
    func sameWriting(name: String) throws {
        #expect(try Self.writingsAgree(Spec.decode(fixture(name))))
    }

    /// A config.json may be 64 MB: a map's members must not be searched once per key. Both
    /// readings of 200,000 annotations (duplicates included: the last wins) agree, and finish
    /// — searched per key, they took minutes. A guard against a hang, not a speed measurement.
    @Test("a map of 200,000 members is read in linear time, by both readings", .timeLimit(.minutes(1)))
    func largeMapsAreNotQuadratic() throws {
        var members: [(key: String, value: JSONValue)] = (0..<200_000).map { ("k\($0)", .string("v\($0)")) }
        members.append(("k7", .string("last")))
        let tree = JSONValue.object([("ociVersion", .string("1.2.1")), ("annotations", .object(members))])
        let document = try JSONDocument(parsing: SkiffJSON.write(tree), name: "config.json")
        let byHand = try document.decode(Spec.self)
        #expect(byHand.annotations?.count == 200_000)
        #expect(byHand.annotations?["k7"] == "last")
        #expect(try document.decodeThroughCodable(Spec.self) == byHand)
        // Written back through Codable (`skiff state`, the hooks' state) in linear time too.
        #expect(try Spec.decode(bytes: SkiffJSON.encode(byHand)) == byHand)
    }

    // MARK: - Helpers

    /// The hand writings (SpecWriting.swift) of a spec's process and hooks against Codable's,
    /// byte for byte.
    static func writingsAgree(_ spec: Spec) throws -> Bool {
        func agree(_ value: (some JSONWritable & Encodable)?) throws -> Bool {
            guard let value else { return true }
            return SkiffJSON.write(value.jsonTree) == (try SkiffJSON.encode(value))
        }
        return try agree(spec.process) && agree(spec.hooks)
    }

    enum Outcome<T: Equatable>: Equatable {
        case value(T)
        case failure(SpecError)
    }

    static func outcomes<T: Decodable & Equatable>(_ type: T.Type, _ bytes: [UInt8], document: String) -> (byHand: Outcome<T>, throughCodable: Outcome<T>) {
        func outcome(throughCodable: Bool) -> Outcome<T> {
            do throws(SpecError) {
                let parsed = try JSONDocument(parsing: bytes, name: document)
                let value = throughCodable ? try parsed.decodeThroughCodable(type) : try parsed.decode(type)
                return .value(value)
            } catch {
                return .failure(error)
            }
        }
        return (outcome(throughCodable: false), outcome(throughCodable: true))
    }

    /// The members (`Hook.timeout`) that no value of their type in `value` sets: optionals
    /// left nil, arrays and maps left empty. By reflection, so a member added to a type is
    /// found here before anyone writes a fixture for it.
    static func neverSet(in value: Any) -> [String] {
        var set: [String: Bool] = [:]
        func isSet(_ value: Any) -> Bool {
            let mirror = Mirror(reflecting: value)
            switch mirror.displayStyle {
            case .optional: return mirror.children.first.map { isSet($0.value) } ?? false
            case .collection, .dictionary: return !mirror.children.isEmpty
            default: return true
            }
        }
        func walk(_ value: Any) {
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .struct {
                for child in mirror.children {
                    let member = "\(mirror.subjectType).\(child.label ?? "?")"
                    set[member] = (set[member] ?? false) || isSet(child.value)
                }
            }
            for child in mirror.children { walk(child.value) }
        }
        walk(value)
        return set.filter { !$0.value }.map(\.key).sorted()
    }
}

/// A deterministic generator, so a failing round can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// One random change somewhere in a JSON tree.
enum Mutator {
    /// Values of every kind, and the edges the spec decoder checks: integer literals out of
    /// each width's range, fractions and exponents, NUL bytes, unknown enum names, a FIFO's
    /// device type (which makes major and minor optional).
    static let replacements: [JSONValue] = [
        .null, .bool(true), .bool(false), .string(""), .string("x"), .string("a\u{0}b"), .string("bogus"),
        .string("p"), .string("pid"), .number("0"), .number("1"), .number("-1"), .number("1.5"), .number("1e3"),
        .number("65536"), .number("2147483648"), .number("4294967296"), .number("-2147483649"),
        .number("9223372036854775808"), .number("18446744073709551616"), .number("-9223372036854775809"),
        .array([]), .array([.string("x")]), .array([.null]), .array([.object([])]), .object([]),
        .object([("a", .string("b"))]), .object([("path", .string("/x"))]),
    ]

    static func mutate(_ tree: JSONValue, using generator: inout SplitMix64) -> JSONValue {
        let count = nodeCount(tree)
        var target = generator.next(below: count)
        return mutate(tree, target: &target, using: &generator)
    }

    private static func nodeCount(_ value: JSONValue) -> Int {
        switch value {
        case .array(let elements): return 1 + elements.reduce(0) { $0 + nodeCount($1) }
        case .object(let members): return 1 + members.reduce(0) { $0 + nodeCount($1.value) }
        default: return 1
        }
    }

    /// Counts `target` down through the nodes in document order and changes the one it reaches.
    private static func mutate(_ value: JSONValue, target: inout Int, using generator: inout SplitMix64) -> JSONValue {
        if target == 0 {
            target = -1
            return change(value, using: &generator)
        }
        target -= 1
        switch value {
        case .array(var elements):
            for index in elements.indices where target >= 0 {
                elements[index] = mutate(elements[index], target: &target, using: &generator)
            }
            return .array(elements)
        case .object(var members):
            for index in members.indices where target >= 0 {
                let before = target
                let changed = mutate(members[index].value, target: &target, using: &generator)
                // The member itself reached: sometimes removed or duplicated rather than changed.
                if before == 0 {
                    switch generator.next(below: 4) {
                    case 0: members.remove(at: index); return .object(members)
                    case 1: members.insert((members[index].key, changed), at: index + 1); return .object(members)
                    case 2: members.insert((members[index].key, changed), at: index); return .object(members)
                    default: break
                    }
                }
                members[index].value = changed
            }
            return .object(members)
        default:
            return value
        }
    }

    private static func change(_ value: JSONValue, using generator: inout SplitMix64) -> JSONValue {
        switch (value, generator.next(below: 5)) {
        case (.object(var members), 0):
            members.append(("unknownMember", .string("ignored")))
            return .object(members)
        case (.array(var elements), 0) where !elements.isEmpty:
            elements.append(elements[0])
            return .array(elements)
        default:
            return replacements[generator.next(below: replacements.count)]
        }
    }
}
