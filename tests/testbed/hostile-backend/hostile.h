/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by hostile-blkback.c and hostile-netback.c (Dom0 programs of the hostile-backend test
 * bed scenario): barriers for Xen's io/ring.h, the stop flag, and the libxengnttab/libxenevtchn
 * set-up of a backend's data path.
 */
#ifndef HOSTILE_H
#define HOSTILE_H
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xengnttab.h>
/* io/ring.h's barriers are mb/rmb/wmb (x86: loads and stores are ordered apart from store-load). */
#define mb() __sync_synchronize()
#define rmb() __asm__ __volatile__("" ::: "memory")
#define wmb() __asm__ __volatile__("" ::: "memory")

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

/* argv[i] as a number (decimal or 0x...). */
static uint32_t num_arg(char **argv, int i) { return strtoul(argv[i], NULL, 0); }

/* Opens the grant and event channel handles, maps the n grant references refs[] of domain
 * domid read-write into pages[] and binds its port; SIGTERM/SIGINT set stop; stdout is line
 * buffered. Returns the local port, or -1 (with a message). */
static int hx_setup(uint32_t domid, const uint32_t *refs, int n, uint32_t port,
		    xengnttab_handle **xg, xenevtchn_handle **xe, void **pages)
{
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	setvbuf(stdout, NULL, _IOLBF, 0);
	*xg = xengnttab_open(NULL, 0);
	*xe = xenevtchn_open(NULL, 0);
	if (!*xg || !*xe) {
		perror("xengnttab_open/xenevtchn_open");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		pages[i] = xengnttab_map_grant_ref(*xg, domid, refs[i], PROT_READ | PROT_WRITE);
		if (!pages[i]) {
			fprintf(stderr, "map of grant %u of domain %u: %s\n", refs[i], domid,
				strerror(errno));
			return -1;
		}
	}
	xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(*xe, domid, port);

	if (p < 0) {
		fprintf(stderr, "bind of port %u of domain %u: %s\n", port, domid, strerror(errno));
		return -1;
	}
	return p;
}

/* Waits up to 100 ms for an event on xe's port and re-arms it. */
static void hx_wait_event(xenevtchn_handle *xe)
{
	struct pollfd pfd = { .fd = xenevtchn_fd(xe), .events = POLLIN };

	if (poll(&pfd, 1, 100) > 0) {
		xenevtchn_port_or_error_t q = xenevtchn_pending(xe);

		if (q >= 0)
			xenevtchn_unmask(xe, q);
	}
}
#endif
