# SPDX-License-Identifier: GPL-2.0
# xen-pvhvm-rs: Xen PV-on-HVM frontend drivers as out-of-tree Rust kernel modules.
#
#   make [KDIR=...]   build xen_platform, xenbus, xen_blkfront, xen_netfront (in that order) against
#                     KDIR, default: the running kernel's build tree
#   make demo         everything a new user runs first (see README.md)
#   make check        all tests; ends with "N passed, N failed"
#   make kernel       build (or reuse) the cached guest kernel and print its path
#   make clean

SHELL := /bin/bash
KDIR ?= /lib/modules/$(shell uname -r)/build
# Toolchain pins and PATH (LLVM, bindgen, rustc) come from one place.
ENV := source $(CURDIR)/scripts/env.sh &&
KMAKE = $(ENV) $(MAKE) -C $(KDIR) LLVM=1

# Dependency order: each module links against the exports of those before it.
MODULES := xen_platform xenbus xen_blkfront xen_netfront
# Providers whose Module.symvers each module needs.
SYMS_xen_platform :=
SYMS_xenbus := xen_platform
SYMS_xen_blkfront := xen_platform xenbus
SYMS_xen_netfront := xen_platform xenbus

.PHONY: all modules $(MODULES) demo check kernel clean

all: modules
modules: $(MODULES)

xenbus: xen_platform
xen_blkfront xen_netfront: xen_platform xenbus

$(MODULES):
	@test -d "$(KDIR)" || { echo "error: KDIR=$(KDIR) is not a kernel build tree" \
	  "(install the kernel headers, or pass KDIR=...; 'make kernel' builds the test guest's)" >&2; exit 1; }
	$(KMAKE) M=$(CURDIR)/$@ \
	  KBUILD_EXTRA_SYMBOLS="$(foreach p,$(SYMS_$@),$(CURDIR)/$(p)/Module.symvers)" modules

kernel:
	@scripts/build-kernel.sh | tail -n 1

demo:
	scripts/demo.sh

check:
	scripts/check.sh

clean:
	@for m in $(MODULES); do \
	  if [ -d "$(KDIR)" ]; then $(KMAKE) M=$(CURDIR)/$$m clean >/dev/null; fi; \
	  rm -f $$m/bindings_gen.rs; done
	rm -rf target
