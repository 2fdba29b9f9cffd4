/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xen_blkfront (see scripts/Kbuild.bindgen): block-layer APIs the 6.12
 * `kernel` crate does not expose with the control we need (a fixed major, 202) and our shims.
 */
#include <linux/blkdev.h>
