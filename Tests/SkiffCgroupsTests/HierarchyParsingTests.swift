import Testing

import SkiffCgroups

/// Which hierarchies a host has, and where the runtime's own cgroup lies in each, from the
/// text of /proc/self/mountinfo and /proc/self/cgroup.
@Suite struct HierarchyParsingTests {
    /// A hybrid host as this project's CI machine has it: one v1 hierarchy per controller, a
    /// named systemd hierarchy and an empty cgroup2 at unified/, with the runtime's memory
    /// cgroup below the root.
    static let ciMountinfo = """
        22 27 0:21 / /proc rw,relatime - proc proc rw
        23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard
        """
    static let ciCgroup = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/17dc4fbce241f6e482144d6bc75ee7ae
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/

        """

    @Test func hybridHostWithOneHierarchyPerController() {
        let hierarchies = CgroupManager.parse(mountinfo: Self.ciMountinfo, ownCgroups: Self.ciCgroup)
        let v1 = { (name: String, own: String) in
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/" + name, controllers: [name], ownPath: own)
        }
        #expect(hierarchies == [
            v1("cpu", "/"), v1("cpuacct", "/"), v1("cpuset", "/"),
            v1("memory", "/process_api/17dc4fbce241f6e482144d6bc75ee7ae"),
            v1("devices", "/"), v1("freezer", "/"), v1("blkio", "/"), v1("pids", "/"),
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/systemd", controllers: ["name=systemd"]),
            CgroupHierarchy(version: .v2, mountPoint: "/sys/fs/cgroup/unified", controllers: []),
        ])
    }

    /// A systemd host in hybrid mode: combined controllers, mount options the kernel shows
    /// among the controllers, and the runtime in a session scope.
    static let systemdMountinfo = #"""
        25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
        33 25 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
        34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
        35 33 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
        38 33 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
        39 33 0:34 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,net_cls,net_prio
        40 33 0:35 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,cpuset,clone_children
        41 33 0:36 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,memory
        42 33 0:37 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,pids,release_agent=/bin/true
        43 33 0:38 / /sys/fs/cgroup/my\040hierarchy rw,relatime shared:21 - cgroup cgroup rw,xattr,name=my
        44 30 0:36 /docker/abc /mnt/memory-of-a-container rw,relatime - cgroup cgroup rw,memory
        45 30 0:33 / /mnt/cpu-again rw,relatime - cgroup cgroup rw,cpu,cpuacct
        """#
    static let systemdCgroup = """
        12:pids:/user.slice/user-1000.slice/session-3.scope
        11:memory:/user.slice/user-1000.slice/session-3.scope
        5:cpuset:/
        4:net_cls,net_prio:/
        3:cpu,cpuacct:/user.slice
        2:name=my:/
        1:name=systemd:/user.slice/user-1000.slice/session-3.scope
        0::/user.slice/user-1000.slice/session-3.scope
        """

    @Test func hybridSystemdHost() {
        let hierarchies = CgroupManager.parse(mountinfo: Self.systemdMountinfo, ownCgroups: Self.systemdCgroup)
        let session = "/user.slice/user-1000.slice/session-3.scope"
        #expect(hierarchies == [
            CgroupHierarchy(version: .v2, mountPoint: "/sys/fs/cgroup/unified", controllers: [], ownPath: session),
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/systemd", controllers: ["name=systemd"],
                            ownPath: session),
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"],
                            ownPath: "/user.slice"),
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/net_cls,net_prio",
                            controllers: ["net_cls", "net_prio"]),
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/cpuset", controllers: ["cpuset"]),
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"], ownPath: session),
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/pids", controllers: ["pids"], ownPath: session),
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/my hierarchy", controllers: ["name=my"]),
        ])
    }

    /// A bind mount of a cgroup below the hierarchy's root (a container's view) is not the
    /// hierarchy, and a second mount of one hierarchy adds nothing.
    @Test func partialAndRepeatedMountsAreSkipped() {
        let hierarchies = CgroupManager.parse(mountinfo: Self.systemdMountinfo, ownCgroups: Self.systemdCgroup)
        #expect(!hierarchies.contains { $0.mountPoint.hasPrefix("/mnt/") })
        #expect(hierarchies.filter { $0.controllers.contains("cpu") }.count == 1)
    }

    @Test func pureV2Host() {
        let mountinfo = """
            24 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
            25 24 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
            35 25 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
            """
        let own = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-term.scope\n"
        #expect(CgroupManager.parse(mountinfo: mountinfo, ownCgroups: own) == [
            CgroupHierarchy(version: .v2, mountPoint: "/sys/fs/cgroup", controllers: [],
                            ownPath: "/user.slice/user-1000.slice/user@1000.service/app.slice/app-term.scope"),
        ])
    }

    /// Without /proc/self/cgroup (or a line for a hierarchy) the runtime's cgroup is the root.
    @Test func missingOwnCgroupMeansTheRoot() {
        let hierarchies = CgroupManager.parse(mountinfo: Self.ciMountinfo, ownCgroups: "")
        #expect(hierarchies.count == 10)
        #expect(hierarchies.allSatisfy { $0.ownPath == "/" })
    }

    @Test func noCgroupMountsGiveNoHierarchies() {
        let mountinfo = """
            22 27 0:21 / /proc rw,relatime - proc proc rw
            27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
            garbage line
            """
        #expect(CgroupManager.parse(mountinfo: mountinfo, ownCgroups: Self.ciCgroup) == [])
    }

    /// cgroup2 hidden the way crun is run on a hybrid host: an empty tmpfs over
    /// /sys/fs/cgroup/unified. mountinfo still lists the cgroup2 mount, but its path now leads
    /// to the tmpfs: the host is pure v1.
    @Test func aMountOverAHierarchyHidesIt() {
        let hidden = Self.ciMountinfo + "\n50 41 0:60 / /sys/fs/cgroup/unified rw,relatime - tmpfs x rw,size=1024k"
        let hierarchies = CgroupManager.parse(mountinfo: hidden, ownCgroups: Self.ciCgroup)
        #expect(hierarchies.count == 9)
        #expect(hierarchies.allSatisfy { $0.version == .v1 })
        // A tmpfs over the whole tree hides every hierarchy; one mounted again on top is back.
        let all = Self.ciMountinfo + """

