// SPDX-License-Identifier: GPL-2.0
/*
 * C half of xen_balloon: what the Rust side cannot reach (static inlines, macros, the sysfs
 * attribute tables), as thin as possible. Every decision is in balloon_main.rs.
 */
#include <linux/device.h>
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/page-flags.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "xpv_compat.h"
#include "bindings.h"

/* Linux's xen_scrub_pages (CONFIG_XEN_SCRUB_PAGES_DEFAULT=y in Debian): a page given back to Xen
 * may be handed to another domain without Xen clearing it. */
static bool scrub_pages = true;
module_param(scrub_pages, bool, 0644);
MODULE_PARM_DESC(scrub_pages, "Zero pages before giving them back to Xen (default 1)");

int xpv_bl_page_alloc(u64 *gfn)
{
	struct page *page =
		alloc_page(GFP_HIGHUSER | __GFP_NOWARN | __GFP_NORETRY | __GFP_NOMEMALLOC);

	if (!page)
		return -ENOMEM;
	if (READ_ONCE(scrub_pages))
		clear_highpage(page);
	*gfn = page_to_pfn(page);
	return 0;
}

void xpv_bl_page_free(u64 gfn)
{
	__free_page(pfn_to_page(gfn));
}

void xpv_bl_page_out(u64 gfn)
{
	struct page *page = pfn_to_page(gfn);

	__SetPageOffline(page);
	adjust_managed_page_count(page, -1);
}

void xpv_bl_page_in(u64 gfn)
{
	struct page *page = pfn_to_page(gfn);

	__ClearPageOffline(page);
	adjust_managed_page_count(page, 1);
	__free_page(page);
}

u64 xpv_bl_num_physpages(void)
{
	return get_num_physpages();
}

void xpv_bl_cond_resched(void)
{
	cond_resched();
}

static struct delayed_work balloon_work;
static bool balloon_stopping;

static void xpv_bl_work_fn(struct work_struct *work)
{
	long ms = xpv_bl_rs_work();

	if (ms >= 0 && !READ_ONCE(balloon_stopping))
		queue_delayed_work(system_freezable_wq, &balloon_work, msecs_to_jiffies(ms));
}

void xpv_bl_work_init(void)
{
	INIT_DELAYED_WORK(&balloon_work, xpv_bl_work_fn);
	WRITE_ONCE(balloon_stopping, false);
}

void xpv_bl_kick(void)
{
	if (!READ_ONCE(balloon_stopping))
		mod_delayed_work(system_freezable_wq, &balloon_work, 0);
}

void xpv_bl_work_stop(void)
{
	WRITE_ONCE(balloon_stopping, true);
	/* Also stops a work item that re-queues itself. */
	cancel_delayed_work_sync(&balloon_work);
}

/* sysfs, as Linux's drivers/xen/xen-balloon.c. */
static ssize_t show_u64(char *buf, u32 what)
{
	return sysfs_emit(buf, "%llu\n", xpv_bl_rs_get(what));
}

static ssize_t target_kb_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return show_u64(buf, XPV_BL_TARGET_KB);
}

static ssize_t target_kb_store(struct device *dev, struct device_attribute *attr,
			       const char *buf, size_t count)
{
	unsigned long long kb;
	int err = kstrtoull(buf, 0, &kb);

	if (err)
		return err;
	err = xpv_bl_rs_set(XPV_BL_TARGET_KB, kb);
	return err ? err : count;
}
static DEVICE_ATTR_RW(target_kb);

static ssize_t target_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return show_u64(buf, XPV_BL_TARGET);
}

static ssize_t target_store(struct device *dev, struct device_attribute *attr, const char *buf,
			    size_t count)
{
	char *end;
	unsigned long long bytes = memparse(buf, &end);
	int err;

	if (end == buf || (*end && *end != '\n'))
		return -EINVAL;
	err = xpv_bl_rs_set(XPV_BL_TARGET, bytes);
	return err ? err : count;
}
static DEVICE_ATTR_RW(target);

static ssize_t schedule_delay_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return show_u64(buf, XPV_BL_SCHEDULE_DELAY);
}
static DEVICE_ATTR_RO(schedule_delay);

static ssize_t max_schedule_delay_show(struct device *dev, struct device_attribute *attr,
				       char *buf)
{
	return show_u64(buf, XPV_BL_MAX_SCHEDULE_DELAY);
}

static ssize_t max_schedule_delay_store(struct device *dev, struct device_attribute *attr,
					const char *buf, size_t count)
{
	unsigned long long s;
	int err = kstrtoull(buf, 0, &s);

	if (err)
		return err;
	err = xpv_bl_rs_set(XPV_BL_MAX_SCHEDULE_DELAY, s);
	return err ? err : count;
}
static DEVICE_ATTR_RW(max_schedule_delay);

static ssize_t retry_count_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return show_u64(buf, XPV_BL_RETRY_COUNT);
}
static DEVICE_ATTR_RO(retry_count);

static struct attribute *balloon_attrs[] = {
	&dev_attr_target_kb.attr,
	&dev_attr_target.attr,
	&dev_attr_schedule_delay.attr,
	&dev_attr_max_schedule_delay.attr,
	&dev_attr_retry_count.attr,
	NULL,
};

static const struct attribute_group balloon_group = {
	.attrs = balloon_attrs,
};

static ssize_t current_kb_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return show_u64(buf, XPV_BL_CURRENT_KB);
}
static DEVICE_ATTR_RO(current_kb);

static ssize_t low_kb_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return show_u64(buf, XPV_BL_LOW_KB);
}
static DEVICE_ATTR_RO(low_kb);

static ssize_t high_kb_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return show_u64(buf, XPV_BL_HIGH_KB);
}
static DEVICE_ATTR_RO(high_kb);

static struct attribute *balloon_info_attrs[] = {
	&dev_attr_current_kb.attr,
	&dev_attr_low_kb.attr,
	&dev_attr_high_kb.attr,
	NULL,
};

static const struct attribute_group balloon_info_group = {
	.name = "info",
	.attrs = balloon_info_attrs,
};

static const struct attribute_group *balloon_groups[] = {
	&balloon_group,
	&balloon_info_group,
	NULL,
};

static const struct bus_type xen_memory_subsys = {
	.name = "xen_memory",
	.dev_name = "xen_memory",
};

static struct device *balloon_dev;

static void balloon_dev_release(struct device *dev)
{
	kfree(dev);
}

int xpv_bl_sysfs_add(void)
{
	struct device *dev;
	int err = subsys_system_register(&xen_memory_subsys, NULL);

	if (err)
		return err;
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev) {
		bus_unregister(&xen_memory_subsys);
		return -ENOMEM;
	}
	dev->id = 0;
	dev->bus = &xen_memory_subsys;
	dev->groups = balloon_groups;
	dev->release = balloon_dev_release;
	err = device_register(dev);
	if (err) {
		put_device(dev);
		bus_unregister(&xen_memory_subsys);
		return err;
	}
	balloon_dev = dev;
	return 0;
}

void xpv_bl_sysfs_del(void)
{
	if (!balloon_dev)
		return;
	device_unregister(balloon_dev);
	balloon_dev = NULL;
	bus_unregister(&xen_memory_subsys);
}
