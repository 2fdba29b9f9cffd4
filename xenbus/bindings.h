/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xenbus (see scripts/Kbuild.bindgen): kernel APIs not wrapped by the 6.12
 * `kernel` crate and our shims (helpers.c). Nothing is needed yet beyond the exports below; the
 * xenstore client and the `xen` bus add their APIs here.
 */
#include <linux/module.h>
