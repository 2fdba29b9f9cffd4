// SPDX-License-Identifier: GPL-2.0
/*
 * hostile-blkback DOMID RING_REF PORT CASE SECONDS: the data path of a misbehaving blkif
 * backend, run in Dom0 by hostile-backend/dom0.sh (which plays the xenstore side). Maps the
 * frontend's one-page ring (ring-ref) with libxengnttab, binds its event channel with
 * libxenevtchn, and answers the requests on the ring as CASE says, for SECONDS at most or until
 * SIGTERM; then unmaps and unbinds, so that the frontend can end its grants.
 *
 * Cases (include/xen/interface/io/blkif.h, io/ring.h):
 *   ok            every request answered BLKIF_RSP_OKAY with its id and operation
 *   id-range      the first request answered with id 0xdead0000 (no such request slot)
 *   id-twice      the first request answered twice in one push (same id)
 *   id-never      the first request answered with the id of a slot it does not use
 *   wrong-op      the first request answered with another operation
 *   bad-status    the first request answered with status 7 (no such BLKIF_RSP_*)
 *   prod-ahead    rsp_prod set two rings ahead of the responses given
 *   prod-back     the first request answered, then rsp_prod moved back by one
 *   storm         100000 notifications without a response, then as "ok"
 *   silent        no response at all
 *   keep          as "ok" until SIGUSR1; then no more answers, a copy of the ring page is taken
 *                 and the page, still mapped after the frontend closed, is compared with it every
 *                 100 ms until the end: it must never change (the frontend must leak a page it
 *                 could not revoke, never reuse it: XSA-396). Prints "keep: unchanged over N
 *                 checks" or "keep: changed at check N (first byte at offset O)".
 * Prints one line per request seen and per action taken on stdout ("req ...", "act ...").
 * Reads of "ok" requests carry no data (the data pages are never mapped): the frontend sees
 * whatever its own bounce pages held, zeros on a fresh device.
 */
#include "hostile.h"
#include <xen/io/blkif.h>

static volatile sig_atomic_t snap_req;
static void on_usr1(int sig) { (void)sig; snap_req = 1; }

static xenevtchn_handle *xe;
static evtchn_port_t lport;
static blkif_back_ring_t br;

static void notify(void) { xenevtchn_notify(xe, lport); }

/* Queues one response (not yet visible to the frontend). */
static void respond(uint64_t id, uint8_t op, int16_t st)
{
	blkif_response_t *r = RING_GET_RESPONSE(&br, br.rsp_prod_pvt);

	r->id = id;
	r->operation = op;
	r->status = st;
	br.rsp_prod_pvt++;
}

