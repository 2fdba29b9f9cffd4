// SPDX-License-Identifier: GPL-2.0
/*
 * hostile-netback DOMID TX_REF RX_REF PORT CASE SECONDS: the data path of a misbehaving netif
 * backend, run in Dom0 by hostile-backend/dom0.sh (which plays the xenstore side). Maps the
 * frontend's one-queue tx and rx rings (tx-ring-ref, rx-ring-ref) with libxengnttab, binds its
 * event channel (event-channel) with libxenevtchn, waits for the frontend's rx buffers and then
 * answers once as CASE says, for SECONDS at most or until SIGTERM; then unmaps and unbinds.
 *
 * Cases (include/xen/interface/io/netif.h, io/ring.h):
 *   rx-size     an rx response of 5000 bytes at offset 0 (beyond the 4096-byte page)
 *   rx-offset   an rx response of 200 bytes at offset 4000 (offset + size beyond the page)
 *   rx-extras   an rx response with NETRXF_extra_info followed by 20 extra-info slots, each
 *               with XEN_NETIF_EXTRA_FLAG_MORE
 *   rx-mapped   maps the page of the first rx request (its gref) and keeps it mapped until the
 *               end, writes 60 bytes into it and answers it with them: a copying backend never
 *               maps rx pages, so the frontend must refuse the page (never hand it to the stack
 *               or reuse it) and free it only once it is unmapped here
 *   tx-never    a tx response (XEN_NETIF_RSP_OKAY) with an id (255 down) that none of the
 *               packets in flight has, once it has one (or after 15 s)
 * Prints what it saw and did on stdout ("rx requests ...", "act ...").
 */
#include "hostile.h"
#include <xen/io/netif.h>

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: %s DOMID TX_REF RX_REF PORT CASE SECONDS\n", argv[0]);
		return 2;
	}
	uint32_t domid = num_arg(argv, 1), port = num_arg(argv, 4);
	uint32_t refs[2] = { num_arg(argv, 2), num_arg(argv, 3) };
	const char *cs = argv[5];
	time_t start = time(NULL), end = start + strtol(argv[6], NULL, 0);
	int done = 0, n;
	xengnttab_handle *xg;
	xenevtchn_handle *xe;
	void *pages[2] = { NULL, NULL };
	void *kept = NULL;
	int lp = hx_setup(domid, refs, 2, port, &xg, &xe, pages);

	if (lp < 0)
		return 1;
	void *txp = pages[0], *rxp = pages[1];
	uint32_t txref = refs[0], rxref = refs[1];
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;

	BACK_RING_INIT(&tx, (netif_tx_sring_t *)txp, 4096);
	BACK_RING_INIT(&rx, (netif_rx_sring_t *)rxp, 4096);
	printf("mapped tx-ring-ref %u, rx-ring-ref %u, port %u (local %d), case %s\n", txref, rxref,
	       port, lp, cs);

	while (!stop && time(NULL) < end) {
		hx_wait_event(xe);
		if (done)
			continue;
		if (!strcmp(cs, "tx-never")) {
			/* Once the frontend has a packet in flight (its interface sends IPv6
			 * autoconfiguration packets when it comes up; at most 15 s), answer an id it did
			 * not use: the ring's count is then plausible and only the id is wrong. */
			RING_IDX tp = tx.sring->req_prod;
			unsigned char used[256] = { 0 };
			uint16_t id = 255;

			rmb();
			if (tp == tx.req_cons && time(NULL) < start + 15)
				continue;
			if (tp - tx.req_cons <= RING_SIZE(&tx)) {
				for (RING_IDX i = tx.req_cons; i != tp; i++) {
					netif_tx_request_t q;

					memcpy(&q, RING_GET_REQUEST(&tx, i), sizeof(q));
					used[q.id & 255] = 1;
				}
				printf("tx requests: %u posted\n", tp - tx.req_cons);
			}
			while (id > 0 && used[id])
				id--;
			netif_tx_response_t *r = RING_GET_RESPONSE(&tx, tx.rsp_prod_pvt);

			r->id = id;
			r->status = NETIF_RSP_OKAY;
			tx.rsp_prod_pvt++;
			RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&tx, n);
			(void)n;
			xenevtchn_notify(xe, lp);
			printf("act tx response id %u for a packet never sent\n", id);
			done = 1;
			continue;
		}
		RING_IDX rp = rx.sring->req_prod;

		rmb();
		unsigned int avail = rp - rx.req_cons;

		if (avail == 0 || avail > RING_SIZE(&rx))
			continue;
		printf("rx requests: %u posted\n", avail);
		netif_rx_request_t req;

		memcpy(&req, RING_GET_REQUEST(&rx, rx.req_cons), sizeof(req));
		rx.req_cons++;
		netif_rx_response_t *r = RING_GET_RESPONSE(&rx, rx.rsp_prod_pvt);

		r->id = req.id;
		r->flags = 0;
		if (!strcmp(cs, "rx-size")) {
			r->offset = 0;
			r->status = 5000;
		} else if (!strcmp(cs, "rx-offset")) {
			r->offset = 4000;
			r->status = 200;
		} else if (!strcmp(cs, "rx-extras")) {
			r->offset = 0;
			r->status = 60;
			r->flags = NETRXF_extra_info;
		} else if (!strcmp(cs, "rx-mapped")) {
			kept = xengnttab_map_grant_ref(xg, domid, req.gref, PROT_READ | PROT_WRITE);
			if (!kept) {
				fprintf(stderr, "map of rx gref %u: %s\n", req.gref, strerror(errno));
				break;
			}
			memset(kept, 0xa5, 60);
			printf("mapped rx gref %u of request id %u\n", req.gref, req.id);
			r->offset = 0;
			r->status = 60;
		} else {
			fprintf(stderr, "unknown case %s\n", cs);
			break;
		}
		rx.rsp_prod_pvt++;
		if (!strcmp(cs, "rx-extras")) {
			for (int i = 0; i < 20 && rx.req_cons != rp; i++) {
				netif_rx_request_t q;
				struct netif_extra_info *e;

				memcpy(&q, RING_GET_REQUEST(&rx, rx.req_cons), sizeof(q));
				rx.req_cons++;
				e = (struct netif_extra_info *)RING_GET_RESPONSE(&rx, rx.rsp_prod_pvt);
				memset(e, 0, sizeof(*e));
				e->type = XEN_NETIF_EXTRA_TYPE_GSO;
				e->flags = XEN_NETIF_EXTRA_FLAG_MORE;
				e->u.gso.size = 1400;
				e->u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
				rx.rsp_prod_pvt++;
			}
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&rx, n);
		(void)n;
		xenevtchn_notify(xe, lp);
		printf("act %s: rx response id %u offset %u status %d flags %#x, %u slot(s) in all\n",
		       cs, r->id, r->offset, r->status, r->flags, rx.rsp_prod_pvt);
		done = 1;
	}
	printf("done\n");
	if (kept)
		xengnttab_unmap(xg, kept, 1);
	xenevtchn_unbind(xe, lp);
	xengnttab_unmap(xg, txp, 1);
	xengnttab_unmap(xg, rxp, 1);
	xenevtchn_close(xe);
	xengnttab_close(xg);
	return 0;
}