            51 31 0:61 / /sys/fs/cgroup rw,relatime - tmpfs x rw
            52 51 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
            """
        #expect(CgroupManager.parse(mountinfo: all, ownCgroups: Self.ciCgroup) == [
            CgroupHierarchy(version: .v1, mountPoint: "/sys/fs/cgroup/cpuacct", controllers: ["cpuacct"]),
        ])
        // A later mount beside a hierarchy, or below a sibling's name, hides nothing.
        let beside = Self.ciMountinfo + """

            53 31 0:62 / /sys/fs/cgroup/cpuset2 rw,relatime - tmpfs x rw
            54 32 0:63 / /sys/fs/cgroup/cpu/sub rw,relatime - tmpfs x rw
            """
        #expect(CgroupManager.parse(mountinfo: beside, ownCgroups: Self.ciCgroup).count == 10)
    }

    /// The host reader is the parser on the real files.
    @Test func hostHierarchiesMatchTheParsedFiles() throws {
        let hierarchies = try CgroupManager.hostHierarchies()
        for hierarchy in hierarchies {
            #expect(hierarchy.mountPoint.hasPrefix("/"))
            #expect(hierarchy.ownPath.hasPrefix("/"))
            #expect(hierarchy.version == .v2 || !hierarchy.controllers.isEmpty)
        }
        #expect(Set(hierarchies.map(\.mountPoint)).count == hierarchies.count)
    }
}
