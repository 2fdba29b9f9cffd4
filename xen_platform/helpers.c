// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xen_platform: shims for static inline kernel functions and macros (declared in
 * bindings.h so bindgen generates their Rust declarations), the module parameters, and the
 * exports of the functions implemented in Rust (their Rust signatures are declared once in
 * xen_proto/src/abi.rs).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/io.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/fs.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/delay.h>
#include <linux/timer.h>
#include <linux/spinlock.h>
#include <linux/cpumask.h>
#include <linux/cpuhotplug.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/smp.h>
#include <asm/irqdomain.h>
#include <asm/hw_irq.h>
#include <linux/stop_machine.h>
#include <linux/timekeeping.h>
#include <asm/msr.h>
#include "xpv_compat.h"
#include "bindings.h"

const char *xpv_shim_pci_name(const struct pci_dev *pdev)
{
	return pci_name(pdev);
}

u64 xpv_shim_pci_resource_start(struct pci_dev *pdev, int bar)
{
	return pci_resource_start(pdev, bar);
}

u64 xpv_shim_pci_resource_len(struct pci_dev *pdev, int bar)
{
	return pci_resource_len(pdev, bar);
}

void xpv_shim_pci_location(struct pci_dev *pdev, u16 *segment, u8 *bus, u8 *devfn, u8 *pin,
			   u32 *irq)
{
	*segment = pci_domain_nr(pdev->bus);
	*bus = pdev->bus->number;
	*devfn = pdev->devfn;
	*pin = pdev->pin;
	*irq = pdev->irq;
}

const char *xpv_shim_pci_bound_driver(u32 vendor, u32 device, int *present)
{
	struct pci_dev *pdev = NULL;
	const char *name = NULL;

	*present = 0;
	while ((pdev = pci_get_device(vendor, device, pdev)) != NULL) {
		*present = 1;
		/* Driver structs of built-in drivers are static: the name outlives the device ref. */
		if (pdev->driver) {
			name = pdev->driver->name;
			pci_dev_put(pdev);
			break;
		}
	}
	return name;
}

int xpv_shim_pci_class_count(u32 class16, int *bound)
{
	struct pci_dev *pdev = NULL;
	int n = 0;

	*bound = 0;
	for_each_pci_dev(pdev) {
		if ((pdev->class >> 8) != class16)
			continue;
		n++;
		if (pdev->driver)
			(*bound)++;
	}
	return n;
}

int xpv_shim_remove_vanished_pci(u32 class16)
{
	struct pci_dev *pdev = NULL, *gone[8];
	int n = 0, i;
	u16 vendor;

	for_each_pci_dev(pdev) {
		if ((pdev->class >> 8) != class16 || n == ARRAY_SIZE(gone))
			continue;
		if (pci_read_config_word(pdev, PCI_VENDOR_ID, &vendor) == 0 && vendor != 0xffff)
			continue;
		gone[n++] = pci_dev_get(pdev);
	}
	for (i = 0; i < n; i++) {
		pci_info(gone[i], "gone from the device model (unplugged): removing\n");
		pci_stop_and_remove_bus_device_locked(gone[i]);
		pci_dev_put(gone[i]);
	}
	return n;
}

int xpv_shim_irq_affinity_cpu(u32 irq, u32 cpu)
{
	return irq_set_affinity(irq, cpumask_of(cpu));
}

u8 xpv_shim_inb(u16 port)
{
	return inb(port);
}

u16 xpv_shim_inw(u16 port)
{
	return inw(port);
}

void xpv_shim_outw(u16 value, u16 port)
{
	outw(value, port);
}

void xpv_shim_outl(u32 value, u16 port)
{
	outl(value, port);
}

unsigned long xpv_shim_get_zeroed_page(void)
{
	return get_zeroed_page(GFP_KERNEL);
}

void xpv_shim_free_page(unsigned long addr)
{
	free_page(addr);
}

u64 xpv_shim_virt_to_pfn(unsigned long addr)
{
	return PFN_DOWN(__pa(addr));
}

unsigned long xpv_shim_jiffies(void)
{
	return jiffies;
}

u32 xpv_shim_hz(void)
{
	return HZ;
}

/* Implemented in events.rs: unmasks the ports whose delayed EOI is due, returns the jiffies
 * value of the next one due, or 0 if none. */
unsigned long xpv_eoi_timer_fired(void);

static struct timer_list xpv_eoi_timer;

