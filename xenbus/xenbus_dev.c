// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/xen/xenbus: the file operations of the xenstore device of Linux's
 * drivers/xen/xenbus/xenbus_dev_frontend.c (a process writes struct xsd_sockmsg requests and
 * reads replies and watch events), as a misc device "xen/xenbus" (devtmpfs makes
 * /dev/xen/xenbus), mode 0600. The 6.12 `kernel` crate has no miscdevice abstraction, so the
 * glue is here; everything else (framing, validation, transactions, watches, the read queue) is
 * in xenbus_dev.rs.
 *
 * Lifetime: each open file has a struct xpv_xbdev_file (wait queue, teardown work, the Rust
 * state). The file's owner is THIS_MODULE, so the module cannot be unloaded while a file is
 * open. On the last close, ->release queues the teardown (abort the file's transactions,
 * remove its watches: xenstore requests that must not be cut short by the closing task's
 * pending SIGKILL) on our own workqueue, as Linux defers xenbus_file_free to a work item; the
 * module's exit removes the device first, then drains that workqueue, before the xenstore
 * connection goes away.
 */
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include "xpv_compat.h"
#include "bindings.h"

struct xpv_xbdev_file {
	wait_queue_head_t waitq;
	struct work_struct release_work;
	/* The Rust state (xenbus_dev.rs DevFile), owned by this file. */
	void *rs;
};

/* Implemented in Rust (xenbus_dev.rs). */
void *xpv_xbdev_open(void *cfile, int *err);
ssize_t xpv_xbdev_read(void *rs, char __user *buf, size_t len);
ssize_t xpv_xbdev_write(void *rs, const char __user *buf, size_t len);
int xpv_xbdev_readable(void *rs);
void xpv_xbdev_release(void *rs);

static struct workqueue_struct *xbdev_wq;

static int xbdev_open(struct inode *inode, struct file *filp)
{
	struct xpv_xbdev_file *f;
	int err = 0;

	stream_open(inode, filp);
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	init_waitqueue_head(&f->waitq);
	f->rs = xpv_xbdev_open(f, &err);
	if (!f->rs) {
		kfree(f);
		return err ? err : -ENOMEM;
	}
	filp->private_data = f;
	return 0;
}

/* Blocks (unless O_NONBLOCK) until something is queued, as Linux's xenbus_file_read. */
static ssize_t xbdev_read(struct file *filp, char __user *ubuf, size_t len, loff_t *ppos)
{
	struct xpv_xbdev_file *f = filp->private_data;
	ssize_t ret;
	int err;

	for (;;) {
		ret = xpv_xbdev_read(f->rs, ubuf, len);
		if (ret != -EAGAIN || (filp->f_flags & O_NONBLOCK))
			return ret;
		/* The condition only reads an atomic: no sleeping call in it. */
		err = wait_event_interruptible(f->waitq, xpv_xbdev_readable(f->rs));
		if (err)
			return err;
	}
}

static ssize_t xbdev_write(struct file *filp, const char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	struct xpv_xbdev_file *f = filp->private_data;

	return xpv_xbdev_write(f->rs, ubuf, len);
}

static __poll_t xbdev_poll(struct file *filp, poll_table *wait)
{
	struct xpv_xbdev_file *f = filp->private_data;

	poll_wait(filp, &f->waitq, wait);
	if (xpv_xbdev_readable(f->rs))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

static void xbdev_release_work(struct work_struct *w)
{
	struct xpv_xbdev_file *f = container_of(w, struct xpv_xbdev_file, release_work);

	xpv_xbdev_release(f->rs);
	kfree(f);
}

static int xbdev_release(struct inode *inode, struct file *filp)
{
	struct xpv_xbdev_file *f = filp->private_data;

	INIT_WORK(&f->release_work, xbdev_release_work);
	queue_work(xbdev_wq, &f->release_work);
	return 0;
}

static const struct file_operations xbdev_fops = {
	.owner = THIS_MODULE,
	.open = xbdev_open,
	.read = xbdev_read,
	.write = xbdev_write,
	.poll = xbdev_poll,
	.release = xbdev_release,
};

static struct miscdevice xbdev_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "xen/xenbus",
	.fops = &xbdev_fops,
	.mode = 0600,
};

int xpv_shim_xbdev_register(void)
{
	int err;

	xbdev_wq = alloc_workqueue("xenbus_dev", WQ_PERCPU, 0);
	if (!xbdev_wq)
		return -ENOMEM;
	err = misc_register(&xbdev_misc);
	if (err) {
		destroy_workqueue(xbdev_wq);
		xbdev_wq = NULL;
	}
	return err;
}

void xpv_shim_xbdev_deregister(void)
{
	misc_deregister(&xbdev_misc);
	/* Closed files whose teardown is still queued: finish it while xenstore is up. */
	destroy_workqueue(xbdev_wq);
	xbdev_wq = NULL;
}

void xpv_shim_xbdev_wake(void *cfile)
{
	struct xpv_xbdev_file *f = cfile;

	wake_up_interruptible(&f->waitq);
}