/* Makes the queued responses visible and notifies. */
static void push(void)
{
	int n;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&br, n);
	(void)n;
	notify();
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s DOMID RING_REF PORT CASE SECONDS\n", argv[0]);
		return 2;
	}
	uint32_t domid = num_arg(argv, 1), ref = num_arg(argv, 2), port = num_arg(argv, 3);
	const char *cs = argv[4];
	time_t end = time(NULL) + strtol(argv[5], NULL, 0);
	unsigned long seen = 0;
	int first_done = 0;
	static unsigned char snap[4096];
	int snapped = 0;
	unsigned long checks = 0, changed_at = 0;
	long changed_off = -1;
	xengnttab_handle *xg;
	void *page = NULL;
	int p = hx_setup(domid, &ref, 1, port, &xg, &xe, &page);

	if (p < 0)
		return 1;
	signal(SIGUSR1, on_usr1);
	lport = p;
	BACK_RING_INIT(&br, (blkif_sring_t *)page, 4096);
	printf("mapped ring-ref %u, port %u (local %u), %u slots, case %s\n", ref, port, lport,
	       RING_SIZE(&br), cs);
	if (!strcmp(cs, "storm")) {
		for (int i = 0; i < 100000; i++)
			notify();
		printf("act 100000 notifications sent\n");
		cs = "ok";
	}
	while (!stop && time(NULL) < end) {
		hx_wait_event(xe);
		if (snap_req && !snapped) {
			memcpy(snap, page, sizeof(snap));
			snapped = 1;
			printf("act snapshot of the ring page taken\n");
		}
		if (snapped) {
			checks++;
			if (!changed_at && memcmp(snap, page, sizeof(snap))) {
				const unsigned char *pg = page;

				changed_at = checks;
				for (long i = 0; i < (long)sizeof(snap); i++)
					if (snap[i] != pg[i]) {
						changed_off = i;
						break;
					}
			}
			continue;
		}
		RING_IDX rp = br.sring->req_prod;

		xen_rmb();
		if (rp - br.req_cons > RING_SIZE(&br)) {
			printf("act frontend req_prod %u out of range (req_cons %u): stop serving\n",
			       rp, br.req_cons);
			break;
		}
		while (br.req_cons != rp) {
			blkif_request_t req;

			memcpy(&req, RING_GET_REQUEST(&br, br.req_cons), sizeof(req));
			br.req_cons++;
			seen++;
			/* An indirect request keeps its id elsewhere and is answered with its inner
			 * operation (as blkback's make_response). */
			uint64_t id = req.id;
			uint8_t op = req.operation;
			unsigned int segs = req.nr_segments;

			if (req.operation == BLKIF_OP_INDIRECT) {
				blkif_request_indirect_t ind;

				memcpy(&ind, &req, sizeof(ind));
				id = ind.id;
				op = ind.indirect_op;
				segs = ind.nr_segments;
			}
			printf("req %lu: op %u (%u) id %llu sector %llu segs %u\n", seen,
			       req.operation, op, (unsigned long long)id,
			       (unsigned long long)req.sector_number, segs);
			if (!strcmp(cs, "silent"))
				continue;
			if (!strcmp(cs, "ok") || !strcmp(cs, "keep") || first_done) {
				if (!first_done || !strcmp(cs, "ok") || !strcmp(cs, "keep")) {
					respond(id, op, BLKIF_RSP_OKAY);
					push();
				}
				/* After the violation: no more answers (the frontend stopped listening). */
				continue;
			}
			first_done = 1;
			if (!strcmp(cs, "id-range")) {
				respond(0xdead0000ULL, op, BLKIF_RSP_OKAY);
			} else if (!strcmp(cs, "id-twice")) {
				respond(id, op, BLKIF_RSP_OKAY);
				respond(id, op, BLKIF_RSP_OKAY);
			} else if (!strcmp(cs, "id-never")) {
				respond(id == RING_SIZE(&br) - 1 ? 0 : RING_SIZE(&br) - 1,
					op, BLKIF_RSP_OKAY);
			} else if (!strcmp(cs, "wrong-op")) {
				respond(id, op == BLKIF_OP_READ ? BLKIF_OP_WRITE
									: BLKIF_OP_READ,
					BLKIF_RSP_OKAY);
			} else if (!strcmp(cs, "bad-status")) {
				respond(id, op, 7);
			} else if (!strcmp(cs, "prod-ahead")) {
				br.sring->rsp_prod = br.rsp_prod_pvt + 2 * RING_SIZE(&br);
				notify();
				printf("act rsp_prod set to %u\n", br.sring->rsp_prod);
				continue;
			} else if (!strcmp(cs, "prod-back")) {
				respond(id, op, BLKIF_RSP_OKAY);
				push();
				usleep(200000);
				xen_wmb();
				br.sring->rsp_prod = br.rsp_prod_pvt - 1;
				notify();
				printf("act answered id %llu, then rsp_prod moved back to %u\n",
				       (unsigned long long)id, br.sring->rsp_prod);
				continue;
			} else {
				fprintf(stderr, "unknown case %s\n", cs);
				break;
			}
			push();
			printf("act %s on id %llu\n", cs, (unsigned long long)id);
		}
	}
	if (snapped && changed_at)
		printf("keep: changed at check %lu (first byte at offset %ld)\n", changed_at,
		       changed_off);
	else if (snapped)
		printf("keep: unchanged over %lu checks\n", checks);
	printf("done: %lu request(s) seen\n", seen);
	xenevtchn_unbind(xe, lport);
	xengnttab_unmap(xg, page, 1);
	xenevtchn_close(xe);
	xengnttab_close(xg);
	return 0;
}