static void xpv_eoi_timer_fn(struct timer_list *t)
{
	unsigned long next = xpv_eoi_timer_fired();

	if (next)
		mod_timer(&xpv_eoi_timer, next);
}

void xpv_shim_eoi_timer_init(void)
{
	timer_setup(&xpv_eoi_timer, xpv_eoi_timer_fn, 0);
}

void xpv_shim_eoi_timer_arm(unsigned long expires)
{
	/* Only ever moves the timer earlier (or arms it). */
	timer_reduce(&xpv_eoi_timer, expires);
}

void xpv_shim_eoi_timer_stop(void)
{
	timer_shutdown_sync(&xpv_eoi_timer);
}

/*
 * Per-vCPU upcall vectors (events.rs): an interrupt of the x86 vector domain (exported, as
 * pci-hyperv uses it) pinned to one CPU, with the edge flow whose ack is the local APIC's EOI
 * (lapic_controller's apic_ack_edge), which Xen's vector injection needs.
 */
int xpv_shim_upcall_irq_alloc(u32 cpu, irq_handler_t handler, const char *name, void *dev,
			      u32 *vector)
{
	struct irq_alloc_info info;
	struct irq_data *d;
	struct irq_cfg *cfg;
	int irq, ret;

	if (cpu >= nr_cpu_ids || !cpu_online(cpu))
		return -EINVAL;
	/* init_irq_alloc_info() is not exported: it is this. */
	memset(&info, 0, sizeof(info));
	info.mask = cpumask_of(cpu);
	irq = __irq_domain_alloc_irqs(x86_vector_domain, -1, 1, cpu_to_node(cpu), &info, false,
				      NULL);
	if (irq < 0)
		return irq;
	irq_set_handler(irq, handle_edge_irq);
	/* Before activation this only records the affinity, which activation keeps. */
	ret = irq_set_affinity(irq, cpumask_of(cpu));
	if (!ret)
		ret = request_irq(irq, handler, IRQF_NOBALANCING, name, dev);
	if (ret) {
		irq_dispose_mapping(irq);
		return ret;
	}
	d = irq_get_irq_data(irq);
	cfg = d ? irqd_cfg(d) : NULL;
	if (!cfg || cfg->vector < FIRST_EXTERNAL_VECTOR ||
	    !cpumask_equal(irq_data_get_effective_affinity_mask(d), cpumask_of(cpu))) {
		free_irq(irq, dev);
		irq_dispose_mapping(irq);
		return -EIO;
	}
	*vector = cfg->vector;
	return irq;
}

void xpv_shim_upcall_irq_free(u32 irq, void *dev)
{
	free_irq(irq, dev);
	/* x86_vector_domain is a hierarchy domain: this is irq_domain_free_irqs(irq, 1). */
	irq_dispose_mapping(irq);
}

u32 xpv_shim_smp_processor_id(void)
{
	return raw_smp_processor_id();
}

struct xpv_cpuid_args {
	u32 leaf;
	u32 regs[4];
};

static void xpv_cpuid_fn(void *p)
{
	struct xpv_cpuid_args *a = p;

	cpuid(a->leaf, &a->regs[0], &a->regs[1], &a->regs[2], &a->regs[3]);
}

int xpv_shim_cpuid_on(u32 cpu, u32 leaf, u32 *regs)
{
	struct xpv_cpuid_args a = { .leaf = leaf };
	int ret = smp_call_function_single(cpu, xpv_cpuid_fn, &a, 1);

	if (!ret)
		memcpy(regs, a.regs, sizeof(a.regs));
	return ret;
}

/* Implemented in events.rs: bring a CPU's upcall vector up / down (CPU hotplug, run on it). */
int xpv_upcall_cpu_online(unsigned int cpu);
int xpv_upcall_cpu_offline(unsigned int cpu);

int xpv_shim_cpuhp_setup(void)
{
	return cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "xen_platform/upcall:online",
				 xpv_upcall_cpu_online, xpv_upcall_cpu_offline);
}

void xpv_shim_cpuhp_remove(int state)
{
	cpuhp_remove_state(state);
}

u32 xpv_shim_nth_online_cpu(u32 n)
{
	u32 cpu, i = 0;

	for_each_online_cpu(cpu) {
		if (i++ == n)
			return cpu;
	}
	return U32_MAX;
}

u32 xpv_shim_num_online_cpus(void)
{
	return num_online_cpus();
}

static DEFINE_SPINLOCK(xpv_gnttab_lock);

