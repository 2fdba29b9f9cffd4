// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xenbus: exports of the functions implemented in Rust (their Rust signatures are
 * declared once in xen_proto/src/abi.rs).
 */
#include <linux/module.h>
#include "bindings.h"

/* Implemented in xenbus_main.rs. */
int xpv_xenbus_register_driver(const void *drv);
void xpv_xenbus_unregister_driver(const void *drv);
EXPORT_SYMBOL_GPL(xpv_xenbus_register_driver);
EXPORT_SYMBOL_GPL(xpv_xenbus_unregister_driver);
