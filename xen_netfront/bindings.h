/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of bindgen for xen_netfront (see scripts/Kbuild.bindgen): our C shims (helpers.c) over the
 * net_device, NAPI and skb APIs the 6.12 `kernel` crate lacks. The C side owns the kernel objects
 * (the net_device with its private area: NAPI contexts, tx locks, negotiated features) and calls
 * back into Rust (xpv_nf_rs_*, defined in netfront_main.rs) for everything the protocol decides.
 * Only what the Kbuild allowlist names is generated.
 */
#include <linux/types.h>

struct net_device;
struct sk_buff;

/* Queues per device the C side has room for (NAPI contexts, tx locks). */
#define XPV_NF_MAX_QUEUES 8

/* Negotiated features (xpv_nf_set_features), NETIF_F_* equivalents the device may offer. */
#define XPV_NF_F_SG (1u << 0)
#define XPV_NF_F_IPV4_CSUM (1u << 1)
#define XPV_NF_F_IPV6_CSUM (1u << 2)
#define XPV_NF_F_TSO (1u << 3)
#define XPV_NF_F_TSO6 (1u << 4)

/* Allocates an Ethernet net_device ("eth%d") with room for XPV_NF_MAX_QUEUES queues (one in use)
 * and their NAPI contexts. NULL on failure. Not registered yet (see xpv_nf_register). */
struct net_device *xpv_nf_alloc(const u8 *mac);
/* netif_set_real_num_{tx,rx}_queues (rtnl held); 0 or a negative errno. */
int xpv_nf_set_queues(struct net_device *dev, u32 nq);
/* Module parameter max_queues (0: default). */
u32 xpv_nf_param_max_queues(void);
/* Module parameter trusted (0 or 1). */
u32 xpv_nf_param_trusted(void);
/* Sets a module parameter from the kernel command line: 0 max_queues, 1 trusted. */
void xpv_nf_param_set(u32 which, u32 value);
/* Exported by xen_platform: reads /proc/cmdline into buf, NUL-terminated; the length or a
 * negative errno. */
long xpv_shim_read_cmdline(char *buf, unsigned long len);
/* Sets `rs` (handed back to every xpv_nf_rs_* callback), SET_NETDEV_DEV(dev, parent) (parent:
 * the xen bus device, a struct device *), then register_netdev; 0 or a negative errno (then
 * `rs` is cleared again). */
int xpv_nf_register(struct net_device *dev, void *parent, void *rs);
/* unregister_netdev (stops the device first, waiting for its callbacks), every NAPI context
 * disabled, `rs` cleared: no xpv_nf_rs_* callback runs or comes after it. */
void xpv_nf_unregister(struct net_device *dev);
/* Removes the NAPI contexts and frees the device (after unregister, or if never registered). */
void xpv_nf_free(struct net_device *dev);
/* The interface name ("eth0"), valid while the device is registered. */
const char *xpv_nf_name(struct net_device *dev);
/* Whether the interface is up (netif_running). */
int xpv_nf_running(struct net_device *dev);
/* rtnl_lock / rtnl_unlock: serialise connect/disconnect against open/stop. */
void xpv_nf_rtnl_lock(void);
void xpv_nf_rtnl_unlock(void);
/* Records the negotiated features (XPV_NF_F_*) and re-evaluates dev->features (rtnl held). */
void xpv_nf_set_features(struct net_device *dev, u32 feats);
/* The features currently enabled (XPV_NF_F_*), e.g. after ethtool -K. */
u32 xpv_nf_active_features(struct net_device *dev);
/* Carrier on/off. */
void xpv_nf_carrier(struct net_device *dev, int on);
/* netif_tx_disable (stops all queues and waits for running xmits) and netif_tx_start_all_queues. */
void xpv_nf_tx_disable(struct net_device *dev);
void xpv_nf_tx_start_all(struct net_device *dev);
/* Stop/wake/stopped? of tx queue `q`. */
void xpv_nf_txq_stop(struct net_device *dev, u32 q);
void xpv_nf_txq_wake(struct net_device *dev, u32 q);
int xpv_nf_txq_stopped(struct net_device *dev, u32 q);
/* The per-queue tx spinlock (bh-safe), protecting the tx ring against xmit vs. completion. */
void xpv_nf_tx_lock(struct net_device *dev, u32 q);
void xpv_nf_tx_unlock(struct net_device *dev, u32 q);
/* NAPI of queue q: schedule (any context), complete_done (returns non-zero if the poll may
 * stop: then re-arm). */