unsigned long xpv_shim_gnttab_lock(void)
{
	unsigned long flags;

	spin_lock_irqsave(&xpv_gnttab_lock, flags);
	return flags;
}

void xpv_shim_gnttab_unlock(unsigned long flags)
{
	spin_unlock_irqrestore(&xpv_gnttab_lock, flags);
}

static int selftest;
module_param(selftest, int, 0444);
MODULE_PARM_DESC(selftest, "1: run the event channel and grant table self-tests at probe");

static bool no_vector_callback;
module_param(no_vector_callback, bool, 0444);
MODULE_PARM_DESC(no_vector_callback,
		 "1: no per-vCPU upcall vectors, all events through the INTx/GSI callback on vCPU 0 "
		 "(as xen_no_vector_callback on the kernel command line)");

int xpv_shim_param_no_vector_callback(void)
{
	return no_vector_callback;
}

static char xen_emul_unplug[64];
module_param_string(xen_emul_unplug, xen_emul_unplug, sizeof(xen_emul_unplug), 0444);
MODULE_PARM_DESC(xen_emul_unplug,
		 "emulated devices to unplug: all, ide-disks, aux-ide-disks, nics, unnecessary, never "
		 "(comma-separated; overrides xen_emul_unplug= on the kernel command line)");

int xpv_shim_param_selftest(void)
{
	return selftest;
}

const char *xpv_shim_param_emul_unplug(void)
{
	return xen_emul_unplug;
}

