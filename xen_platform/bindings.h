/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xen_platform (see scripts/Kbuild.bindgen): the kernel APIs this module
 * calls that the 6.12 `kernel` crate does not wrap, plus our C shims for static inline functions,
 * macros and module parameters (implemented in helpers.c). Only what the Kbuild allowlist names is
 * generated.
 */
#include <linux/pci.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/delay.h>

/* pci_name() is static inline. */
const char *xpv_shim_pci_name(const struct pci_dev *pdev);
/* pci_resource_start()/pci_resource_len() are macros. */
u64 xpv_shim_pci_resource_start(struct pci_dev *pdev, int bar);
u64 xpv_shim_pci_resource_len(struct pci_dev *pdev, int bar);
/* Where the device sits and how it interrupts: segment (pci_domain_nr is static inline on x86),
 * bus number, devfn, interrupt pin (1 = INTA), Linux IRQ number. */
void xpv_shim_pci_location(struct pci_dev *pdev, u16 *segment, u8 *bus, u8 *devfn, u8 *pin,
			   u32 *irq);
/* Name of the driver bound to the first vendor:device present, if any (NULL: none bound or no
 * such device). */
const char *xpv_shim_pci_bound_driver(u32 vendor, u32 device, int *present);
/* Number of PCI devices of class (base << 8 | sub), and how many have a driver bound. */
int xpv_shim_pci_class_count(u32 class16, int *bound);
/* After QEMU dropped unplugged devices: removes (pci_stop_and_remove_bus_device_locked) the
 * PCI devices of class (base << 8 | sub) whose vendor id now reads 0xffff, as a hot-unplug would;
 * returns how many. */
int xpv_shim_remove_vanished_pci(u32 class16);
/* irq_set_affinity(irq, cpumask_of(cpu)): cpumask_of is a macro. */
int xpv_shim_irq_affinity_cpu(u32 irq, u32 cpu);

/* Port I/O (static inline). */
u8 xpv_shim_inb(u16 port);
u16 xpv_shim_inw(u16 port);
void xpv_shim_outw(u16 value, u16 port);
void xpv_shim_outl(u32 value, u16 port);

/* get_zeroed_page()/free_page() are macros; virt_to_pfn is static inline. */
unsigned long xpv_shim_get_zeroed_page(void);
void xpv_shim_free_page(unsigned long addr);
u64 xpv_shim_virt_to_pfn(unsigned long addr);

/* Time: jiffies is a variable, HZ a macro; msleep is a function. */
unsigned long xpv_shim_jiffies(void);
u32 xpv_shim_hz(void);

/* The deferred-EOI timer (timer_setup is a macro): calls xpv_eoi_timer_fired() (Rust). */
void xpv_shim_eoi_timer_init(void);
void xpv_shim_eoi_timer_arm(unsigned long expires);
void xpv_shim_eoi_timer_stop(void);

/* Per-vCPU upcall vectors: an interrupt allocated in x86_vector_domain on `cpu` alone (edge
 * flow, local APIC ack), requested with `handler(irq, dev)` and IRQF_NOBALANCING; returns the
 * IRQ number and its IDT vector in *vector, or a negative errno. Freed (free_irq +
 * irq_dispose_mapping) by xpv_shim_upcall_irq_free. */
int xpv_shim_upcall_irq_alloc(u32 cpu, irq_handler_t handler, const char *name, void *dev,
			      u32 *vector);
void xpv_shim_upcall_irq_free(u32 irq, void *dev);
u32 xpv_shim_smp_processor_id(void);
/* CPUID `leaf` executed on `cpu` (smp_call_function_single): regs = eax, ebx, ecx, edx. */
int xpv_shim_cpuid_on(u32 cpu, u32 leaf, u32 *regs);
/* cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, ...) with xpv_upcall_cpu_online/offline (events.rs),
 * called on each online CPU now and on CPUs coming and going; returns the dynamic state or a
 * negative errno. xpv_shim_cpuhp_remove(state) calls the offline callback on each online CPU. */
int xpv_shim_cpuhp_setup(void);
void xpv_shim_cpuhp_remove(int state);
/* The n-th online CPU (U32_MAX: none), and how many are online. */
u32 xpv_shim_nth_online_cpu(u32 n);
u32 xpv_shim_num_online_cpus(void);

/* The "xen" clocksource (clock.rs): CPU `cpu` reads the time record at `pvti` (NULL: vCPU 0's);
 * register with vCPU 0's record and a rating (0 or clocksource_register_hz's errno); unregister
 * (0, or -EBUSY if it cannot be replaced); at resume in a new domain (CPU 0, the machine stopped)
 * make the clock go on from its last value, returning how far Xen's record had moved from it (ns;
 * 0 if not registered); whether the TSC is invariant and not marked unstable. */
void xpv_shim_clock_set_cpu(u32 cpu, void *pvti);
int xpv_shim_clock_register(void *pvti0, u32 rating);
int xpv_shim_clock_unregister(void);
s64 xpv_shim_clock_resume(void);
u32 xpv_shim_tsc_invariant(void);

/* The grant allocator's lock (spin_lock_irqsave is a macro). */
unsigned long xpv_shim_gnttab_lock(void);
void xpv_shim_gnttab_unlock(unsigned long flags);

/* Module parameters (module_param is a macro): selftest=0|1, xen_emul_unplug=<string>. */
int xpv_shim_param_selftest(void);
/* Module parameter no_vector_callback=0|1. */
int xpv_shim_param_no_vector_callback(void);
const char *xpv_shim_param_emul_unplug(void);
/* Reads the kernel command line (/proc/cmdline: saved_command_line is not exported) into buf,
 * NUL-terminated. Returns the length or a negative errno. */
long xpv_shim_read_cmdline(char *buf, unsigned long len);
/* IS_ENABLED(CONFIG_XEN): the kernel has its own Xen support. */
int xpv_shim_kernel_has_xen(void);
/* Deferred reclaim (helpers.c): a last try, then leaks what is still mapped. */
void xpv_shim_pages_deferred_shutdown(void);

/* Suspend for save/restore/migration (manage.c's xen_suspend): stop_machine() runs
 * xpv_suspend_on_cpu0(data) (Rust) on CPU 0 with every other CPU stopped and interrupts off;
 * do_settimeofday64 from process context after. */
int xpv_shim_stop_machine_cpu0(void *data);
u64 xpv_shim_rdtsc(void);
int xpv_shim_settime(s64 sec, long nsec);
void xpv_shim_ktime_real(s64 *sec, long *nsec);
