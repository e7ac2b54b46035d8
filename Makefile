# skiff — build, bundle, demo, test and benchmark.
#
# Every target installs the Debian packages it needs when they are missing
# (dpkg-query decides; apt-get update runs only when something is missing), so
# `make test` works on a fresh Debian 12 with Swift at /opt/swift.

.DEFAULT_GOAL := build
SHELL := /bin/sh

# The toolchain lives at /opt/swift on our machines and in CI; use it when no
# swift is on PATH already.
ifeq ($(shell command -v swift 2>/dev/null),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif

SWIFT       ?= swift
CLANG       ?= $(dir $(shell command -v $(SWIFT) 2>/dev/null))clang
SCRATCH     ?= $(CURDIR)/.build
PREFIX      ?= /usr/local
DESTDIR     ?=
SKIFF_ROOT  ?= /run/skiff
BENCH_N     ?= 30

# Release binary: the Swift runtime is linked in, so it runs where /opt/swift
# is absent (a container host, a VM, an initramfs). Linked at a fixed address
# (not a PIE, like Debian's runc): as a PIE, the loader applied ~43,000 relative
# relocations on every exec (each command, and each container's init), and the
# pages it wrote became private copies: 0.6 ms and 1.1 MB per process, and in
# init that memory is charged to the container (docs/security.md, docs/benchmarks.md).
# glibc is linked in too (-static): dynamically, every process (each command, stage 0
# of every container, its init) mapped ld.so, libc and libm, relocated them and bound
# each libc function at its first call, ~0.3 ms of CPU a `run` on the way to the
# container, and ~1.5 MB of its peak RSS were the three libraries' pages. libsystemd is
# still dlopen'ed (Sources/CSystemd), by glibc's loader inside the static binary.
# libstdc++ and libgcc (which the static Swift runtime needs) are linked statically too: as
# shared libraries the loader spent ~1.8 M instructions, 13% of a `skiff state`, binding
# libstdc++'s symbols at every exec (docs/benchmarks.md). The toolchain's static-stdlib args
# say `-lstdc++`; STATIC_LIBS, searched before gcc's own directory, holds only the archive.
STATIC_LIBS   := $(SCRATCH)/static-libs
# libcap and libseccomp are linked statically too, from the -dev packages' archives. As shared
# libraries the loader opened and mapped both in every process (each command, each
# container's init) and bound libcap's symbols eagerly (Debian links it -z now: 78 lookups):
# ~90 K of the loader's ~260 K instructions in a `skiff state`. Each object's .text is
# renamed after the object (.text.libcap.cap_proc …) so that LINK_ORDER can place it: HOT_C_LIBS'
# with the hot functions, COLD_C_LIBS' (libseccomp: only a filter's compilation runs it) after them.
# Package.swift names no pkg-config for the two: SwiftPM's pkg-config reader put
# -L/usr/lib/<triplet> before STATIC_LIBS, and that directory's .so won.
HOT_C_LIBS    := cap
COLD_C_LIBS   := seccomp
# glibc's libc and libm (the binary is linked -static) get the same renaming, every text
# section of each object (`.text.libc.malloc`, `.text.libc.strlen-evex.evex`): their code
# would otherwise lie where the linker leaves it, and what every process runs of it (the
# start-up, each IFUNC resolver — a static binary runs them all before main —, malloc, the
# string functions) spread over ~15 64 KB windows of text. LINK_ORDER puts an object where
# HOT_FUNCTIONS first names one of its functions (GLIBC_SECTIONS maps the names).
GLIBC_LIBS    := c m
STATIC_C_LIBS := $(HOT_C_LIBS) $(COLD_C_LIBS) $(GLIBC_LIBS)
STATIC_C_ARCHIVES := $(STATIC_C_LIBS:%=$(STATIC_LIBS)/lib%.a)
GLIBC_SECTIONS := $(STATIC_LIBS)/glibc-sections.txt
C_LIBDIR      := /usr/lib/$(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
# Generic types are instantiated through metadata accessors given their witness tables,
# not by demangling a type name at run time: each demangled name's generic requirements cost
# the runtime a scan of all ~4,500 conformance records (ArgumentParser's `Option<String>`,
# `KeyedDecodingContainer<CodingKeys>`, …). state: 12.71 M -> 9.46 M instructions.
METADATA_FLAGS := -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors
# The executable exports no symbols. Linked as it is by default, every public symbol of every
# module (5,476) sat in its dynamic symbol table: the loader hashed them at every exec, the
# Swift runtime's start-up `dladdr` walked them one by one (~180 K instructions and ~40 page
# faults per process: each command and each container's init), and --gc-sections had to keep
# every public function. Nothing loads symbols from it (libsystemd is dlopen'ed, not the other
# way round). `skiff -v`: 786 K -> 603 K instructions (docs/benchmarks.md).
EXPORTS_MAP   := $(SCRATCH)/skiff-exports.map
# The functions a container's commands and its init run are laid out together: every function
# in its own section, and the linker places those HOT_FUNCTIONS lists first. The 33 MB binary's
# text is mapped 64 KB (or a whole large folio) per page fault, so hot code scattered across it
# made each process map most of it: peak RSS of `run` 10.0 -> 7.8 MB, `state` 8.5 -> 6.2 MB,
# 35-45 fewer page faults per process (docs/benchmarks.md). `make hot-functions` regenerates
# the list (Tests/Bench/hot_functions.py); a function missing from it only costs locality.
# SwiftPM does not recompile objects when only these flags change: a tree built before them
# needs `rm -rf $(SCRATCH)/x86_64-unknown-linux-gnu/release` once.
HOT_FUNCTIONS ?= $(CURDIR)/Tests/Bench/hot-functions.txt
LINK_ORDER    := $(SCRATCH)/link-order.txt
# Code the list cannot name by symbol, placed after it by section name (gold's ordering file
# takes globs): the compiler's private functions (closure contexts' destroyers, outlined
# helpers: `.text..L__unnamed_12`, `.text..Lobjectdestroy.3`; 574 of them, 16 KB), the
# static constructors every process runs (`.text.startup` of libcap, the Swift runtime, its
# backtracer, Concurrency: 2 KB) and the C and C++ code compilers mark unlikely (28 KB, some
# of which runs in every process: libdispatch's initialisation). Left beside their objects'
# cold code, a `run` faulted in eight 64 KB windows for the first and five for the second, in
# the runtime and again in init; the third cost ~230 KB of peak RSS.
UNNAMED_FUNCTIONS := .text..L* .text.startup .text.unlikely.*
LAYOUT_FLAGS  := -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections \
	-Xlinker --section-ordering-file=$(LINK_ORDER)
# --disable-local-rpath: no RUNPATH $ORIGIN. The binary links the Swift runtime statically and
# needs nothing beside it; with $ORIGIN the loader looked for its shared libraries (then libcap, libseccomp, libm, libc)
# in the binary's directory (and its glibc-hwcaps, tls, x86_64 subdirectories) first: 20 failed
# lookups in every process, and a library planted beside the binary would have been loaded by root.
RELEASE_FLAGS := --scratch-path $(SCRATCH) -c release --product skiff --static-swift-stdlib --disable-local-rpath \
	-Xswiftc -Xclang-linker -Xswiftc -static -Xswiftc -Xclang-linker -Xswiftc -static-libgcc \
	-Xlinker -L$(STATIC_LIBS) -Xlinker --version-script=$(EXPORTS_MAP) $(METADATA_FLAGS) $(LAYOUT_FLAGS)
BIN           := $(SCRATCH)/release/skiff

BUNDLE      := $(CURDIR)/bundles/busybox
ROOTFS      := $(BUNDLE)/rootfs
BUSYBOX     := /bin/busybox
CGROUP2_VM  := ../shared/tools/cgroup2-vm

# Debian packages per purpose. The toolchain's own needs (linker, C library
# headers, git for the package checkouts) are listed so a bare image fails
# here, with a package name, rather than in the middle of a link.
BUILD_PKGS  := libseccomp-dev libcap-dev libsystemd-dev pkg-config binutils git libc6-dev libstdc++-12-dev libgcc-12-dev zlib1g-dev
BUNDLE_PKGS := busybox-static
# uidmap: newuidmap/newgidmap for the rootless tests' multi-range maps (passwd brings
# useradd/usermod, util-linux setpriv to run skiff as the test user; runc, the reference some
# tests run the same bundle under; iproute2 for the network namespaces they join).
# podman, conmon and dbus: SystemdCgroupTests drive rootful podman with cgroup_manager =
# "systemd" under a private systemd in the cgroup v2 guest; systemd and
# dbus-user-session: the real user manager (user@<uid>.service, its session bus) they run
# rootless skiff --systemd-cgroup against.
TEST_PKGS   := util-linux procps passwd uidmap runc iproute2 podman conmon dbus systemd dbus-user-session
BENCH_PKGS  := runc crun hyperfine python3 util-linux time uidmap valgrind
# make e2e: the callers (podman with conmon and catatonit for --init, containerd
# with its runc shim and ctr, dockerd), runc as the reference, uidmap and passwd
# for the rootless user, the CNI loopback plugin, iproute2 for the test's own
# CNI plugin, script (bsdutils) for the pty checks, python3-venv for the CRI
# client's grpcio-tools. slirp4netns and iptables are what rootless podman and
# dockerd expect to find, though the checks use neither (no network is made).
E2E_PKGS    := podman conmon catatonit containerd docker.io runc crun uidmap passwd util-linux \
	bsdutils iproute2 containernetworking-plugins slirp4netns fuse-overlayfs iptables python3 python3-venv busybox-static
E2E_VENV    := $(SCRATCH)/e2e-venv
# make conformance: the peers it compares with, gcc and the static libc for the probe's
# helper (built into the probe's rootfs at run time), iproute2 for the netDevices veth,
# util-linux for unshare (namespace holders, crun's wrapper).
CONFORMANCE_PKGS := runc crun gcc libc6-dev iproute2 util-linux python3

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# $(call apt_ensure,PACKAGES): install whichever of PACKAGES are not installed.
define apt_ensure
@missing=; for p in $(1); do \
	dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q ' installed$$' || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
	echo "apt-get install$$missing"; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
fi
endef

.PHONY: commit-header all build install bundle demo test test-cgroup2 e2e bench hot-functions fuzz clean help \
	deps-build deps-bundle deps-test deps-bench deps-e2e conformance deps-conformance

all: build

help:
	@echo "make [build]      release build of skiff (static Swift runtime) -> .build/release/skiff"
	@echo "make install      install bin/skiff under \$$(DESTDIR)\$$(PREFIX) (default /usr/local)"
	@echo "make bundle       generate bundles/busybox/rootfs from Debian's busybox-static"
	@echo "make demo         build, bundle and run a container that prints pid, hostname, uid map, mounts"
	@echo "make test         build, bundle, then swift test (unit + integration, needs root)"
	@echo "make test-cgroup2 run the tests in a pure cgroup v2 VM (../shared/tools/cgroup2-vm)"
	@echo "make e2e          podman (root and rootless), containerd/ctr, Docker and a CRI pod drive runc and skiff"
	@echo "make conformance  every runtime-spec 1.2.1 field: applied/refused/ignored by skiff, runc, crun -> docs/conformance.md"
	@echo "make bench        skiff vs runc vs crun (Tests/Bench/bench.py; BENCH_N=$(BENCH_N))"
	@echo "make hot-functions  regenerate the linker's hot-function order (Tests/Bench/hot-functions.txt)"
	@echo "make fuzz         libFuzzer over the config.json and state.json decoders (FUZZ_SECONDS=$(FUZZ_SECONDS))"
	@echo "make clean        remove .build and the generated rootfs"

deps-build:
	$(call apt_ensure,$(BUILD_PKGS))

deps-bundle:
	$(call apt_ensure,$(BUNDLE_PKGS))

deps-test:
	$(call apt_ensure,$(TEST_PKGS))

deps-bench:
	$(call apt_ensure,$(BENCH_PKGS))

deps-e2e:
	$(call apt_ensure,$(E2E_PKGS))

deps-conformance:
	$(call apt_ensure,$(CONFORMANCE_PKGS))

# `skiff --version` names the commit: written to a git-ignored header that
# Sources/CShims/cshims.c includes when present, rewritten only when it changes.
COMMIT_HEADER := Sources/CShims/skiff_commit.h
commit-header:
	@commit=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	line="#define SKIFF_COMMIT \"$$commit\""; \
	[ "$$(cat $(COMMIT_HEADER) 2>/dev/null)" = "$$line" ] || echo "$$line" > $(COMMIT_HEADER)

build: deps-build commit-header
	@mkdir -p $(STATIC_LIBS); archive=$$($(CLANG) -print-file-name=libstdc++.a); \
	[ -f "$$archive" ] || { echo "error: libstdc++.a not found (libstdc++-12-dev)"; exit 1; }; \
	ln -sfn "$$archive" $(STATIC_LIBS)/libstdc++.a
	@set -e; for lib in $(STATIC_C_LIBS); do \
		source=$(C_LIBDIR)/lib$$lib.a; target=$(STATIC_LIBS)/lib$$lib.a; \
		[ -f "$$source" ] || { echo "error: $$source not found (lib$$lib-dev)"; exit 1; }; \
		group=$$(sed -n 's/^GROUP *( *\([^ ]*\.a\).*/\1/p' "$$source" 2>/dev/null); \
		[ -z "$$group" ] || source=$$group; \
		[ -f "$$target" ] && [ "$$target" -nt "$$source" ] && continue; \
		rm -rf "$$target.d"; mkdir "$$target.d"; \
		(cd "$$target.d" && ar x "$$source" && for object in *.o; do \
			renames=$$(readelf -SW "$$object" | awk -v to=".text.lib$$lib.$${object%.o}" \
				'{ for (i = 2; i <= NF; i++) if ($$(i-1) ~ /\]$$/ && $$i ~ /^\.text(\.|$$)/) { name = $$i; sub(/^\.text/, to, name); print "--rename-section " $$i "=" name } }'); \
			[ -z "$$renames" ] || objcopy $$renames "$$object"; done && \
			ar rcs "$$target.tmp" *.o); \
		mv "$$target.tmp" "$$target"; rm -rf "$$target.d"; \
	done
	@for lib in $(GLIBC_LIBS); do [ $(GLIBC_SECTIONS) -nt $(STATIC_LIBS)/lib$$lib.a ] || rm -f $(GLIBC_SECTIONS); done; \
	[ -f $(GLIBC_SECTIONS) ] || for lib in $(GLIBC_LIBS); do nm -A --defined-only $(STATIC_LIBS)/lib$$lib.a | \
		awk -v lib=$$lib '$$(NF-1) ~ /^[tTwWi]$$/ { split($$1, member, ":"); sub(/\.o$$/, "", member[2]); print $$NF, ".text.lib" lib "." member[2] }'; \
	done > $(GLIBC_SECTIONS)
	@{ for lib in $(HOT_C_LIBS); do ar t $(STATIC_LIBS)/lib$$lib.a | sed "s/^/.text.lib$$lib./; s/\.o\$$//"; done; \
		awk 'NR == FNR { if (!($$1 in glibc)) glibc[$$1] = $$2; next } \
			{ name = substr($$0, 7) } \
			!(name in glibc) { print; next } \
			!(glibc[name] in placed) { placed[glibc[name]] = 1; print glibc[name]; print glibc[name] ".*" }' \
			$(GLIBC_SECTIONS) $(HOT_FUNCTIONS); \
		set -f; for section in $(UNNAMED_FUNCTIONS); do echo "$$section"; done; set +f; \
		for lib in $(COLD_C_LIBS); do ar t $(STATIC_LIBS)/lib$$lib.a | sed "s/^/.text.lib$$lib./; s/\.o\$$//"; done; \
	} > $(LINK_ORDER).tmp
	@cmp -s $(LINK_ORDER).tmp $(LINK_ORDER) && rm $(LINK_ORDER).tmp || mv $(LINK_ORDER).tmp $(LINK_ORDER)
	@printf '{\n  local: *;\n};\n' > $(EXPORTS_MAP)
	@# SwiftPM relinks when an input object changes, not when the order file or an archive does.
	@if [ -f $(BIN) ]; then for input in $(LINK_ORDER) $(STATIC_C_ARCHIVES); do \
		[ $$input -nt $(BIN) ] && rm -f $(BIN); done; true; fi
	$(SWIFT) build $(RELEASE_FLAGS)
	@if readelf -d $(BIN) | grep -q NEEDED; then \
		echo "error: $(BIN) needs shared libraries it should have linked statically:"; \
		readelf -d $(BIN) | grep NEEDED; exit 1; \
	fi
	@exported=$$(readelf --dyn-syms -W $(BIN) | awk '$$7 != "UND" && $$5 == "GLOBAL"' | wc -l); \
	if [ "$$exported" -gt 0 ]; then echo "error: $(BIN) exports $$exported symbols (EXPORTS_MAP)"; exit 1; fi
	@if readelf -d $(BIN) | grep -qE 'RPATH|RUNPATH'; then \
		echo "error: $(BIN) has a library search path (--disable-local-rpath)"; readelf -d $(BIN) | grep -E 'RPATH|RUNPATH'; exit 1; \
	fi
	@if readelf -d $(BIN) | grep -q 'NEEDED.*libsystemd'; then \
		echo "error: $(BIN) links libsystemd: it is opened with dlopen under --systemd-cgroup only (Sources/CSystemd)"; \
		exit 1; \
	fi

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/skiff

# The rootfs is generated (and git-ignored): busybox plus a link for every
# applet, the directories the mounts in config.json land on, and root, user
# (1000) and nobody. It is rebuilt when this Makefile or busybox changes, into
# a temporary directory that replaces the old one only when complete.
bundle: deps-bundle
	@$(MAKE) -s --no-print-directory $(ROOTFS)/etc/group

$(ROOTFS)/etc/group: Makefile $(wildcard $(BUSYBOX))
	@echo "bundle $(ROOTFS)"
	@set -e; tmp=$(ROOTFS).tmp; rm -rf --one-file-system "$$tmp"; \
	mkdir -p "$$tmp/bin" "$$tmp/sbin" "$$tmp/usr/bin" "$$tmp/usr/sbin" \
		"$$tmp/proc" "$$tmp/sys" "$$tmp/dev" "$$tmp/etc" "$$tmp/tmp" \
		"$$tmp/root" "$$tmp/home/user" "$$tmp/run" "$$tmp/var/tmp"; \
	chmod 1777 "$$tmp/tmp" "$$tmp/var/tmp"; chmod 0700 "$$tmp/root"; \
	cp $(BUSYBOX) "$$tmp/bin/busybox"; \
	$(BUSYBOX) --list-full | while IFS= read -r applet; do \
		case "$$applet" in bin/busybox|linuxrc) continue;; esac; \
		mkdir -p "$$tmp/$${applet%/*}"; \
		ln -sf /bin/busybox "$$tmp/$$applet"; \
	done; \
	printf '%s\n' \
		'root:x:0:0:root:/root:/bin/sh' \
		'user:x:1000:1000:user:/home/user:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' > "$$tmp/etc/passwd"; \
	printf '%s\n' 'skiff' > "$$tmp/etc/hostname"; \
	chown 1000:1000 "$$tmp/home/user"; \
	printf '%s\n' 'root:x:0:' 'tty:x:5:' 'user:x:1000:' 'nobody:x:65534:' > "$$tmp/etc/group"; \
	rm -rf --one-file-system $(ROOTFS); mv "$$tmp" $(ROOTFS); touch $(ROOTFS)/etc/group

demo: build bundle
	@echo "== skiff run --bundle bundles/busybox (root $(SKIFF_ROOT))"
	@id=demo-$$$$; \
	$(BIN) --root $(SKIFF_ROOT) run --bundle $(BUNDLE) "$$id"; rc=$$?; \
	$(BIN) --root $(SKIFF_ROOT) delete --force "$$id" >/dev/null 2>&1; \
	exit $$rc

# Integration tests drive the release binary (what ships) on the generated
# bundle; `swift test` builds the test targets in debug. Then the cgroup tests
# again on a pure cgroup v2 kernel (this host is hybrid).
test: export SKIFF_BINARY := $(BIN)
test: export SKIFF_BUNDLE_ROOTFS := $(ROOTFS)
test: build bundle deps-test
	$(SWIFT) test --scratch-path $(SCRATCH) $(SWIFT_TEST_FLAGS)
	@$(MAKE) --no-print-directory test-cgroup2

# The cgroup-focused tests (unit and integration: every test whose name says
# cgroup) in a QEMU guest with a pure cgroup v2 hierarchy. The guest sees this
# tree at the same path and runs what was built here; under emulation it is
# 5-30x slower, so only these tests run there. Skipped, with the reason, only
# when the guest cannot boot (no tool, or the VM itself failed: exit 125).
# cgroupMountShowsOnlyTheContainer reads the hybrid layout (/sys/fs/cgroup/pids);
# CgroupNamespaceTests checks the same on both versions.
CGROUP2_FILTER  ?= [Cc]group
CGROUP2_SKIP    ?= cgroupMountShowsOnlyTheContainer
CGROUP2_TIMEOUT ?= 30m
test-cgroup2: export SKIFF_BINARY := $(BIN)
test-cgroup2: export SKIFF_BUNDLE_ROOTFS := $(ROOTFS)
test-cgroup2: build bundle deps-test
	@if [ ! -x $(CGROUP2_VM) ]; then \
		echo "test-cgroup2: SKIPPED: $(CGROUP2_VM) not found (it comes with ../shared/tools)"; \
		exit 0; \
	fi; \
	set -e; $(SWIFT) build --scratch-path $(SCRATCH) --build-tests; \
	echo "test-cgroup2: swift test --filter '$(CGROUP2_FILTER)' in a cgroup v2 guest"; \
	set +e; $(CGROUP2_VM) --share $(CURDIR) --timeout $(CGROUP2_TIMEOUT) -- \
		$(SWIFT) test --scratch-path $(SCRATCH) --skip-build --filter '$(CGROUP2_FILTER)' --skip '$(CGROUP2_SKIP)' $(SWIFT_TEST_FLAGS); \
	rc=$$?; \
	if [ $$rc -eq 125 ]; then \
		echo "test-cgroup2: SKIPPED: the cgroup v2 guest did not boot (cgroup2-vm exit 125, its console tail is above)"; \
		exit 0; \
	fi; \
	exit $$rc

# Real callers drive runc (the reference) and skiff through the same checks
# (Tests/E2E/run.py, docs/integration.md). The CRI client's grpcio-tools come
# from PyPI into a venv under .build; the runner runs in it (it needs only the
# standard library otherwise). SKIFF_BINARY may name another skiff to test.
e2e: export SKIFF_BINARY ?= $(BIN)
e2e: export SKIFF_BUNDLE_ROOTFS := $(ROOTFS)
e2e: build bundle deps-e2e
	@[ -x $(E2E_VENV)/bin/python ] && $(E2E_VENV)/bin/python -c 'import grpc_tools' 2>/dev/null || { \
		echo "e2e: pip install grpcio-tools into $(E2E_VENV)"; \
		python3 -m venv $(E2E_VENV) && $(E2E_VENV)/bin/pip install -q grpcio-tools; }
	$(E2E_VENV)/bin/python Tests/E2E/run.py

# One container per runtime-spec field group under skiff, runc and crun; each field is
# judged applied / refused / ignored from inside the container and from the host
# (Tests/Conformance/probe.py). Prints the table and writes docs/conformance.md.
# SKIFF_BINARY may name another skiff to probe.
conformance: export SKIFF_BINARY ?= $(BIN)
conformance: export SKIFF_BUNDLE_ROOTFS := $(ROOTFS)
conformance: build bundle deps-conformance
	python3 Tests/Conformance/probe.py

bench: export SKIFF_BINARY := $(BIN)
bench: deps-bench build bundle
	python3 Tests/Bench/bench.py

# Regenerates HOT_FUNCTIONS: the functions callgrind sees the runtime's commands run, then
# rounds of relinking and recording which functions the runtime, the C stage and the init
# still fault in from elsewhere (perf page-fault samples). Run it after large changes;
# commit the file.
hot-functions: export SKIFF_BUNDLE_ROOTFS := $(ROOTFS)
hot-functions: deps-bench build bundle
	$(call apt_ensure,linux-perf)
	python3 Tests/Bench/hot_functions.py --binary $(BIN) --output $(HOT_FUNCTIONS) \
		--relink "$(MAKE) --no-print-directory build HOT_FUNCTIONS={order}"

# libFuzzer over the config.json decoder + validator and the state.json loader
# (Tests/Fuzz/SkiffFuzz.swift), seeded with real configs (runc spec, podman's, containerd's,
# the bundle's) and a state.json; new inputs go to a git-ignored corpus under .build. Its own
# scratch path: the sanitizer instruments every module. A crash or a hang (-timeout) fails
# the target and leaves the input as crash-*/timeout-* in the working directory.
FUZZ_SECONDS ?= 60
FUZZ_SCRATCH := $(SCRATCH)/fuzz
fuzz: deps-build commit-header
	$(SWIFT) build --scratch-path $(FUZZ_SCRATCH) -c debug --product SkiffFuzz \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -DSKIFF_FUZZER
	@mkdir -p $(FUZZ_SCRATCH)/corpus
	$(FUZZ_SCRATCH)/debug/SkiffFuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
		-print_final_stats=1 $(FUZZ_SCRATCH)/corpus Tests/Fuzz/corpus

clean:
	rm -rf $(SCRATCH)
	rm -rf --one-file-system $(ROOTFS) $(ROOTFS).tmp
