/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xen_balloon (see scripts/Kbuild.bindgen): our C shims (helpers.c) over the
 * page allocator's inline helpers, the delayed work item and the `xen_memory` subsystem whose
 * sysfs attributes call back into Rust (xpv_bl_rs_*, defined in balloon_main.rs). Only what the
 * Kbuild allowlist names is generated.
 */
#include <linux/types.h>

/* Values of xpv_bl_rs_get()/xpv_bl_rs_set(), one per sysfs attribute of xen_memory0 (Linux's
 * names, drivers/xen/xen-balloon.c). */
#define XPV_BL_TARGET_KB 0        /* target_kb: balloon target, KiB (rw) */
#define XPV_BL_TARGET 1           /* target: balloon target, bytes (rw) */
#define XPV_BL_CURRENT_KB 2       /* info/current_kb: memory the guest has, KiB */
#define XPV_BL_LOW_KB 3           /* info/low_kb: ballooned low memory, KiB */
#define XPV_BL_HIGH_KB 4          /* info/high_kb: ballooned high memory, KiB (0 on x86_64) */
#define XPV_BL_SCHEDULE_DELAY 5   /* schedule_delay: next retry delay, s */
#define XPV_BL_MAX_SCHEDULE_DELAY 6 /* max_schedule_delay: its cap, s (rw) */
#define XPV_BL_RETRY_COUNT 7      /* retry_count: failed attempts in a row, plus one */

/* One page for the balloon (GFP_HIGHUSER | __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC, as
 * Linux's GFP_BALLOON: fails rather than pressing the guest), zeroed first when scrub_pages is
 * set; its guest frame number in *gfn. 0 or -ENOMEM. */
int xpv_bl_page_alloc(u64 *gfn);
/* A page of xpv_bl_page_alloc that Xen did not take: freed to the kernel. */
void xpv_bl_page_free(u64 gfn);
/* A page Xen took (XENMEM_decrease_reservation succeeded): marked PageOffline and taken out of
 * the kernel's managed pages (MemTotal). Stays allocated by us. */
void xpv_bl_page_out(u64 gfn);
/* A ballooned page Xen backs again (XENMEM_populate_physmap succeeded): counted again and freed
 * to the kernel. */
void xpv_bl_page_in(u64 gfn);
/* get_num_physpages(): the pages of RAM the kernel found at boot (Linux's current_pages on HVM). */
u64 xpv_bl_num_physpages(void);
/* cond_resched() (a macro). */
void xpv_bl_cond_resched(void);

/* The balloon's delayed work on system_freezable_wq (not during suspend): runs
 * xpv_bl_rs_work(), which returns the delay in ms until the next run, or < 0 to stay idle until
 * kicked. xpv_bl_work_stop waits for a running one and prevents any more. */
void xpv_bl_work_init(void);
void xpv_bl_kick(void);
void xpv_bl_work_stop(void);

/* /sys/devices/system/xen_memory/xen_memory0 with Linux's attributes; 0 or a negative errno.
 * xpv_bl_sysfs_del removes it (no attribute callback runs after it returns). */
int xpv_bl_sysfs_add(void);
void xpv_bl_sysfs_del(void);

/* Implemented in Rust (balloon_main.rs). */
long xpv_bl_rs_work(void);
u64 xpv_bl_rs_get(u32 what);
int xpv_bl_rs_set(u32 what, u64 value);
