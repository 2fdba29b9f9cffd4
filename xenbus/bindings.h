/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xenbus (see scripts/Kbuild.bindgen): our C shims (helpers.c) over kernel
 * APIs that are macros, static inlines or need C structs with embedded kernel objects (the `xen`
 * bus type, its devices and their sysfs attributes, work items), plus module parameters.
 * Only what the Kbuild allowlist names is generated.
 */
#include <linux/types.h>

/* Module parameter selftest=0|1. */
int xpv_shim_param_selftest(void);
/* Exported by xen_platform: reads /proc/cmdline into buf, NUL-terminated: `xenbus.selftest=1` on the kernel command line
 * (which modprobe would pass, insmod does not). Returns the length or a negative errno. */
long xpv_shim_read_cmdline(char *buf, unsigned long len);

/* memremap(phys, len, MEMREMAP_WB) / memunmap: the xenstore ring page on HVM. NULL on failure. */
void *xpv_shim_memremap_wb(u64 phys, unsigned long len);
void xpv_shim_memunmap(void *addr);

/* Work items (DECLARE_WORK and alloc_ordered_workqueue are macros): the xenstore reader runs
 * xpv_xenbus_rx_work() (Rust) on an ordered workqueue "xenbus_rx", the watch dispatcher
 * xpv_xenbus_watch_work() on an ordered workqueue "xenbus_watch". */
int xpv_shim_wq_init(void);
void xpv_shim_rx_kick(void);
void xpv_shim_watch_kick(void);
/* Flushes and destroys both workqueues (after the event channel is unbound). */
void xpv_shim_wq_destroy(void);

/* Time: jiffies is a variable, HZ a macro; msleep for the self-test's polling. */
void xpv_shim_msleep(unsigned int ms);
unsigned long xpv_shim_jiffies(void);
u32 xpv_shim_hz(void);

/* The `xen` bus (struct bus_type with attribute groups and a uevent callback). */
int xpv_shim_bus_register(void);
void xpv_shim_bus_unregister(void);
/* Registers device "<devtype>-<id>" on the bus with the given attributes; returns an opaque handle
 * or NULL with *err set to a negative errno. The strings are copied. */
void *xpv_shim_dev_add(const char *devtype, const char *id, const char *nodename,
		       const char *otherend, int otherend_id, int *err);
/* Updates the state attribute (enum xenbus_state value) shown in sysfs. */
void xpv_shim_dev_set_state(void *dev, int state);
/* Unregisters and releases a device from xpv_shim_dev_add. */
void xpv_shim_dev_del(void *dev);
/* The device's struct device (given to frontends as the parent of their gendisk/net_device). */
void *xpv_shim_dev_device(void *dev);
/* A struct device_driver named `name` (the device type, "vbd", as Linux's) on the bus, without
 * bind/unbind files; NULL with *err set on failure. xpv_shim_driver_del unregisters and frees it
 * (devices still bound are unbound by the driver core first). */
void *xpv_shim_driver_add(const char *name, int *err);
void xpv_shim_driver_del(void *drv);
/* Records that `drv` drives `dev` (device_bind_driver under the device lock): sysfs links and a
 * KOBJ_BIND uevent; 0 or a negative errno. xpv_shim_dev_unbind undoes it (device_release_driver). */
int xpv_shim_dev_bind(void *dev, void *drv);
void xpv_shim_dev_unbind(void *dev);

/* Shutdown requests: orderly_poweroff(false) / orderly_reboot() (run poweroff_cmd/reboot_cmd),
 * and handle_sysrq(key) (0 if CONFIG_MAGIC_SYSRQ is off, else 1). */
void xpv_shim_poweroff(void);
void xpv_shim_reboot(void);
int xpv_shim_sysrq(int key);

/* /dev/xen/xenbus (xenbus_dev.c): registers the misc device "xen/xenbus" (mode 0600) and the
 * workqueue "xenbus_dev" that tears closed files down; deregistering removes the device, then
 * drains and destroys that workqueue. */
int xpv_shim_xbdev_register(void);
void xpv_shim_xbdev_deregister(void);
/* Wakes readers and pollers of an open file (its C part, as given to xpv_xbdev_open). */
void xpv_shim_xbdev_wake(void *cfile);
