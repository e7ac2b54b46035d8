// The spec's types skiff writes on the way to every container, as JSON trees by hand: a
// container's process and hooks go into state.json on every `create`, and `exec`'s process
// into the sync message to init. Through Codable that was ~250 K instructions a `create`,
// most of it the first use of the encoder's generic containers (docs/benchmarks.md).
//
// Each writing is the synthesized Encodable's: members in declaration order, unset optionals
// omitted. SpecReadingTests compares the two for every-field.json and the values of its
// mutations; a member added to a type must be added here too.

/// A value written to a JSON tree by hand.
package protocol JSONWritable {
    var jsonTree: JSONValue { get }
}

extension String: JSONWritable {
    package var jsonTree: JSONValue { .string(self) }
}

extension Bool: JSONWritable {
    package var jsonTree: JSONValue { .bool(self) }
}

extension JSONWritable where Self: FixedWidthInteger {
    package var jsonTree: JSONValue { .number(String(self)) }
}

extension Int: JSONWritable {}
extension Int32: JSONWritable {}
extension UInt: JSONWritable {}
extension UInt32: JSONWritable {}
extension UInt64: JSONWritable {}

extension Array: JSONWritable where Element: JSONWritable {
    package var jsonTree: JSONValue { .array(map { $0.jsonTree }) }
}

/// An object's members in the order they are added; an optional that is nil is left out, as
/// the synthesized Encodable's `encodeIfPresent` leaves it out.
struct JSONObjectWriter {
    private(set) var members: [(key: String, value: JSONValue)] = []

    init(capacity: Int) { members.reserveCapacity(capacity) }

    mutating func add(_ key: String, _ value: (some JSONWritable)?) {
        if let value { members.append((key, value.jsonTree)) }
    }

    var object: JSONValue { .object(members) }
}

extension Process: JSONWritable {
    package var jsonTree: JSONValue {
        var object = JSONObjectWriter(capacity: 16)
        object.add("terminal", terminal)
        object.add("consoleSize", consoleSize)
        object.add("user", user)
        object.add("args", args)
        object.add("commandLine", commandLine)
        object.add("env", env)
        object.add("cwd", cwd)
        object.add("capabilities", capabilities)
        object.add("rlimits", rlimits)
        object.add("noNewPrivileges", noNewPrivileges)
        object.add("apparmorProfile", apparmorProfile)
        object.add("oomScoreAdj", oomScoreAdj)
        object.add("scheduler", scheduler)
        object.add("selinuxLabel", selinuxLabel)
        object.add("ioPriority", ioPriority)
        object.add("execCPUAffinity", execCPUAffinity)
        return object.object
    }
}

extension Box: JSONWritable {
    package var jsonTree: JSONValue { .object([("height", height.jsonTree), ("width", width.jsonTree)]) }
}

extension User: JSONWritable {
    package var jsonTree: JSONValue {
        var object = JSONObjectWriter(capacity: 5)
        object.add("uid", uid)
        object.add("gid", gid)
        object.add("umask", umask)
        object.add("additionalGids", additionalGids)
        object.add("username", username)
        return object.object
    }
}

extension LinuxCapabilities: JSONWritable {
    package var jsonTree: JSONValue {
        var object = JSONObjectWriter(capacity: 5)
        object.add("bounding", bounding)
        object.add("effective", effective)
        object.add("inheritable", inheritable)
        object.add("permitted", permitted)
        object.add("ambient", ambient)
        return object.object
    }
}

extension POSIXRlimit: JSONWritable {
    package var jsonTree: JSONValue {
        .object([("type", type.jsonTree), ("hard", hard.jsonTree), ("soft", soft.jsonTree)])
    }
}

extension Scheduler: JSONWritable {
    package var jsonTree: JSONValue {
        var object = JSONObjectWriter(capacity: 7)
        object.add("policy", policy)
        object.add("nice", nice)
        object.add("priority", priority)
        object.add("flags", flags)
        object.add("runtime", runtime)
        object.add("deadline", deadline)
        object.add("period", period)
        return object.object
    }
}

extension LinuxIOPriority: JSONWritable {
    package var jsonTree: JSONValue { .object([("class", `class`.jsonTree), ("priority", priority.jsonTree)]) }
}

extension CPUAffinity: JSONWritable {
    package var jsonTree: JSONValue {
        var object = JSONObjectWriter(capacity: 2)
        object.add("initial", initial)
        object.add("final", final)
        return object.object
    }
}

extension Hooks: JSONWritable {
    package var jsonTree: JSONValue {
        var object = JSONObjectWriter(capacity: 6)
        object.add("prestart", prestart)
        object.add("createRuntime", createRuntime)
        object.add("createContainer", createContainer)
        object.add("startContainer", startContainer)
        object.add("poststart", poststart)
        object.add("poststop", poststop)
        return object.object
    }
}

extension Hook: JSONWritable {
    package var jsonTree: JSONValue {
        var object = JSONObjectWriter(capacity: 4)
        object.add("path", path)
        object.add("args", args)
        object.add("env", env)
        object.add("timeout", timeout)
        return object.object
    }
}
