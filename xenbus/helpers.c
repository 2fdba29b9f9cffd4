// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xenbus: shims for kernel macros and static inlines, the `xen` bus type with its device
 * structure and sysfs attributes (modelled on Linux's drivers/xen/xenbus/xenbus_probe.c), work
 * items, the module parameter, and the exports of the functions implemented in Rust (their Rust
 * signatures are declared once in xen_proto/src/abi.rs and abi_xenbus.rs).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/err.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/delay.h>
#include <linux/workqueue.h>
#include <linux/reboot.h>
#include <linux/sysrq.h>
#include "xpv_compat.h"
#include "bindings.h"

static int selftest;
module_param(selftest, int, 0444);
MODULE_PARM_DESC(selftest, "Run the xenstore self-tests at load (0/1)");

int xpv_shim_param_selftest(void)
{
	return selftest;
}

/* xpv_shim_read_cmdline() is exported by xen_platform (declared in bindings.h). */

void *xpv_shim_memremap_wb(u64 phys, unsigned long len)
{
	return memremap(phys, len, MEMREMAP_WB);
}

void xpv_shim_memunmap(void *addr)
{
	memunmap(addr);
}

unsigned long xpv_shim_jiffies(void)
{
	return jiffies;
}

void xpv_shim_msleep(unsigned int ms)
{
	msleep(ms);
}

u32 xpv_shim_hz(void)
{
	return HZ;
}

/* --- work items */

/* Implemented in Rust (xs.rs). */
void xpv_xenbus_rx_work(void);
void xpv_xenbus_watch_work(void);

static void rx_work_fn(struct work_struct *w)
{
	xpv_xenbus_rx_work();
}

static void watch_work_fn(struct work_struct *w)
{
	xpv_xenbus_watch_work();
}

static DECLARE_WORK(rx_work, rx_work_fn);
static DECLARE_WORK(watch_work, watch_work_fn);
static struct workqueue_struct *rx_wq, *watch_wq;

int xpv_shim_wq_init(void)
{
	rx_wq = alloc_ordered_workqueue("xenbus_rx", WQ_MEM_RECLAIM | WQ_HIGHPRI);
	watch_wq = alloc_ordered_workqueue("xenbus_watch", 0);
	if (!rx_wq || !watch_wq) {
		xpv_shim_wq_destroy();
		return -ENOMEM;
	}
	return 0;
}

void xpv_shim_rx_kick(void)
{
	if (rx_wq)
		queue_work(rx_wq, &rx_work);
}

void xpv_shim_watch_kick(void)
{
	if (watch_wq)
		queue_work(watch_wq, &watch_work);
}

void xpv_shim_wq_destroy(void)
{
	struct workqueue_struct *r = rx_wq, *w = watch_wq;

	rx_wq = NULL;
	watch_wq = NULL;
	if (r)
		destroy_workqueue(r);
	if (w)
		destroy_workqueue(w);
}

/* --- the xen bus */

#define XPV_NODENAME_LEN 128
#define XPV_DEVTYPE_LEN 32

struct xpv_xb_device {
	struct device dev;
	char nodename[XPV_NODENAME_LEN];
	char devtype[XPV_DEVTYPE_LEN];
	char otherend[XPV_NODENAME_LEN];
	int otherend_id;
	int state;
};

#define to_xb(d) container_of(d, struct xpv_xb_device, dev)

/* Names as in Linux's xenbus_strstate() (include/xen/interface/io/xenbus.h values 0..8). */
static const char *const xb_state_names[] = {
	"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
	"Closing", "Closed", "Reconfiguring", "Reconfigured",
};

static ssize_t nodename_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_xb(dev)->nodename);
}
static DEVICE_ATTR_RO(nodename);

static ssize_t devtype_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_xb(dev)->devtype);
}
static DEVICE_ATTR_RO(devtype);

static ssize_t modalias_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "xen:%s\n", to_xb(dev)->devtype);
}
static DEVICE_ATTR_RO(modalias);

static ssize_t state_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	int s = READ_ONCE(to_xb(dev)->state);

	if (s < 0 || s >= (int)ARRAY_SIZE(xb_state_names))
		return sysfs_emit(buf, "Invalid\n");
	return sysfs_emit(buf, "%s\n", xb_state_names[s]);
}
static DEVICE_ATTR_RO(state);

