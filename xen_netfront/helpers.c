// SPDX-License-Identifier: GPL-2.0
/*
 * C side of xen_netfront: the net_device with its operations, ethtool operations, NAPI contexts and
 * tx locks (kernel objects embedded in C structs), and shims for the static inline net/skb
 * functions, declared in bindings.h. The protocol lives in Rust: the operations below call the
 * xpv_nf_rs_* functions of netfront_main.rs with the device's Rust state.
 */
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/skbuff.h>
#include <linux/rtnetlink.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/cpumask.h>
#include <net/tcp.h>
#include "xpv_compat.h"
#include "bindings.h"

static unsigned int max_queues;
module_param(max_queues, uint, 0644);
MODULE_PARM_DESC(max_queues, "Maximum number of queues per virtual interface (0: min(8, online CPUs))");

u32 xpv_nf_param_max_queues(void)
{
	return max_queues;
}

/* Unlike Linux (default true) the backend is not trusted unless asked for. Read at connect. */
static bool trusted;
module_param(trusted, bool, 0644);
MODULE_PARM_DESC(trusted, "Is the backend trusted (then transmitted packets are granted in place instead of copied into bounce pages; also needs the toolstack's 'trusted' key, default 1)");

u32 xpv_nf_param_trusted(void)
{
	return READ_ONCE(trusted);
}

void xpv_nf_param_set(u32 which, u32 value)
{
	switch (which) {
	case 0:
		WRITE_ONCE(max_queues, value);
		break;
	case 1:
		WRITE_ONCE(trusted, value != 0);
		break;
	}
}

/* Implemented in Rust (netfront_main.rs). */
int xpv_nf_rs_open(void *rs);
void xpv_nf_rs_stop(void *rs);
int xpv_nf_rs_xmit(void *rs, struct sk_buff *skb, u32 q);
int xpv_nf_rs_poll(void *rs, u32 q, int budget);
/* Fills out[0..8]: rx_packets rx_bytes tx_packets tx_bytes rx_errors tx_errors rx_dropped tx_dropped. */
void xpv_nf_rs_stats(void *rs, u64 *out);
int xpv_nf_rs_stat_count(void *rs);
void xpv_nf_rs_stat_name(void *rs, int i, char *buf, u32 len);
u64 xpv_nf_rs_stat_value(void *rs, int i);

struct xpv_nf_priv {
	struct napi_struct napi[XPV_NF_MAX_QUEUES];
	spinlock_t tx_lock[XPV_NF_MAX_QUEUES];
	struct net_device *dev;
	void *rs;
	u32 nq;
	u32 neg; /* XPV_NF_F_* negotiated with the backend */
	/* NAPI contexts enabled (xpv_nf_napi_enable), so that all can be disabled at once. */
	DECLARE_BITMAP(napi_on, XPV_NF_MAX_QUEUES);
};

static struct xpv_nf_priv *priv_of(struct net_device *dev)
{
	return netdev_priv(dev);
}

static int xpv_nf_open(struct net_device *dev)
{
	return xpv_nf_rs_open(priv_of(dev)->rs);
}

static int xpv_nf_stop(struct net_device *dev)
{
	xpv_nf_rs_stop(priv_of(dev)->rs);
	return 0;
}

static netdev_tx_t xpv_nf_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	xpv_nf_rs_xmit(priv_of(dev)->rs, skb, skb_get_queue_mapping(skb));
	return NETDEV_TX_OK;
}

static void xpv_nf_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *s)
{
	u64 v[8] = {};

	xpv_nf_rs_stats(priv_of(dev)->rs, v);
	s->rx_packets = v[0];
	s->rx_bytes = v[1];
	s->tx_packets = v[2];
	s->tx_bytes = v[3];
	s->rx_errors = v[4];
	s->tx_errors = v[5];
	s->rx_dropped = v[6];
	s->tx_dropped = v[7];
}

