import SkiffInitProtocol
import SkiffLinux
import SkiffOCI

/// `user[:group]` by name or number, looked up in /etc/passwd and /etc/group of the mount
/// namespace init runs in — the container's, never the host's.
enum UserLookup {
    static func resolve(_ spec: String, base: User) throws -> User {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        // The base keeps additionalGids: `-g` applies whatever form `-u` took.
        var user = base
        let userPart = parts[0]
        if let uid = UInt32(userPart) {
            user.uid = uid
            if parts.count == 1 { user.gid = passwd().first { $0.uid == uid }?.gid ?? user.gid }
        } else {
            guard let entry = passwd().first(where: { $0.name == userPart }) else {
                throw SkiffError(.notFound, "unable to find user \(userPart): no matching entries in passwd file")
            }
            user.uid = entry.uid
            user.gid = entry.gid
        }
        if parts.count == 2 {
            let groupPart = parts[1]
            if let gid = UInt32(groupPart) {
                user.gid = gid
            } else {
                guard let gid = groups().first(where: { $0.name == groupPart })?.gid else {
                    throw SkiffError(.notFound, "unable to find group \(groupPart): no matching entries in group file")
                }
                user.gid = gid
            }
        }
        return user
    }

    static func passwd() -> [(name: String, uid: UInt32, gid: UInt32)] {
        entries("/etc/passwd").compactMap { fields in
            guard fields.count >= 4, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return (fields[0], uid, gid)
        }
    }

    static func groups() -> [(name: String, gid: UInt32)] {
        entries("/etc/group").compactMap { fields in
            guard fields.count >= 3, let gid = UInt32(fields[2]) else { return nil }
            return (fields[0], gid)
        }
    }

    private static func entries(_ path: String) -> [[String]] {
        guard let text = try? Files.readString(path) else { return [] }
        return text.split(separator: "\n").map {
            $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