static ssize_t otherend_id_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", to_xb(dev)->otherend_id);
}
static DEVICE_ATTR_RO(otherend_id);

static ssize_t otherend_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", to_xb(dev)->otherend);
}
static DEVICE_ATTR_RO(otherend);

static struct attribute *xpv_xb_dev_attrs[] = {
	&dev_attr_nodename.attr,
	&dev_attr_devtype.attr,
	&dev_attr_modalias.attr,
	&dev_attr_state.attr,
	&dev_attr_otherend_id.attr,
	&dev_attr_otherend.attr,
	NULL,
};
ATTRIBUTE_GROUPS(xpv_xb_dev);

/* As Linux's xenbus_uevent_frontend. */
static int xpv_xb_uevent(const struct device *dev, struct kobj_uevent_env *env)
{
	const struct xpv_xb_device *d = container_of(dev, struct xpv_xb_device, dev);

	if (add_uevent_var(env, "MODALIAS=xen:%s", d->devtype))
		return -ENOMEM;
	if (add_uevent_var(env, "XENBUS_TYPE=%s", d->devtype))
		return -ENOMEM;
	if (add_uevent_var(env, "XENBUS_PATH=%s", d->nodename))
		return -ENOMEM;
	return 0;
}

/*
 * Frontend drivers are bound by xenbus itself (frontend.rs), not by the driver core's matching:
 * match() never matches, and a successful probe records the binding with device_bind_driver() so
 * that sysfs shows it as Linux's does (/sys/bus/xen/drivers/vbd/vbd-51712, the device's `driver`
 * link, DRIVER= in uevents, ethtool's driver and bus-info).
 */
static int xpv_xb_match(struct device *dev, const struct device_driver *drv)
{
	return 0;
}

static const struct bus_type xpv_xen_bus = {
	.name = "xen",
	.match = xpv_xb_match,
	.dev_groups = xpv_xb_dev_groups,
	.uevent = xpv_xb_uevent,
};

int xpv_shim_bus_register(void)
{
	return bus_register(&xpv_xen_bus);
}

void xpv_shim_bus_unregister(void)
{
	bus_unregister(&xpv_xen_bus);
}

static void xpv_xb_release(struct device *dev)
{
	kfree(to_xb(dev));
}

void *xpv_shim_dev_add(const char *devtype, const char *id, const char *nodename,
		       const char *otherend, int otherend_id, int *err)
{
	struct xpv_xb_device *d = kzalloc(sizeof(*d), GFP_KERNEL);
	int ret;

	if (!d) {
		*err = -ENOMEM;
		return NULL;
	}
	strscpy(d->devtype, devtype, sizeof(d->devtype));
	strscpy(d->nodename, nodename, sizeof(d->nodename));
	strscpy(d->otherend, otherend, sizeof(d->otherend));
	d->otherend_id = otherend_id;
	d->state = 1; /* XenbusStateInitialising */
	d->dev.bus = &xpv_xen_bus;
	d->dev.release = xpv_xb_release;
	device_initialize(&d->dev);
	ret = dev_set_name(&d->dev, "%s-%s", devtype, id);
	if (!ret)
		ret = device_add(&d->dev);
	if (ret) {
		put_device(&d->dev);
		*err = ret;
		return NULL;
	}
	*err = 0;
	return d;
}

void xpv_shim_dev_set_state(void *dev, int state)
{
	struct xpv_xb_device *d = dev;

	WRITE_ONCE(d->state, state);
}

void xpv_shim_dev_del(void *dev)
{
	struct xpv_xb_device *d = dev;

	device_unregister(&d->dev);
}

void *xpv_shim_dev_device(void *dev)
{
	struct xpv_xb_device *d = dev;

	return &d->dev;
}

struct xpv_xb_driver {
	struct device_driver drv;
	char name[32];
};

