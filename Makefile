# SPDX-License-Identifier: GPL-2.0
# xen-pvhvm-rs: Xen PV-on-HVM frontend drivers as out-of-tree Rust kernel modules.
#
#   make [KDIR=...]   build xen_platform, xenbus, xen_balloon, xen_blkfront, xen_netfront (in that order) against
#                     KDIR, default: the running kernel's build tree
#   make demo         everything a new user runs first (see README.md)
#   make check        all tests; ends with "N passed, N failed"
#   make kernel       build (or reuse) the cached guest kernel and print its path
#   make install      build, then install into /lib/modules/<KDIR's release>/updates (+ depmod) with
#                     the modprobe.d softdeps and initramfs hooks of packaging/
#                     (INSTALL_MOD_PATH=DIR and DESTDIR=DIR: into a staging tree instead)
#   make dkms-install / dkms-remove   the same through DKMS (source in /usr/src/xen-pvhvm-rs-<version>)
#   make deb [OUTDIR=.]   xen-pvhvm-rs-dkms_<version>_all.deb (scripts/build-deb.sh; the clone is only read)
#   make clean

SHELL := /bin/bash
KDIR ?= /lib/modules/$(shell uname -r)/build
# Toolchain pins and PATH (LLVM, bindgen, rustc) come from one place.
ENV := source $(CURDIR)/scripts/env.sh &&
KMAKE = $(ENV) $(MAKE) -C $(KDIR) LLVM=1

# Dependency order: each module links against the exports of those before it.
MODULES := xen_platform xenbus xen_balloon xen_blkfront xen_netfront
# Providers whose Module.symvers each module needs.
SYMS_xen_platform :=
SYMS_xenbus := xen_platform
SYMS_xen_balloon := xen_platform xenbus
SYMS_xen_blkfront := xen_platform xenbus
SYMS_xen_netfront := xen_platform xenbus

.PHONY: all modules $(MODULES) toolchain-check demo check reference kernel install install-files dkms-install dkms-remove deb clean
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(CURDIR)/dkms.conf)
KRELEASE = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)

all: modules
modules: $(MODULES)

xenbus: xen_platform
xen_balloon xen_blkfront xen_netfront: xen_platform xenbus

xen_platform: toolchain-check

# Rust support, no in-tree Xen PVHVM, and the kernel's own rustc/bindgen: said plainly, before
# rustc would fail with E0514.
toolchain-check:
	@test -d "$(KDIR)" || { echo "error: KDIR=$(KDIR) is not a kernel build tree" \
	  "(install the kernel headers, or pass KDIR=...; 'make kernel' builds the test guest's)" >&2; exit 1; }
	@$(ENV) scripts/check-toolchain.sh $(KDIR)

$(MODULES):
	$(KMAKE) M=$(CURDIR)/$@ \
	  KBUILD_EXTRA_SYMBOLS="$(foreach p,$(SYMS_$@),$(CURDIR)/$(p)/Module.symvers)" modules

kernel:
	@scripts/build-kernel.sh | tail -n 1

OUTDIR ?= .
deb:
	scripts/build-deb.sh $(OUTDIR)

demo:
	scripts/demo.sh

check:
	scripts/check.sh

# The reference scenarios: our scenarios' checks on Linux's C drivers (README, "The Xen test bed").
reference:
	scripts/testbed reference

install: modules install-files
	@for m in $(MODULES); do $(KMAKE) M=$(CURDIR)/$$m INSTALL_MOD_DIR=updates modules_install || exit 1; done
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $(KRELEASE)
	@echo "installed for $(KRELEASE); rebuild the initramfs (update-initramfs -u -k $(KRELEASE) or dracut -f) to boot from xvda"

# modprobe.d softdeps (unplug before the emulated-device drivers bind), initramfs-tools hook and
# script, dracut module.
install-files:
	install -D -m 0644 packaging/modprobe.d/xen-pvhvm-rs.conf $(DESTDIR)/etc/modprobe.d/xen-pvhvm-rs.conf
	install -D -m 0755 packaging/initramfs-tools/hooks/xen-pvhvm-rs $(DESTDIR)/etc/initramfs-tools/hooks/xen-pvhvm-rs
	install -D -m 0755 packaging/initramfs-tools/scripts/init-top/xen-pvhvm-rs $(DESTDIR)/etc/initramfs-tools/scripts/init-top/xen-pvhvm-rs
	install -D -m 0755 -t $(DESTDIR)/usr/lib/dracut/modules.d/90xen-pvhvm-rs packaging/dracut/90xen-pvhvm-rs/module-setup.sh packaging/dracut/90xen-pvhvm-rs/xen-pvhvm-rs-load.sh

dkms-install: install-files
	command -v dkms >/dev/null || { echo "error: dkms is not installed (apt-get install dkms)" >&2; exit 1; }
	-dkms remove -m xen-pvhvm-rs -v $(VERSION) --all >/dev/null 2>&1
	scripts/dkms-source.sh /usr/src/xen-pvhvm-rs-$(VERSION)
	dkms add -m xen-pvhvm-rs -v $(VERSION)
	dkms build -m xen-pvhvm-rs -v $(VERSION) -k $(KRELEASE) --kernelsourcedir $(KDIR)
	dkms install -m xen-pvhvm-rs -v $(VERSION) -k $(KRELEASE) --kernelsourcedir $(KDIR)
	@if command -v update-initramfs >/dev/null; then update-initramfs -u -k $(KRELEASE); \
	elif command -v dracut >/dev/null; then dracut -f --kver $(KRELEASE); fi

dkms-remove:
	-dkms remove -m xen-pvhvm-rs -v $(VERSION) --all
	rm -rf /usr/src/xen-pvhvm-rs-$(VERSION)
	rm -f /etc/modprobe.d/xen-pvhvm-rs.conf /etc/initramfs-tools/hooks/xen-pvhvm-rs \
	  /etc/initramfs-tools/scripts/init-top/xen-pvhvm-rs
	rm -rf /usr/lib/dracut/modules.d/90xen-pvhvm-rs

clean:
	@for m in $(MODULES); do \
	  if [ -d "$(KDIR)" ]; then $(KMAKE) M=$(CURDIR)/$$m clean >/dev/null; fi; \
	  rm -f $$m/bindings_gen.rs; done
	rm -rf target