long xpv_shim_read_cmdline(char *buf, unsigned long len)
{
	struct file *f;
	loff_t pos = 0;
	ssize_t n;

	if (!len)
		return -EINVAL;
	f = filp_open("/proc/cmdline", O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_read(f, buf, len - 1, &pos);
	filp_close(f, NULL);
	if (n < 0)
		return n;
	buf[n] = 0;
	return n;
}
/* Also used by xenbus (its selftest= from the command line under plain insmod). */
EXPORT_SYMBOL_GPL(xpv_shim_read_cmdline);

int xpv_shim_kernel_has_xen(void)
{
	return IS_ENABLED(CONFIG_XEN);
}

/*
 * Pages the frontends grant to their backends (xen_proto/src/abi.rs, xpv_pages_alloc/free; owned
 * by GrantedPages in abi_client.rs): zeroed before anyone is granted access (XSA-403), freed only
 * once every grant of them was revoked (XSA-396). 4 = PAGES_MAX_ORDER.
 */
void *xpv_pages_alloc(u32 order, u64 *gfn);
void xpv_pages_free(void *va, u32 order);

void *xpv_pages_alloc(u32 order, u64 *gfn)
{
	unsigned long va;

	if (order > 4)
		return NULL;
	va = __get_free_pages(GFP_KERNEL | __GFP_ZERO, order);
	if (!va)
		return NULL;
	*gfn = PFN_DOWN(__pa(va));
	return (void *)va;
}
EXPORT_SYMBOL_GPL(xpv_pages_alloc);

void xpv_pages_free(void *va, u32 order)
{
	free_pages((unsigned long)va, order);
}
EXPORT_SYMBOL_GPL(xpv_pages_free);

/*
 * A work item on the system workqueue that calls fn(data), for the frontends (xen_proto/src/
 * abi.rs xpv_work_*, owned by abi_client::Work): 6.12's kernel::workqueue cannot cancel a queued
 * item, which a device's teardown needs before it frees what the work uses.
 */
struct xpv_work {
	struct work_struct work;
	void (*fn)(void *data);
	void *data;
};

static void xpv_work_fn(struct work_struct *work)
{
	struct xpv_work *w = container_of(work, struct xpv_work, work);

	w->fn(w->data);
}

struct xpv_work *xpv_work_new(void (*fn)(void *data), void *data);
void xpv_work_queue(struct xpv_work *w);
void xpv_work_free(struct xpv_work *w);

struct xpv_work *xpv_work_new(void (*fn)(void *data), void *data)
{
	struct xpv_work *w = kzalloc(sizeof(*w), GFP_KERNEL);

	if (!w)
		return NULL;
	INIT_WORK(&w->work, xpv_work_fn);
	w->fn = fn;
	w->data = data;
	return w;
}
EXPORT_SYMBOL_GPL(xpv_work_new);

void xpv_work_queue(struct xpv_work *w)
{
	schedule_work(&w->work);
}
EXPORT_SYMBOL_GPL(xpv_work_queue);

void xpv_work_free(struct xpv_work *w)
{
	cancel_work_sync(&w->work);
	kfree(w);
}
EXPORT_SYMBOL_GPL(xpv_work_free);

/*
 * Deferred reclaim of granted pages that a backend still mapped when their owner let go of them
 * (xen_proto/src/abi.rs xpv_pages_defer; as Linux's deferred list in drivers/xen/grant-table.c,
 * gnttab_add_deferred): each entry keeps the pages and the references not yet revoked; a delayed
 * work retries every second and frees the pages once every reference is revoked. Until then the
 * pages are used by nothing else (XSA-396). Entries still pending when the platform device goes
 * are leaked for good.
 */
#define XPV_DEFER_MAX_GREFS 16
#define XPV_DEFER_DONE 0xffffffffU

struct xpv_deferred {
	struct list_head list;
	void *va;
	u32 order;
	u32 n;
	u32 grefs[XPV_DEFER_MAX_GREFS];
};

int xpv_gnttab_end_access(u32 gref);
int xpv_pages_defer(void *va, u32 order, const u32 *grefs, u32 n);
void xpv_shim_pages_deferred_shutdown(void);
static void xpv_deferred_fn(struct work_struct *work);

static LIST_HEAD(xpv_deferred_list);
static DEFINE_SPINLOCK(xpv_deferred_lock);
static DECLARE_DELAYED_WORK(xpv_deferred_work, xpv_deferred_fn);
static bool xpv_deferred_stopped;

/* Tries to revoke what is pending; frees what is fully revoked. Returns whether any is left. */
static bool xpv_deferred_try(void)
{
	struct xpv_deferred *d, *tmp;
	unsigned long flags;
	LIST_HEAD(done);
	bool left;
	u32 i, pending;

	spin_lock_irqsave(&xpv_deferred_lock, flags);
	list_for_each_entry_safe(d, tmp, &xpv_deferred_list, list) {
		pending = 0;
		for (i = 0; i < d->n; i++) {
			if (d->grefs[i] == XPV_DEFER_DONE)
				continue;
			if (xpv_gnttab_end_access(d->grefs[i]) == 0)
				d->grefs[i] = XPV_DEFER_DONE;
			else
				pending++;
		}
		if (!pending)
			list_move(&d->list, &done);
	}
	left = !list_empty(&xpv_deferred_list);
	spin_unlock_irqrestore(&xpv_deferred_lock, flags);
	list_for_each_entry_safe(d, tmp, &done, list) {
		pr_info("xen_platform: %u deferred page(s) revoked and freed\n", 1U << d->order);
		free_pages((unsigned long)d->va, d->order);
		kfree(d);
	}
	return left;
}

static void xpv_deferred_fn(struct work_struct *work)
{
	if (xpv_deferred_try() && !READ_ONCE(xpv_deferred_stopped))
		schedule_delayed_work(&xpv_deferred_work, HZ);
}

int xpv_pages_defer(void *va, u32 order, const u32 *grefs, u32 n)
{
	struct xpv_deferred *d;
	unsigned long flags;

	if (n > XPV_DEFER_MAX_GREFS || READ_ONCE(xpv_deferred_stopped))
		return -EINVAL;
	d = kzalloc(sizeof(*d), GFP_ATOMIC);
	if (!d)
		return -ENOMEM;
	d->va = va;
	d->order = order;
	d->n = n;
	memcpy(d->grefs, grefs, n * sizeof(u32));
	spin_lock_irqsave(&xpv_deferred_lock, flags);
	list_add_tail(&d->list, &xpv_deferred_list);
	spin_unlock_irqrestore(&xpv_deferred_lock, flags);
	schedule_delayed_work(&xpv_deferred_work, HZ);
	return 0;
}
EXPORT_SYMBOL_GPL(xpv_pages_defer);

/*
 * Called before the grant table goes (module unload): what a backend still maps is given up to
 * XPV_DEFER_SHUTDOWN_MS to be unmapped (a backend unmaps as it closes, which may lag behind the
 * frontends' removal by a second or two), then leaked for good: after this no one can revoke it.
 */
#define XPV_DEFER_SHUTDOWN_MS 10000

void xpv_shim_pages_deferred_shutdown(void)
{
	struct xpv_deferred *d, *tmp;
	unsigned long flags, pages = 0;
	unsigned int waited = 0;

	WRITE_ONCE(xpv_deferred_stopped, true);
	cancel_delayed_work_sync(&xpv_deferred_work);
	while (xpv_deferred_try() && waited < XPV_DEFER_SHUTDOWN_MS) {
		msleep(100);
		waited += 100;
	}
	spin_lock_irqsave(&xpv_deferred_lock, flags);
	list_for_each_entry_safe(d, tmp, &xpv_deferred_list, list) {
		pages += 1UL << d->order;
		list_del(&d->list);
		kfree(d);
	}
	spin_unlock_irqrestore(&xpv_deferred_lock, flags);
	if (pages)
		pr_warn("xen_platform: %lu page(s) still mapped by a backend: leaked\n", pages);
}

/* Implemented in Rust; see xen_proto/src/abi.rs for the ABI. */
int xpv_platform_get_info(void *info);
EXPORT_SYMBOL_GPL(xpv_platform_get_info);
int xpv_hvm_get_param(u32 index, u64 *value);
EXPORT_SYMBOL_GPL(xpv_hvm_get_param);
int xpv_evtchn_alloc_unbound(u16 remote_dom, u32 *port);
EXPORT_SYMBOL_GPL(xpv_evtchn_alloc_unbound);
int xpv_evtchn_bind_interdomain(u16 remote_dom, u32 remote_port, u32 *local_port);
EXPORT_SYMBOL_GPL(xpv_evtchn_bind_interdomain);
int xpv_evtchn_bind(u32 port, u32 (*handler)(u32, void *), void *data);
EXPORT_SYMBOL_GPL(xpv_evtchn_bind);
int xpv_evtchn_unbind(u32 port);
EXPORT_SYMBOL_GPL(xpv_evtchn_unbind);
int xpv_evtchn_close(u32 port);
EXPORT_SYMBOL_GPL(xpv_evtchn_close);
int xpv_evtchn_notify(u32 port);
EXPORT_SYMBOL_GPL(xpv_evtchn_notify);
int xpv_evtchn_eoi(u32 port, u32 spurious);
EXPORT_SYMBOL_GPL(xpv_evtchn_eoi);
int xpv_evtchn_spread(u32 port, u32 index);
EXPORT_SYMBOL_GPL(xpv_evtchn_spread);
int xpv_gnttab_grant_access(u16 domid, u64 gfn, u32 readonly, u32 *gref);
EXPORT_SYMBOL_GPL(xpv_gnttab_grant_access);
int xpv_memory_reservation(u32 cmd, u64 *gfns, u32 count);
EXPORT_SYMBOL_GPL(xpv_memory_reservation);
int xpv_gnttab_end_access(u32 gref);
EXPORT_SYMBOL_GPL(xpv_gnttab_end_access);
int xpv_platform_suspend(void);
EXPORT_SYMBOL_GPL(xpv_platform_suspend);
u32 xpv_evtchn_epoch(void);
EXPORT_SYMBOL_GPL(xpv_evtchn_epoch);

int xpv_suspend_on_cpu0(void *data);

int xpv_shim_stop_machine_cpu0(void *data)
{
	return stop_machine(xpv_suspend_on_cpu0, data, cpumask_of(0));
}

u64 xpv_shim_rdtsc(void)
{
	return rdtsc_ordered();
}

int xpv_shim_settime(s64 sec, long nsec)
{
	struct timespec64 ts = { .tv_sec = sec, .tv_nsec = nsec };

	return do_settimeofday64(&ts);
}

void xpv_shim_ktime_real(s64 *sec, long *nsec)
{
	struct timespec64 ts;

	ktime_get_real_ts64(&ts);
	*sec = ts.tv_sec;
	*nsec = ts.tv_nsec;
}

/*
 * The "xen" clocksource (clock.rs): Xen's per-vCPU time record (`struct vcpu_time_info` in
 * xen.h, the same layout as `struct pvclock_vcpu_time_info`) scaled from the TSC, as Linux's
 * xen_clocksource_read (arch/x86/xen/time.c). The read is C for the asm/pvclock.h inlines and
 * the per-CPU pointer; each CPU reads its own vCPU's record, or vCPU 0's if it has none known.
 * Across vCPUs whose records disagree slightly the clock never goes backwards: a global last
 * value, as pvclock_clocksource_read, unless Xen marks the records PVCLOCK_TSC_STABLE_BIT.
 */
#include <linux/clocksource.h>
#include <linux/percpu.h>
#include <asm/pvclock.h>
#include <asm/cpufeature.h>
#include <asm/tsc.h>

static DEFINE_PER_CPU(struct pvclock_vcpu_time_info *, xpv_clock_pvti);
static struct pvclock_vcpu_time_info *xpv_clock_pvti0;
static atomic64_t xpv_clock_last = ATOMIC64_INIT(0);
/* Added to Xen's time: set at resume in a new domain, so that the clock goes on from its last
 * value (the record there follows the new host's system time). */
static u64 xpv_clock_offset;
static bool xpv_clock_on;

/* Xen said at registration that it sets PVCLOCK_TSC_STABLE_BIT when the TSCs of all vCPUs agree
 * (as Linux's xen_time_init checks vCPU 0's record once). */
static bool xpv_clock_stable_ok;

/* Xen's system time now by this CPU's record (ns), without the monotonic clamp; *flags gets the
 * record's flags. */
static notrace u64 xpv_clock_raw(u8 *flags)
{
	struct pvclock_vcpu_time_info *src;
	unsigned int version;
	u64 ret;

	preempt_disable_notrace();
	src = this_cpu_read(xpv_clock_pvti);
	if (!src)
		src = READ_ONCE(xpv_clock_pvti0);
	do {
		version = pvclock_read_begin(src);
		ret = __pvclock_read_cycles(src, rdtsc_ordered());
		*flags = src->flags;
	} while (pvclock_read_retry(src, version));
	preempt_enable_notrace();
	return ret;
}

static notrace u64 xpv_clock_read(struct clocksource *cs)
{
	u8 flags;
	u64 ret = xpv_clock_raw(&flags) + READ_ONCE(xpv_clock_offset);
	u64 last;

	/* Every vCPU's TSC agrees: no need for the global last value (pvclock_clocksource_read). */
	if (READ_ONCE(xpv_clock_stable_ok) && (flags & PVCLOCK_TSC_STABLE_BIT))
		return ret;
	last = atomic64_read(&xpv_clock_last);

	do {
		if (ret <= last)
			return last;
	} while (!atomic64_try_cmpxchg(&xpv_clock_last, &last, ret));
	return ret;
}

static struct clocksource xpv_clocksource = {
	.name = "xen",
	.rating = 400,
	.read = xpv_clock_read,
	.mask = CLOCKSOURCE_MASK(64),
	.flags = CLOCK_SOURCE_IS_CONTINUOUS,
};

void xpv_shim_clock_set_cpu(u32 cpu, void *pvti)
{
	if (cpu < nr_cpu_ids)
		WRITE_ONCE(per_cpu(xpv_clock_pvti, cpu), pvti);
}

int xpv_shim_clock_register(void *pvti0, u32 rating)
{
	u8 flags;
	int ret;

	WRITE_ONCE(xpv_clock_pvti0, pvti0);
	WRITE_ONCE(xpv_clock_stable_ok, false);
	xpv_clock_raw(&flags);
	WRITE_ONCE(xpv_clock_stable_ok, !!(flags & PVCLOCK_TSC_STABLE_BIT));
	atomic64_set(&xpv_clock_last, 0);
	WRITE_ONCE(xpv_clock_offset, 0);
	xpv_clocksource.rating = rating;
	ret = clocksource_register_hz(&xpv_clocksource, NSEC_PER_SEC);
	WRITE_ONCE(xpv_clock_on, !ret);
	return ret;
}

int xpv_shim_clock_unregister(void)
{
	int ret = clocksource_unregister(&xpv_clocksource);
	u32 cpu;

	if (ret)
		return ret;
	WRITE_ONCE(xpv_clock_on, false);
	for_each_possible_cpu(cpu)
		WRITE_ONCE(per_cpu(xpv_clock_pvti, cpu), NULL);
	return 0;
}

s64 xpv_shim_clock_resume(void)
{
	u64 raw, last, jump;
	u8 flags;

	if (!READ_ONCE(xpv_clock_on))
		return 0;
	raw = xpv_clock_raw(&flags);
	last = atomic64_read(&xpv_clock_last);
	jump = raw + READ_ONCE(xpv_clock_offset) - last;
	WRITE_ONCE(xpv_clock_offset, last - raw);
	return (s64)jump;
}

/* As Linux's xen_tsc_safe_clocksource but for Xen's TSC mode (the caller's CPUID leaf): the TSC
 * is invariant and not marked unstable. */
u32 xpv_shim_tsc_invariant(void)
{
	return boot_cpu_has(X86_FEATURE_CONSTANT_TSC) && boot_cpu_has(X86_FEATURE_NONSTOP_TSC) &&
	       !check_tsc_unstable();
}
