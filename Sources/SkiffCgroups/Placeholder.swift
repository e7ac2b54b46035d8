enum CgroupsPlaceholder {}
