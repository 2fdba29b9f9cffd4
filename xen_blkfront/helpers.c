// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xen_blkfront: shims for the static inlines and macros of the block layer (declared
 * in bindings.h), the blk_mq_ops table that calls into Rust, the block_device_operations (they
 * need THIS_MODULE) and the module parameters (Linux's names and meanings).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/delay.h>
#include <linux/spinlock.h>
#include <linux/cpumask.h>
#include "xpv_compat.h"
#include "bindings.h"

static unsigned int max_queues;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues, "Maximum number of hardware queues/rings used per virtual disk (default 4; never more than the number of CPUs)");
static unsigned int max_ring_page_order;
module_param(max_ring_page_order, uint, 0444);
MODULE_PARM_DESC(max_ring_page_order, "Maximum order of pages to be used for the shared ring");
static unsigned int max_indirect_segments = 32;
module_param(max_indirect_segments, uint, 0444);
MODULE_PARM_DESC(max_indirect_segments, "Maximum amount of segments in indirect requests (default is 32)");
static bool feature_persistent = true;
module_param(feature_persistent, bool, 0644);
MODULE_PARM_DESC(feature_persistent, "Enables the persistent grants feature");
/* Unlike Linux (default true) the backend is not trusted unless asked for. Read at connect. */
static bool trusted;
module_param(trusted, bool, 0644);
MODULE_PARM_DESC(trusted, "Is the backend trusted (then, without persistent grants, request pages are granted directly instead of bounced; also needs the toolstack's 'trusted' key, default 1)");

void xpv_shim_param_set(unsigned int which, unsigned int value)
{
	switch (which) {
	case 0:
		max_queues = value;
		break;
	case 1:
		max_ring_page_order = value;
		break;
	case 2:
		max_indirect_segments = value;
		break;
	case 3:
		feature_persistent = !!value;
		break;
	case 4:
		trusted = !!value;
		break;
	}
}

unsigned int xpv_shim_param_max_queues(void)
{
	/* As Linux: default 4, capped to the number of CPUs (so is blk-mq's nr_hw_queues). */
	unsigned int n = max_queues ? max_queues : 4;

	return min_t(unsigned int, n, nr_cpu_ids);
}

unsigned int xpv_shim_param_max_ring_page_order(void)
{
	return max_ring_page_order;
}

unsigned int xpv_shim_param_max_indirect_segments(void)
{
	return max_indirect_segments;
}

unsigned int xpv_shim_param_feature_persistent(void)
{
	return READ_ONCE(feature_persistent);
}

unsigned int xpv_shim_param_trusted(void)
{
	return READ_ONCE(trusted);
}

struct xpv_pdu {
	blk_status_t status;
};

static blk_status_t xpv_status(int s)
{
	switch (s) {
	case XPV_STS_OK:
		return BLK_STS_OK;
	case XPV_STS_RESOURCE:
		return BLK_STS_DEV_RESOURCE;
	case XPV_STS_NOTSUPP:
		return BLK_STS_NOTSUPP;
	default:
		return BLK_STS_IOERR;
	}
}

static blk_status_t xpv_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	int s;

	blk_mq_start_request(bd->rq);
	s = xpv_blkfront_queue_rq(hctx->queue->queuedata, hctx->queue_num, bd->rq);
	return xpv_status(s);
}

static void xpv_complete_rq(struct request *rq)
{
	struct xpv_pdu *pdu = blk_mq_rq_to_pdu(rq);

	blk_mq_end_request(rq, pdu->status);
}

static enum blk_eh_timer_return xpv_timeout_rq(struct request *rq)
{
	return xpv_blkfront_rq_timeout(rq->q->queuedata) ? BLK_EH_DONE : BLK_EH_RESET_TIMER;
}

static const struct blk_mq_ops xpv_mq_ops = {
	.queue_rq = xpv_queue_rq,
	.complete = xpv_complete_rq,
	.timeout = xpv_timeout_rq,
};

static const struct block_device_operations xpv_fops = {
	.owner = THIS_MODULE,
};

