/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xen_platform (see scripts/Kbuild.bindgen): the kernel APIs this module
 * calls that the 6.12 `kernel` crate does not wrap, plus our C shims for static inline functions
 * (implemented in helpers.c). Only what the Kbuild allowlist names is generated.
 */
#include <linux/pci.h>

/* pci_name() is static inline. */
const char *xpv_shim_pci_name(const struct pci_dev *pdev);