static u32 to_xpv(netdev_features_t f)
{
	return (f & NETIF_F_SG ? XPV_NF_F_SG : 0) | (f & NETIF_F_IP_CSUM ? XPV_NF_F_IPV4_CSUM : 0) |
	       (f & NETIF_F_IPV6_CSUM ? XPV_NF_F_IPV6_CSUM : 0) | (f & NETIF_F_TSO ? XPV_NF_F_TSO : 0) |
	       (f & NETIF_F_TSO6 ? XPV_NF_F_TSO6 : 0);
}

/* As Linux's xennet_fix_features: only what the backend offered; TSO needs SG and checksums. */
static netdev_features_t xpv_nf_fix_features(struct net_device *dev, netdev_features_t f)
{
	u32 neg = priv_of(dev)->neg;

	if (!(neg & XPV_NF_F_SG))
		f &= ~NETIF_F_SG;
	if (!(neg & XPV_NF_F_IPV4_CSUM))
		f &= ~NETIF_F_IP_CSUM;
	if (!(neg & XPV_NF_F_IPV6_CSUM))
		f &= ~NETIF_F_IPV6_CSUM;
	if (!(neg & XPV_NF_F_TSO) || !(f & NETIF_F_SG) || !(f & NETIF_F_IP_CSUM))
		f &= ~NETIF_F_TSO;
	if (!(neg & XPV_NF_F_TSO6) || !(f & NETIF_F_SG) || !(f & NETIF_F_IPV6_CSUM))
		f &= ~NETIF_F_TSO6;
	return f;
}

/* As Linux's xennet_set_features: without SG the MTU must fit one page. */
static int xpv_nf_set_features_op(struct net_device *dev, netdev_features_t f)
{
	if (!(f & NETIF_F_SG) && dev->mtu > ETH_DATA_LEN) {
		netdev_info(dev, "reducing MTU because no SG offload\n");
		dev->mtu = ETH_DATA_LEN;
	}
	return 0;
}

static int xpv_nf_change_mtu(struct net_device *dev, int mtu)
{
	int max = dev->features & NETIF_F_SG ? dev->max_mtu : ETH_DATA_LEN;

	if (mtu > max)
		return -EINVAL;
	WRITE_ONCE(dev->mtu, mtu);
	return 0;
}

static const struct net_device_ops xpv_nf_ops = {
	.ndo_open = xpv_nf_open,
	.ndo_stop = xpv_nf_stop,
	.ndo_start_xmit = xpv_nf_start_xmit,
	.ndo_get_stats64 = xpv_nf_get_stats64,
	.ndo_fix_features = xpv_nf_fix_features,
	.ndo_set_features = xpv_nf_set_features_op,
	.ndo_change_mtu = xpv_nf_change_mtu,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

static int xpv_nf_get_sset_count(struct net_device *dev, int sset)
{
	return sset == ETH_SS_STATS ? xpv_nf_rs_stat_count(priv_of(dev)->rs) : -EOPNOTSUPP;
}

static void xpv_nf_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	int i, n;

	if (sset != ETH_SS_STATS)
		return;
	n = xpv_nf_rs_stat_count(priv_of(dev)->rs);
	for (i = 0; i < n; i++)
		xpv_nf_rs_stat_name(priv_of(dev)->rs, i, (char *)data + i * ETH_GSTRING_LEN,
				    ETH_GSTRING_LEN);
}

static void xpv_nf_get_ethtool_stats(struct net_device *dev, struct ethtool_stats *st, u64 *data)
{
	int i, n = xpv_nf_rs_stat_count(priv_of(dev)->rs);

	for (i = 0; i < n; i++)
		data[i] = xpv_nf_rs_stat_value(priv_of(dev)->rs, i);
}

static const struct ethtool_ops xpv_nf_ethtool_ops = {
	.get_link = ethtool_op_get_link,
	.get_sset_count = xpv_nf_get_sset_count,
	.get_strings = xpv_nf_get_strings,
	.get_ethtool_stats = xpv_nf_get_ethtool_stats,
};