struct blk_mq_tag_set *xpv_shim_tag_set_new(unsigned int nr_hw_queues, unsigned int depth,
					    int *err)
{
	struct blk_mq_tag_set *set = kzalloc(sizeof(*set), GFP_KERNEL);

	if (!set) {
		*err = -ENOMEM;
		return NULL;
	}
	set->ops = &xpv_mq_ops;
	set->nr_hw_queues = nr_hw_queues;
	set->queue_depth = depth;
	set->numa_node = NUMA_NO_NODE;
	set->flags = BLK_MQ_F_SHOULD_MERGE;
	set->cmd_size = sizeof(struct xpv_pdu);
	*err = blk_mq_alloc_tag_set(set);
	if (*err) {
		kfree(set);
		return NULL;
	}
	return set;
}

void xpv_shim_tag_set_free(struct blk_mq_tag_set *set)
{
	blk_mq_free_tag_set(set);
	kfree(set);
}

struct gendisk *xpv_shim_alloc_disk(struct blk_mq_tag_set *set, const struct xpv_disk_limits *l,
				    void *queuedata, int *err)
{
	struct queue_limits lim = {};
	struct gendisk *gd;

	lim.logical_block_size = l->logical_block_size;
	lim.physical_block_size = l->physical_block_size;
	lim.max_hw_sectors = l->max_hw_sectors;
	lim.max_segments = l->max_segments;
	lim.max_segment_size = PAGE_SIZE;
	lim.seg_boundary_mask = PAGE_SIZE - 1;
	lim.dma_alignment = 511;
	if (l->write_cache)
		lim.features |= BLK_FEAT_WRITE_CACHE;
	if (l->fua)
		lim.features |= BLK_FEAT_FUA;
	if (l->rotational)
		lim.features |= BLK_FEAT_ROTATIONAL;
	if (l->discard) {
		lim.max_hw_discard_sectors = UINT_MAX;
		if (l->discard_granularity)
			lim.discard_granularity = l->discard_granularity;
		lim.discard_alignment = l->discard_alignment;
		if (l->secure_erase)
			lim.max_secure_erase_sectors = UINT_MAX;
	}
	gd = blk_mq_alloc_disk(set, &lim, queuedata);
	if (IS_ERR(gd)) {
		*err = PTR_ERR(gd);
		return NULL;
	}
	*err = 0;
	return gd;
}

void xpv_shim_disk_setup(struct gendisk *gd, unsigned int major, unsigned int first_minor,
			 unsigned int minors, const char *name, unsigned int removable,
			 unsigned int cdrom)
{
	gd->major = major;
	gd->first_minor = first_minor;
	gd->minors = minors;
	gd->fops = &xpv_fops;
	strscpy(gd->disk_name, name, DISK_NAME_LEN);
	if (removable)
		gd->flags |= GENHD_FL_REMOVABLE;
	if (cdrom)
		gd->flags |= GENHD_FL_NO_PART;
}

int xpv_shim_add_disk(void *parent, struct gendisk *gd)
{
	return device_add_disk(parent, gd, NULL);
}

void xpv_shim_set_capacity(struct gendisk *gd, u64 sectors, int notify)
{
	if (notify)
		set_capacity_and_notify(gd, sectors);
	else
		set_capacity(gd, sectors);
}

u64 xpv_shim_get_capacity(struct gendisk *gd)
{
	return get_capacity(gd);
}

void xpv_shim_set_ro(struct gendisk *gd, int ro)
{
	set_disk_ro(gd, ro);
}

/* del_gendisk + put_disk: new I/O fails, in-flight I/O is waited for. */
void xpv_shim_remove_disk(struct gendisk *gd)
{
	del_gendisk(gd);
	put_disk(gd);
}

void xpv_shim_disk_quiesce(struct gendisk *gd)
{
	blk_mq_quiesce_queue(gd->queue);
}

void xpv_shim_disk_unquiesce(struct gendisk *gd)
{
	blk_mq_unquiesce_queue(gd->queue);
	blk_mq_kick_requeue_list(gd->queue);
}

