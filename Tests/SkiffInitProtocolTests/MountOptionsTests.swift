import Glibc
import Testing

@testable import SkiffInitProtocol

/// mounts[].options split as mount(2) needs them; the table is runc's, so a config means the
/// same mount under skiff as under runc.
@Suite struct MountOptionsTests {
    @Test func flagsOfACommonMount() {
        let options = MountOptions(["ro", "nosuid", "nodev", "noexec", "relatime"])
        #expect(options.flags == UInt(MS_RDONLY) | UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC) | UInt(MS_RELATIME))
        #expect(options.isReadOnly)
        #expect(!options.isBind)
        #expect(options.data == [])
        #expect(options.dataString == nil)
        #expect(options.propagation == [])
    }

    @Test func rbindIsARecursiveBind() {
        let options = MountOptions(["rbind"])
        #expect(options.flags == UInt(MS_BIND) | UInt(MS_REC))
        #expect(options.isBind)
        #expect(options.isRecursive)
        let plain = MountOptions(["bind"])
        #expect(plain.isBind)
        #expect(!plain.isRecursive)
    }

    /// The last of ro/rw wins, and a cleared flag is remembered for bind remounts.
    @Test func rwClearsRo() {
        let options = MountOptions(["ro", "rw"])
        #expect(!options.isReadOnly)
        #expect(options.flags & UInt(MS_RDONLY) == 0)
        #expect(options.clearedFlags & UInt(MS_RDONLY) != 0)
        let again = MountOptions(["rw", "ro"])
        #expect(again.isReadOnly)
        #expect(again.clearedFlags & UInt(MS_RDONLY) == 0)
        #expect(MountOptions(["nosuid", "suid"]).flags & UInt(MS_NOSUID) == 0)
    }

    @Test func propagationIsKeptApartFromTheFlags() {
        let rprivate = MountOptions(["rbind", "rprivate"])
        #expect(rprivate.propagation == [UInt(MS_PRIVATE) | UInt(MS_REC)])
        #expect(rprivate.flags & UInt(MS_PRIVATE) == 0)
        #expect(MountOptions(["shared"]).propagation == [UInt(MS_SHARED)])
        #expect(MountOptions(["rslave", "unbindable"]).propagation
                    == [UInt(MS_SLAVE) | UInt(MS_REC), UInt(MS_UNBINDABLE)])
    }

    @Test func unknownOptionsAreFilesystemData() {
        let options = MountOptions(["nosuid", "mode=755", "size=65536k", "strictatime"])
        #expect(options.data == ["mode=755", "size=65536k"])
        #expect(options.dataString == "mode=755,size=65536k")
        #expect(options.flags == UInt(MS_NOSUID) | UInt(MS_STRICTATIME))
    }

    /// rro and friends are mount_setattr attributes applied to the whole tree.
    @Test func recursiveAttributes() {
        let rro = MountOptions(["rbind", "rro"])
        #expect(rro.recursiveSet == 0x1)  // MOUNT_ATTR_RDONLY
        #expect(rro.recursiveClear == 0)
        #expect(rro.flags & UInt(MS_RDONLY) == 0)
        #expect(rro.data == [])
        let mixed = MountOptions(["rnosuid", "rnodev", "rnoexec"])
        #expect(mixed.recursiveSet == 0x2 | 0x4 | 0x8)
        #expect(MountOptions(["rrw"]).recursiveClear == 0x1)
        // The atime attributes share a field: setting one clears the others.
        let atime = MountOptions(["rnoatime"])
        #expect(atime.recursiveSet == 0x10)
        #expect(atime.recursiveClear == 0x70)
    }

    /// Options runc handles elsewhere are not passed to the filesystem.
    @Test func optionsHandledElsewhereAreNotData() {
        #expect(MountOptions(["tmpcopyup", "idmap", "ridmap", "norbind", "defaults"]).data == [])
    }
}
