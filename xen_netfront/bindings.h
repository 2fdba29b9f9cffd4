/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xen_netfront (see scripts/Kbuild.bindgen): the net_device, NAPI and skb
 * APIs the 6.12 `kernel` crate lacks, and our shims (helpers.c). The data path adds them here.
 */
#include <linux/netdevice.h>
