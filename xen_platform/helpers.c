// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xen_platform: shims for static inline kernel functions (declared in bindings.h so
 * bindgen generates their Rust declarations) and the exports of the functions implemented in Rust
 * (their Rust signatures are declared once in xen_proto/src/abi.rs).
 */
#include <linux/module.h>
#include "bindings.h"

const char *xpv_shim_pci_name(const struct pci_dev *pdev)
{
	return pci_name(pdev);
}

/* Implemented in platform_main.rs; see xen_proto/src/abi.rs for the ABI. */
int xpv_platform_get_info(void *info);
EXPORT_SYMBOL_GPL(xpv_platform_get_info);