void *xpv_shim_driver_add(const char *name, int *err)
{
	struct xpv_xb_driver *x = kzalloc(sizeof(*x), GFP_KERNEL);
	int ret;

	if (!x) {
		*err = -ENOMEM;
		return NULL;
	}
	strscpy(x->name, name, sizeof(x->name));
	x->drv.name = x->name;
	x->drv.bus = &xpv_xen_bus;
	/* No bind/unbind files: binding is xenbus's (frontend.rs), never user space's. */
	x->drv.suppress_bind_attrs = true;
	ret = driver_register(&x->drv);
	if (ret) {
		kfree(x);
		*err = ret;
		return NULL;
	}
	*err = 0;
	return x;
}

void xpv_shim_driver_del(void *drv)
{
	struct xpv_xb_driver *x = drv;

	driver_unregister(&x->drv);
	kfree(x);
}

int xpv_shim_dev_bind(void *dev, void *drv)
{
	struct xpv_xb_device *d = dev;
	struct xpv_xb_driver *x = drv;
	int ret;

	device_lock(&d->dev);
	d->dev.driver = &x->drv;
	ret = device_bind_driver(&d->dev);
	if (ret)
		d->dev.driver = NULL;
	device_unlock(&d->dev);
	return ret;
}

void xpv_shim_dev_unbind(void *dev)
{
	struct xpv_xb_device *d = dev;

	/* Takes the device lock; a no-op if no driver is bound. */
	device_release_driver(&d->dev);
}

/* --- control */

void xpv_shim_poweroff(void)
{
	orderly_poweroff(false);
}

void xpv_shim_reboot(void)
{
	orderly_reboot();
}

int xpv_shim_sysrq(int key)
{
#ifdef CONFIG_MAGIC_SYSRQ
	handle_sysrq(key);
	return 1;
#else
	return 0;
#endif
}

/* The frontend driver API (xen_proto/src/abi_xenbus.rs), implemented in frontend.rs. */
int xpv_xenbus_register_frontend(const void *drv);
void xpv_xenbus_unregister_frontend(const void *drv);
int xpv_xenbus_dev_info(void *dev, void *info);
void *xpv_xenbus_dev_device(void *dev);
int xpv_xenbus_dev_read(void *dev, u32 otherend, const u8 *node, size_t node_len, u8 *buf,
			size_t buf_len, size_t *out_len);
int xpv_xenbus_dev_write(void *dev, u32 tx, const u8 *node, size_t node_len, const u8 *value,
			 size_t value_len);
int xpv_xenbus_switch_state(void *dev, u32 state);
void xpv_xenbus_dev_fatal(void *dev, int err, const u8 *msg, size_t msg_len);
int xpv_xenbus_wait_otherend(void *dev, u32 mask, u32 timeout_ms, u32 *state);
int xpv_xenbus_transaction_start(u32 *tx);
int xpv_xenbus_transaction_end(u32 tx, u32 commit);
int xpv_xenbus_read(const u8 *path, size_t path_len, u8 *buf, size_t buf_len, size_t *out_len);
int xpv_xenbus_watch(const u8 *path, size_t path_len, void (*cb)(const u8 *, size_t, void *),
		     void *data, u64 *token);
void xpv_xenbus_unwatch(const u8 *path, size_t path_len, u64 token);
EXPORT_SYMBOL_GPL(xpv_xenbus_register_frontend);
EXPORT_SYMBOL_GPL(xpv_xenbus_unregister_frontend);
EXPORT_SYMBOL_GPL(xpv_xenbus_dev_info);
EXPORT_SYMBOL_GPL(xpv_xenbus_dev_device);
EXPORT_SYMBOL_GPL(xpv_xenbus_dev_read);
EXPORT_SYMBOL_GPL(xpv_xenbus_dev_write);
EXPORT_SYMBOL_GPL(xpv_xenbus_switch_state);
EXPORT_SYMBOL_GPL(xpv_xenbus_dev_fatal);
EXPORT_SYMBOL_GPL(xpv_xenbus_wait_otherend);
EXPORT_SYMBOL_GPL(xpv_xenbus_transaction_start);
EXPORT_SYMBOL_GPL(xpv_xenbus_transaction_end);
EXPORT_SYMBOL_GPL(xpv_xenbus_read);
EXPORT_SYMBOL_GPL(xpv_xenbus_watch);
EXPORT_SYMBOL_GPL(xpv_xenbus_unwatch);
