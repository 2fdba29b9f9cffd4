/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where the C shims (each module's helpers.c) differ between the kernels we
 * support: Linux 6.12 LTS and 7.x (README: "Supported kernels"). Included by every helpers.c
 * after its kernel headers; the Rust side's differences are in kernel_common.rs (cfg
 * `xpv_linux7`). Prefer testing for the thing itself (__has_include, a macro) over versions.
 */
#ifndef XPV_COMPAT_H
#define XPV_COMPAT_H

#include <linux/version.h>

/* cpuid() moved out of <asm/processor.h> into <asm/cpuid/api.h> (6.15). */
#if __has_include(<asm/cpuid/api.h>)
#include <asm/cpuid/api.h>
#endif

/* blk-mq merges by default since 6.14, which dropped the flag that asked for it. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 14, 0)
#define BLK_MQ_F_SHOULD_MERGE 0
#endif

/* nth_page() is gone in 7.x, where the pages of a folio or compound page are contiguous in
 * the memmap (the plain pointer sum it was on most configurations). */
#ifndef nth_page
#define nth_page(page, n) ((page) + (n))
#endif

/* A workqueue says whether it is per-CPU or unbound since 6.17 (WQ_PERCPU); 7.x warns at
 * alloc_workqueue() when it says neither. Before, per-CPU was what no flag meant. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 17, 0)
#define WQ_PERCPU 0
#endif

#endif /* XPV_COMPAT_H */
