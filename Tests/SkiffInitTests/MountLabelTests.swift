import Testing
@testable import SkiffInit
@testable import SkiffInitProtocol

/// linux.mountLabel on the data of the container's own mounts, as go-selinux formats it. This
/// host has no SELinux, so the kernel side cannot be exercised here: the formatting is.
struct MountLabelTests {
    @Test func addedToTmpfsData() {
        #expect(MountLabel.format(data: "mode=755,size=65536k", type: "tmpfs", label: "l_t", selinuxEnabled: true)
            == "mode=755,size=65536k,context=\"l_t\"")
        #expect(MountLabel.format(data: nil, type: "devpts", label: "s0:c1,c2", selinuxEnabled: true) == "context=\"s0:c1,c2\"")
    }

    @Test func leftOutWhereThePolicyLabels() {
        for type in ["proc", "sysfs", "mqueue", "cgroup", "cgroup2"] {
            #expect(MountLabel.format(data: "x", type: type, label: "l_t", selinuxEnabled: true) == "x")
        }
    }

    @Test func ignoredWithoutSELinux() {
        #expect(MountLabel.format(data: "mode=755", type: "tmpfs", label: "l_t", selinuxEnabled: false) == "mode=755")
        #expect(MountLabel.format(data: "mode=755", type: "tmpfs", label: nil, selinuxEnabled: true) == "mode=755")
    }
}