void xpv_shim_rq_requeue(struct request *rq)
{
	blk_mq_requeue_request(rq, false);
}

/* For a disk that was never added. */
void xpv_shim_put_disk(struct gendisk *gd)
{
	put_disk(gd);
}

unsigned int xpv_shim_rq_op(struct request *rq, int *fua)
{
	*fua = !!(rq->cmd_flags & REQ_FUA);
	switch (req_op(rq)) {
	case REQ_OP_READ:
		return XPV_RQ_READ;
	case REQ_OP_WRITE:
		return XPV_RQ_WRITE;
	case REQ_OP_FLUSH:
		return XPV_RQ_FLUSH;
	case REQ_OP_DISCARD:
		return XPV_RQ_DISCARD;
	case REQ_OP_SECURE_ERASE:
		return XPV_RQ_SECURE_ERASE;
	default:
		return XPV_RQ_OTHER;
	}
}

int xpv_shim_rq_tag(struct request *rq)
{
	return rq->tag;
}

u64 xpv_shim_rq_pos(struct request *rq)
{
	return blk_rq_pos(rq);
}

unsigned int xpv_shim_rq_bytes(struct request *rq)
{
	return blk_rq_bytes(rq);
}

/*
 * Copies the request's data to (to_pages) or from the bounce pages, packed linearly: byte i of
 * the request is byte i % PAGE_SIZE of pages[i / PAGE_SIZE]. Returns 0, or -EINVAL if the data
 * does not fit in npages pages (nothing past them is touched).
 */
int xpv_shim_rq_copy(struct request *rq, void *const *pages, unsigned int npages, int to_pages)
{
	struct req_iterator iter;
	struct bio_vec bv;
	size_t off = 0;

	rq_for_each_segment(bv, rq, iter) {
		unsigned int done = 0;

		while (done < bv.bv_len) {
			size_t p = off / PAGE_SIZE, po = off % PAGE_SIZE;
			size_t n = min_t(size_t, bv.bv_len - done, PAGE_SIZE - po);
			char *va;

			if (p >= npages)
				return -EINVAL;
			va = kmap_local_page(bv.bv_page);
			if (to_pages)
				memcpy((char *)pages[p] + po, va + bv.bv_offset + done, n);
			else
				memcpy(va + bv.bv_offset + done, (char *)pages[p] + po, n);
			kunmap_local(va);
			if (!to_pages)
				flush_dcache_page(bv.bv_page);
			done += n;
			off += n;
		}
	}
	return 0;
}

int xpv_shim_rq_segments(struct request *rq, struct xpv_seg *out, unsigned int max)
{
	struct req_iterator iter;
	struct bio_vec bv;
	unsigned int n = 0;

	rq_for_each_segment(bv, rq, iter) {
		if (n >= max)
			return -EINVAL;
		out[n].gfn = page_to_pfn(bv.bv_page);
		out[n].offset = bv.bv_offset;
		out[n].len = bv.bv_len;
		n++;
	}
	return n;
}

void xpv_shim_complete(struct request *rq, int status)
{
	struct xpv_pdu *pdu = blk_mq_rq_to_pdu(rq);

	pdu->status = xpv_status(status);
	blk_mq_complete_request(rq);
}

void *xpv_shim_lock_new(void)
{
	spinlock_t *l = kmalloc(sizeof(*l), GFP_KERNEL);

	if (l)
		spin_lock_init(l);
	return l;
}

void xpv_shim_lock_free(void *lock)
{
	kfree(lock);
}

unsigned long xpv_shim_lock(void *lock)
{
	unsigned long flags;

	spin_lock_irqsave((spinlock_t *)lock, flags);
	return flags;
}

void xpv_shim_unlock(void *lock, unsigned long flags)
{
	spin_unlock_irqrestore((spinlock_t *)lock, flags);
}

void xpv_shim_msleep(unsigned int ms)
{
	msleep(ms);
}