static int xpv_nf_poll(struct napi_struct *napi, int budget)
{
	struct xpv_nf_priv *p = netdev_priv(napi->dev);

	return xpv_nf_rs_poll(p->rs, napi - p->napi, budget);
}

struct net_device *xpv_nf_alloc(const u8 *mac)
{
	struct net_device *dev;
	struct xpv_nf_priv *p;
	u32 i, nq = XPV_NF_MAX_QUEUES;

	dev = alloc_etherdev_mq(sizeof(struct xpv_nf_priv), nq);
	if (!dev)
		return NULL;
	p = netdev_priv(dev);
	p->dev = dev;
	p->rs = NULL;
	p->nq = nq;
	p->neg = 0;
	bitmap_zero(p->napi_on, XPV_NF_MAX_QUEUES);
	for (i = 0; i < nq; i++) {
		spin_lock_init(&p->tx_lock[i]);
		netif_napi_add(dev, &p->napi[i], xpv_nf_poll);
	}
	dev->netdev_ops = &xpv_nf_ops;
	dev->ethtool_ops = &xpv_nf_ethtool_ops;
	dev->hw_features = NETIF_F_SG | NETIF_F_IP_CSUM | NETIF_F_IPV6_CSUM | NETIF_F_TSO |
			   NETIF_F_TSO6;
	dev->features = NETIF_F_RXCSUM | NETIF_F_GSO_ROBUST;
	dev->features |= dev->hw_features;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = 0xffff - ETH_HLEN; /* XEN_NETIF_MAX_TX_SIZE */
	netif_set_tso_max_size(dev, 0xffff - MAX_TCP_HEADER);
	eth_hw_addr_set(dev, mac);
	netif_carrier_off(dev);
	/* One queue until the backend tells how many it takes (xpv_nf_set_queues). */
	netif_set_real_num_tx_queues(dev, 1);
	netif_set_real_num_rx_queues(dev, 1);
	/* Until the backend's features are known (xpv_nf_set_features), fix_features offers nothing;
	 * wanted_features keeps everything (set by register_netdev from dev->features). */
	return dev;
}

int xpv_nf_register(struct net_device *dev, void *parent, void *rs)
{
	int err;

	priv_of(dev)->rs = rs;
	SET_NETDEV_DEV(dev, parent);
	err = register_netdev(dev);
	if (err)
		priv_of(dev)->rs = NULL;
	return err;
}

void xpv_nf_unregister(struct net_device *dev)
{
	unregister_netdev(dev);
	xpv_nf_napi_disable_all(dev);
	priv_of(dev)->rs = NULL;
}

void xpv_nf_free(struct net_device *dev)
{
	struct xpv_nf_priv *p = priv_of(dev);
	u32 i;

	for (i = 0; i < p->nq; i++)
		netif_napi_del(&p->napi[i]);
	free_netdev(dev);
}

const char *xpv_nf_name(struct net_device *dev)
{
	return dev->name;
}

int xpv_nf_running(struct net_device *dev)
{
	return netif_running(dev);
}

void xpv_nf_rtnl_lock(void)
{
	rtnl_lock();
}

void xpv_nf_rtnl_unlock(void)
{
	rtnl_unlock();
}

void xpv_nf_set_features(struct net_device *dev, u32 feats)
{
	priv_of(dev)->neg = feats;
	netdev_update_features(dev);
}

int xpv_nf_set_queues(struct net_device *dev, u32 nq)
{
	int err = netif_set_real_num_tx_queues(dev, nq);

	return err ? err : netif_set_real_num_rx_queues(dev, nq);
}

u32 xpv_nf_active_features(struct net_device *dev)
{
	return to_xpv(dev->features);
}