/* napi_enable of queue q unless enabled already; napi_disable of every enabled queue (each
 * waits for its running poll). */
void xpv_nf_napi_enable(struct net_device *dev, u32 q);
void xpv_nf_napi_disable_all(struct net_device *dev);
void xpv_nf_napi_schedule(struct net_device *dev, u32 q);
int xpv_nf_napi_complete(struct net_device *dev, u32 q, int work);

/* What xmit needs to know about an skb. */
struct xpv_nf_skb_info {
	u32 len;        /* bytes, whole packet */
	u32 gso_type;   /* skb_shinfo(skb)->gso_type (SKB_GSO_* bits) if GSO, else 0 */
	u16 gso_size;   /* MSS if GSO, else 0 */
	u8 ip_summed;   /* skb->ip_summed (CHECKSUM_*) */
};
void xpv_nf_skb_info(struct sk_buff *skb, struct xpv_nf_skb_info *info);
/* skb_copy_bits(skb, off, dst, len): 0 or a negative errno. */
int xpv_nf_skb_copy(struct sk_buff *skb, u32 off, void *dst, u32 len);
/* One piece of a packet that lies in one 4 KiB page: the page frame number (the gfn of an HVM
 * guest), the offset in that page and the length, in bytes. */
struct xpv_nf_chunk {
	u64 pfn;
	u32 off;
	u32 len;
};
/* The packet's bytes in order (linear head, then page fragments) as at most `max` chunks, each
 * inside one page; the number of chunks, or -E2BIG if more are needed (or the skb has a
 * frag_list). The chunk lengths add up to skb->len. */
int xpv_nf_skb_chunks(struct sk_buff *skb, struct xpv_nf_chunk *out, u32 max);
/* skb_get: one more reference to the skb (each freed by xpv_nf_skb_consume/drop). */
void xpv_nf_skb_get(struct sk_buff *skb);
/* skb_orphan: runs the skb's destructor now (its socket's send-buffer accounting), so that a
 * packet held until the backend answers does not count against TCP small queues meanwhile. */
void xpv_nf_skb_orphan(struct sk_buff *skb);
/* Frees an skb that was sent (consume) or dropped (kfree_skb); any context. */
void xpv_nf_skb_consume(struct sk_buff *skb);
void xpv_nf_skb_drop(struct sk_buff *skb);

/* rx: a new skb for queue q (napi_alloc_skb with room for the headers), NULL without memory. */
struct sk_buff *xpv_nf_rx_alloc(struct net_device *dev, u32 q);
/* rx pages (one per rx ring slot, granted writable to the backend): a zeroed page (GFP_ATOMIC
 * unless `may_sleep`; zeroed so that nothing of the kernel's reaches the backend, XSA-403) and
 * its guest frame number in *gfn, NULL without memory; its kernel address; freeing it. */
struct page *xpv_nf_rx_page_alloc(u32 may_sleep, u64 *gfn);
void *xpv_nf_rx_page_va(struct page *page);
void xpv_nf_rx_page_free(struct page *page);
/* Attaches bytes [off, off + len) of `page` (off + len <= 4096) to the skb: copied into the
 * linear area while it has room (the headers), the rest as a page fragment that takes over
 * the caller's reference to the page. Returns 1 if the page was attached (the skb owns it now),
 * 0 if every byte was copied (the page stays the caller's), -EINVAL for a bad range or -E2BIG
 * (too many fragments: the page stays the caller's). */
int xpv_nf_rx_attach(struct sk_buff *skb, struct page *page, u32 off, u32 len);
/* Hands a complete packet to the stack (GRO): sets skb->ip_summed to `ip_summed` (CHECKSUM_*)
 * and, if gso_size is not 0, its GSO size and `gso_type` (SKB_GSO_* bits); for CHECKSUM_PARTIAL
 * finds the checksum offsets (skb_checksum_setup, recomputing the pseudo-header sum if `recalc`).
 * Frees it and returns a negative errno if it is malformed (short, bad checksum offsets). */
int xpv_nf_rx_deliver(struct net_device *dev, u32 q, struct sk_buff *skb, u8 ip_summed, u8 recalc,
		      u16 gso_size, u32 gso_type);

/* Number of online CPUs. */
u32 xpv_nf_num_online_cpus(void);
