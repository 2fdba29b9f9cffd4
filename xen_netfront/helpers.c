// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xen_netfront: shims for static inline kernel functions, declared in bindings.h.
 * None are needed yet; the net_device data path adds them here.
 */
#include <linux/module.h>
#include "bindings.h"