void xpv_nf_carrier(struct net_device *dev, int on)
{
	/*
	 * Once unregister_netdev has run, a carrier change would queue a link-watch event holding
	 * the device, and free_netdev does not wait for it: the event then runs on freed memory
	 * (seen in lifecycle-reload: remove's disconnect after unregister, with the link up).
	 */
	if (dev->reg_state >= NETREG_UNREGISTERING)
		return;
	if (on)
		netif_carrier_on(dev);
	else
		netif_carrier_off(dev);
}

void xpv_nf_tx_disable(struct net_device *dev)
{
	netif_tx_disable(dev);
}

void xpv_nf_tx_start_all(struct net_device *dev)
{
	netif_tx_start_all_queues(dev);
}

void xpv_nf_txq_stop(struct net_device *dev, u32 q)
{
	netif_tx_stop_queue(netdev_get_tx_queue(dev, q));
}

void xpv_nf_txq_wake(struct net_device *dev, u32 q)
{
	netif_tx_wake_queue(netdev_get_tx_queue(dev, q));
}

int xpv_nf_txq_stopped(struct net_device *dev, u32 q)
{
	return netif_tx_queue_stopped(netdev_get_tx_queue(dev, q));
}

void xpv_nf_tx_lock(struct net_device *dev, u32 q)
{
	spin_lock_bh(&priv_of(dev)->tx_lock[q]);
}

void xpv_nf_tx_unlock(struct net_device *dev, u32 q)
{
	spin_unlock_bh(&priv_of(dev)->tx_lock[q]);
}

void xpv_nf_napi_enable(struct net_device *dev, u32 q)
{
	struct xpv_nf_priv *p = priv_of(dev);

	if (q < XPV_NF_MAX_QUEUES && !test_and_set_bit(q, p->napi_on))
		napi_enable(&p->napi[q]);
}

void xpv_nf_napi_disable_all(struct net_device *dev)
{
	struct xpv_nf_priv *p = priv_of(dev);
	u32 q;

	for_each_set_bit(q, p->napi_on, XPV_NF_MAX_QUEUES) {
		napi_disable(&p->napi[q]);
		clear_bit(q, p->napi_on);
	}
}

void xpv_nf_napi_schedule(struct net_device *dev, u32 q)
{
	napi_schedule(&priv_of(dev)->napi[q]);
}

int xpv_nf_napi_complete(struct net_device *dev, u32 q, int work)
{
	return napi_complete_done(&priv_of(dev)->napi[q], work);
}

void xpv_nf_skb_info(struct sk_buff *skb, struct xpv_nf_skb_info *info)
{
	info->len = skb->len;
	info->ip_summed = skb->ip_summed;
	info->gso_size = skb_is_gso(skb) ? skb_shinfo(skb)->gso_size : 0;
	info->gso_type = skb_is_gso(skb) ? skb_shinfo(skb)->gso_type : 0;
}

int xpv_nf_skb_copy(struct sk_buff *skb, u32 off, void *dst, u32 len)
{
	return skb_copy_bits(skb, off, dst, len);
}

/* Appends the pieces of [page + off, len) that each lie in one page (compound pages of frags and
 * kmalloc'd heads are physically contiguous). */
static int chunks_of(struct page *page, u32 off, u32 len, struct xpv_nf_chunk *out, u32 *n, u32 max)
{
	page = nth_page(page, off >> PAGE_SHIFT);
	off &= ~PAGE_MASK;
	while (len) {
		u32 c = min_t(u32, len, PAGE_SIZE - off);

		if (*n >= max)
			return -E2BIG;
		out[*n].pfn = page_to_pfn(page);
		out[*n].off = off;
		out[*n].len = c;
		(*n)++;
		len -= c;
		off = 0;
		page = nth_page(page, 1);
	}
	return 0;
}

