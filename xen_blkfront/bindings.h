/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xen_blkfront (see scripts/Kbuild.bindgen): the block-layer functions we
 * call directly and our C shims (helpers.c) for the static inlines and macros of blk-mq
 * (blk_mq_alloc_disk, rq_for_each_segment, req_op, ...) and for the pieces that must be C
 * (THIS_MODULE in the block_device_operations, the blk_mq_ops table that calls back into Rust,
 * module parameters). The Rust side sees gendisk, request and tag set as opaque pointers.
 */
#include <linux/blkdev.h>
#include <linux/blk-mq.h>

/* What a request asks for (xpv_shim_rq_op). */
enum xpv_rq_op {
	XPV_RQ_READ = 0,
	XPV_RQ_WRITE = 1,
	XPV_RQ_FLUSH = 2,
	XPV_RQ_DISCARD = 3,
	XPV_RQ_SECURE_ERASE = 4,
	XPV_RQ_OTHER = 5,
};

/* Completion status passed to xpv_shim_complete / returned by xpv_blkfront_queue_rq. */
enum xpv_status {
	XPV_STS_OK = 0,
	XPV_STS_IOERR = 1,
	XPV_STS_RESOURCE = 2,
	XPV_STS_NOTSUPP = 3,
};

/* Queue limits of a new disk (xpv_shim_alloc_disk). Sizes in bytes unless said otherwise. */
struct xpv_disk_limits {
	unsigned int logical_block_size;
	unsigned int physical_block_size;
	unsigned int max_hw_sectors;	/* 512-byte sectors */
	unsigned int max_segments;
	unsigned int write_cache;	/* BLK_FEAT_WRITE_CACHE */
	unsigned int fua;		/* BLK_FEAT_FUA */
	unsigned int discard;		/* max_hw_discard_sectors = UINT_MAX */
	unsigned int secure_erase;	/* max_secure_erase_sectors = UINT_MAX */
	unsigned int discard_granularity;
	unsigned int discard_alignment;
	unsigned int rotational;
};

/* Implemented in Rust (blkfront_main.rs): the queue_rq of hw queue `hwq` of the disk whose
 * queuedata is `data`; the request was started. Returns an enum xpv_status. */
int xpv_blkfront_queue_rq(void *data, unsigned int hwq, struct request *rq);
/* Implemented in Rust: a request of the disk whose queuedata is `data` timed out (blk-mq's
 * timeout work, process context). Returns 1 if it failed the device's in-flight requests (this
 * one included: BLK_EH_DONE), 0 to wait on (BLK_EH_RESET_TIMER). */
int xpv_blkfront_rq_timeout(void *data);

struct blk_mq_tag_set *xpv_shim_tag_set_new(unsigned int nr_hw_queues, unsigned int depth,
					    int *err);
void xpv_shim_tag_set_free(struct blk_mq_tag_set *set);
struct gendisk *xpv_shim_alloc_disk(struct blk_mq_tag_set *set, const struct xpv_disk_limits *l,
				    void *queuedata, int *err);
void xpv_shim_disk_setup(struct gendisk *gd, unsigned int major, unsigned int first_minor,
			 unsigned int minors, const char *name, unsigned int flags_removable,
			 unsigned int cdrom);
/* device_add_disk(parent, gd, NULL); parent: the xen bus device (a struct device *) or NULL. */
int xpv_shim_add_disk(void *parent, struct gendisk *gd);
void xpv_shim_set_capacity(struct gendisk *gd, u64 sectors, int notify);
u64 xpv_shim_get_capacity(struct gendisk *gd);
void xpv_shim_set_ro(struct gendisk *gd, int ro);
void xpv_shim_remove_disk(struct gendisk *gd);
void xpv_shim_put_disk(struct gendisk *gd);

unsigned int xpv_shim_rq_op(struct request *rq, int *fua);
int xpv_shim_rq_tag(struct request *rq);
u64 xpv_shim_rq_pos(struct request *rq);
unsigned int xpv_shim_rq_bytes(struct request *rq);
int xpv_shim_rq_copy(struct request *rq, void *const *pages, unsigned int npages, int to_pages);
void xpv_shim_complete(struct request *rq, int status);
/* Suspend/resume (save, migration): blk_mq_quiesce_queue (no queue_rq after it returns),
 * blk_mq_unquiesce_queue + blk_mq_kick_requeue_list, and blk_mq_requeue_request(rq, false) of a
 * started request (dispatched again once the queue runs). */
void xpv_shim_disk_quiesce(struct gendisk *gd);
void xpv_shim_disk_unquiesce(struct gendisk *gd);
void xpv_shim_rq_requeue(struct request *rq);

/* One data segment of a request: a page (its frame number) and the bytes in it. */
struct xpv_seg {
	u64 gfn;
	unsigned int offset;
	unsigned int len;
};
/* The request's data segments (single-page bvecs) into out[0..max]; returns their number, or
 * -EINVAL if there are more than max. */
int xpv_shim_rq_segments(struct request *rq, struct xpv_seg *out, unsigned int max);

void *xpv_shim_lock_new(void);
void xpv_shim_lock_free(void *lock);
unsigned long xpv_shim_lock(void *lock);
void xpv_shim_unlock(void *lock, unsigned long flags);

void xpv_shim_msleep(unsigned int ms);

/* Exported by xen_platform: reads /proc/cmdline into buf; returns the length or -errno. */
long xpv_shim_read_cmdline(char *buf, unsigned long len);
/* Sets parameter `which` (0 max_queues, 1 max_ring_page_order, 2 max_indirect_segments,
 * 3 feature_persistent, 4 trusted) from the kernel command line. */
void xpv_shim_param_set(unsigned int which, unsigned int value);
unsigned int xpv_shim_param_max_queues(void);
unsigned int xpv_shim_param_max_ring_page_order(void);
unsigned int xpv_shim_param_max_indirect_segments(void);
unsigned int xpv_shim_param_feature_persistent(void);
unsigned int xpv_shim_param_trusted(void);
