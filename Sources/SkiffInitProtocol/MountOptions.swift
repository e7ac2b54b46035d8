#if canImport(Glibc)
import Glibc
#endif
import CShims

/// A mounts[] entry's options split the way mount(2) takes them: flags for the mount call,
/// propagation flags applied afterwards, and the rest as filesystem data. The table is runc's.
package struct MountOptions: Sendable, Equatable {
    package var flags: UInt = 0
    package var clearedFlags: UInt = 0
    package var propagation: [UInt] = []
    package var data: [String] = []
    /// Recursive attributes (rro, rnosuid…) applied with mount_setattr(AT_RECURSIVE).
    package var recursiveSet: UInt64 = 0
    package var recursiveClear: UInt64 = 0

    package var isBind: Bool { flags & UInt(MS_BIND) != 0 }
    package var isRecursive: Bool { flags & UInt(MS_REC) != 0 }
    package var isReadOnly: Bool { flags & UInt(MS_RDONLY) != 0 }

    package static let setting: [String: UInt] = [
        "bind": UInt(MS_BIND), "rbind": UInt(MS_BIND) | UInt(MS_REC), "ro": UInt(MS_RDONLY),
        "nosuid": UInt(MS_NOSUID), "nodev": UInt(MS_NODEV), "noexec": UInt(MS_NOEXEC),
        "sync": UInt(MS_SYNCHRONOUS), "dirsync": UInt(MS_DIRSYNC), "mand": UInt(MS_MANDLOCK),
        "noatime": UInt(MS_NOATIME), "nodiratime": UInt(MS_NODIRATIME), "relatime": UInt(MS_RELATIME),
        "strictatime": UInt(MS_STRICTATIME), "remount": UInt(MS_REMOUNT), "iversion": UInt(MS_I_VERSION),
        "lazytime": UInt(1 << 25), "silent": UInt(MS_SILENT),
    ]
    package static let clearing: [String: UInt] = [
        "rw": UInt(MS_RDONLY), "suid": UInt(MS_NOSUID), "dev": UInt(MS_NODEV), "exec": UInt(MS_NOEXEC),
        "async": UInt(MS_SYNCHRONOUS), "nomand": UInt(MS_MANDLOCK), "atime": UInt(MS_NOATIME),
        "diratime": UInt(MS_NODIRATIME), "norelatime": UInt(MS_RELATIME),
        "nostrictatime": UInt(MS_STRICTATIME), "noiversion": UInt(MS_I_VERSION), "nolazytime": UInt(1 << 25),
        "defaults": 0,
    ]
    package static let propagationFlags: [String: UInt] = [
        "private": UInt(MS_PRIVATE), "rprivate": UInt(MS_PRIVATE) | UInt(MS_REC),
        "shared": UInt(MS_SHARED), "rshared": UInt(MS_SHARED) | UInt(MS_REC),
        "slave": UInt(MS_SLAVE), "rslave": UInt(MS_SLAVE) | UInt(MS_REC),
        "unbindable": UInt(MS_UNBINDABLE), "runbindable": UInt(MS_UNBINDABLE) | UInt(MS_REC),
    ]
    /// MOUNT_ATTR_* of linux/mount.h, for mount_setattr. The atime mode is one three-valued
    /// field (`atime`): relatime is its 0, so setting any mode clears the field first.
    package enum MountAttribute {
        package static let readOnly: UInt64 = 0x1
        package static let noSUID: UInt64 = 0x2
        package static let noDev: UInt64 = 0x4
        package static let noExec: UInt64 = 0x8
        package static let atime: UInt64 = 0x70
        package static let relATime: UInt64 = 0x0
        package static let noATime: UInt64 = 0x10
        package static let strictATime: UInt64 = 0x20
        package static let noDirATime: UInt64 = 0x80
    }

    package static let recursive: [String: (set: UInt64, clear: UInt64)] = {
        typealias A = MountAttribute
        return [
            "rro": (A.readOnly, 0), "rrw": (0, A.readOnly), "rnosuid": (A.noSUID, 0), "rsuid": (0, A.noSUID),
            "rnodev": (A.noDev, 0), "rdev": (0, A.noDev), "rnoexec": (A.noExec, 0), "rexec": (0, A.noExec),
            "rnodiratime": (A.noDirATime, 0), "rdiratime": (0, A.noDirATime),
            "rrelatime": (A.relATime, A.atime), "rnoatime": (A.noATime, A.atime), "rstrictatime": (A.strictATime, A.atime),
        ]
    }()

    /// Options that are runtime actions rather than flags or data.
    package static let extensions: Set<String> = ["idmap", "ridmap", "tmpcopyup", "norbind"]

    package init(_ options: [String]) {
        for option in options {
            if let flag = Self.setting[option] {
                flags |= flag
                clearedFlags &= ~flag
            } else if let flag = Self.clearing[option] {
                flags &= ~flag
                clearedFlags |= flag
            } else if let flag = Self.propagationFlags[option] {
                propagation.append(flag)
            } else if let attr = Self.recursive[option] {
                recursiveSet = (recursiveSet & ~attr.clear) | attr.set
                recursiveClear |= attr.clear
            } else if Self.extensions.contains(option) {
                // Not mount(2) flags: read where they apply (IDMappedMountSet, tmpcopyup in
                // RootfsBuilder).
                continue
            } else {
                data.append(option)
            }
        }
    }

    package var dataString: String? {
        // Not `joined(separator:)`, whose unspecialized generic path costs the init a lookup of
        // its types by mangled name the first time.
        guard var result = data.first else { return nil }
        for option in data.dropFirst() {
            result.append(",")
            result.append(option)
        }
        return result
    }
}