int xpv_nf_skb_chunks(struct sk_buff *skb, struct xpv_nf_chunk *out, u32 max)
{
	struct skb_shared_info *sh = skb_shinfo(skb);
	u32 n = 0, total = 0, i;
	int err;

	if (skb_has_frag_list(skb))
		return -E2BIG;
	if (skb_headlen(skb)) {
		err = chunks_of(virt_to_page(skb->data), offset_in_page(skb->data),
				skb_headlen(skb), out, &n, max);
		if (err)
			return err;
	}
	for (i = 0; i < sh->nr_frags; i++) {
		const skb_frag_t *f = &sh->frags[i];

		err = chunks_of(skb_frag_page(f), skb_frag_off(f), skb_frag_size(f), out, &n, max);
		if (err)
			return err;
	}
	for (i = 0; i < n; i++)
		total += out[i].len;
	if (total != skb->len)
		return -EINVAL;
	return n;
}

void xpv_nf_skb_get(struct sk_buff *skb)
{
	skb_get(skb);
}

void xpv_nf_skb_orphan(struct sk_buff *skb)
{
	skb_orphan(skb);
}

void xpv_nf_skb_consume(struct sk_buff *skb)
{
	dev_consume_skb_any(skb);
}

void xpv_nf_skb_drop(struct sk_buff *skb)
{
	dev_kfree_skb_any(skb);
}

/* Bytes copied into the linear area of an rx skb (headers); the rest goes into page fragments. */
#define XPV_NF_RX_COPY 256

struct sk_buff *xpv_nf_rx_alloc(struct net_device *dev, u32 q)
{
	return napi_alloc_skb(&priv_of(dev)->napi[q], XPV_NF_RX_COPY);
}

struct page *xpv_nf_rx_page_alloc(u32 may_sleep, u64 *gfn)
{
	struct page *page = alloc_page((may_sleep ? GFP_KERNEL : GFP_ATOMIC) | __GFP_NOWARN | __GFP_ZERO);

	if (page)
		*gfn = page_to_pfn(page);
	return page;
}

void *xpv_nf_rx_page_va(struct page *page)
{
	return page_address(page);
}

void xpv_nf_rx_page_free(struct page *page)
{
	__free_page(page);
}

int xpv_nf_rx_attach(struct sk_buff *skb, struct page *page, u32 off, u32 len)
{
	struct skb_shared_info *sh = skb_shinfo(skb);
	u32 lin;

	if (off > PAGE_SIZE || len > PAGE_SIZE - off)
		return -EINVAL;
	if (sh->nr_frags == 0) {
		lin = min_t(u32, len, skb_tailroom(skb));
		skb_put_data(skb, page_address(page) + off, lin);
		off += lin;
		len -= lin;
	}
	if (!len)
		return 0;
	if (sh->nr_frags >= MAX_SKB_FRAGS)
		return -E2BIG;
	skb_add_rx_frag(skb, sh->nr_frags, page, off, len, PAGE_SIZE);
	return 1;
}

int xpv_nf_rx_deliver(struct net_device *dev, u32 q, struct sk_buff *skb, u8 ip_summed, u8 recalc,
		      u16 gso_size, u32 gso_type)
{
	if (skb->len < ETH_HLEN || !pskb_may_pull(skb, ETH_HLEN))
		goto drop;
	if (gso_size) {
		skb_shinfo(skb)->gso_size = gso_size;
		skb_shinfo(skb)->gso_type = gso_type;
		skb_shinfo(skb)->gso_segs = 0;
	}
	skb->protocol = eth_type_trans(skb, dev);
	skb_reset_network_header(skb);
	skb->ip_summed = ip_summed;
	if (ip_summed == CHECKSUM_PARTIAL && skb_checksum_setup(skb, recalc))
		goto drop;
	skb_record_rx_queue(skb, q);
	napi_gro_receive(&priv_of(dev)->napi[q], skb);
	return 0;
drop:
	kfree_skb(skb);
	return -EINVAL;
}

u32 xpv_nf_num_online_cpus(void)
{
	return num_online_cpus();
}
