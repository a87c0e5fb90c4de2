// SPDX-License-Identifier: MIT
/*
 * pvio-backd device, engine side; see dev.h and the handshake in
 * include/pvio/region.h. The IO engine is started when the frontend reaches
 * INITIALISED and stopped when it closes, vanishes or breaks the protocol.
 * The region, eventfds and socket belong to the region server and outlive
 * this process.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"
#include "store_nbd.h"
#include "pvio_ring.h"
#include "region.h"

#define DEV_DISCARD_MAX_SECTORS 0x400000u /* 2 GiB */
/* How often the handshake is re-checked without a doorbell, ms. */
#define DEV_TICK_MS 100
/* Control doorbells handled per tick before the doorbell is ignored until
 * the next one (the tick's own check still runs): a handshake needs a few. */
#define DEV_CTL_BURST 16u
/* Engine starts: a burst of this many, then one per interval. */
#define DEV_START_BURST 4u
#define DEV_START_EVERY_MS 250

static uint64_t dev_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint64_t dev_pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void dev_ring(int fd)
{
	const uint64_t one = 1;

	/* A full eventfd counter still wakes the reader: nothing to do on
	 * EAGAIN. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		backd_log("ringing a doorbell: %s", strerror(errno));
}

/* Engine callback: ring the frontend; from queue threads. */
static void dev_notify(void *opaque, unsigned int vector)
{
	struct backd_dev *d = opaque;

	pthread_mutex_lock(&d->sess_lock);
	if (d->peer >= 0 && vector < d->nvec)
		dev_ring(d->call_fd[vector]);
	pthread_mutex_unlock(&d->sess_lock);
}

/* Engine callback: the frontend broke the protocol; from queue threads. */
static void dev_broken(void *opaque, const char *why)
{
	struct backd_dev *d = opaque;

	/* Only the first report logs; acq_rel pairs with the acquire in
	 * dev_handle_control() so the main thread sees the flag before the
	 * doorbell below wakes it. */
	if (__atomic_exchange_n(&d->broken, 1, __ATOMIC_ACQ_REL))
		return;
	backd_log("%s: device broken: %s; IO stopped until the frontend leaves",
		  d->name, why);
	/* Wake the main thread's control handling to close the device. */
	dev_ring(d->kick_fd[PVIO_VECTOR_CONTROL]);
}

/* Publish back.state (a release store in pvio_hs_back_set_state(): the
 * layout or the rings' last answers are visible first) and ring. */
static void dev_set_state(struct backd_dev *d, uint32_t state)
{
	pvio_hs_back_set_state(&d->hs, state);
	dev_notify(d, PVIO_VECTOR_CONTROL);
}

static void dev_layout_params(const struct backd_dev *d,
			      struct pvio_region_params *p)
{
	memset(p, 0, sizeof(*p));
	p->region_size = d->region_size;
	if (d->o.net) {
		/* Queue pairs: TX on even queues, RX on odd ones (net.h). */
		p->dev_class = PVIO_CLASS_NET;
		p->num_queues = d->o.queues;
		p->ring_entries = d->ring_entries;
		p->req_entry_size = sizeof(struct pvio_net_tx_req);
		p->rsp_entry_size = sizeof(struct pvio_net_tx_rsp);
		p->req_entry_size_odd = sizeof(struct pvio_net_rx_req);
		p->rsp_entry_size_odd = sizeof(struct pvio_net_rx_rsp);
		p->data_size = d->data_size;
		p->features = d->offered;
		p->config = &d->net_config;
		return;
	}
	p->dev_class = PVIO_CLASS_BLK;
	p->num_queues = d->o.queues;
	p->ring_entries = d->ring_entries;
	p->req_entry_size = sizeof(struct pvio_blk_req);
	p->rsp_entry_size = sizeof(struct pvio_blk_rsp);
	p->data_size = d->data_size;
	p->features = d->offered;
	p->config = &d->config;
}

static void dev_send_gen(struct backd_dev *d)
{
	struct backd_msg m = { .type = BACKD_MSG_GEN, .peer = d->peer,
			       .session = d->session, .gen = d->generation };
	int ret = backd_chan_send(d->chan, &m, NULL, 0);

	if (ret)
		backd_log("%s: telling the region server generation %u: %s",
			  d->name, d->generation, strerror(-ret));
}

/*
 * Step 1 of the handshake: a layout with a new generation. The data areas
 * are left alone: a new session's region is zero already, and a frontend
 * that outlived an engine may still hold write data there that it will
 * submit again (region.h, "Backend restart").
 */
static int dev_layout(struct backd_dev *d)
{
	struct pvio_region_params p;
	uint32_t found;
	int ret;

	/* The generation in the region is the frontend's to scribble on:
	 * it only ever moves ours up, which is all a frontend needs. */
	found = pvio_le32_to_cpu(PVIO_READ_ONCE(d->hdr->back.generation));
	if (found > d->generation)
		d->generation = found;
	dev_layout_params(d, &p);
	p.generation = ++d->generation;
	ret = pvio_region_layout(d->hdr, &p, &d->layout);
	if (ret) {
		backd_log("%s: laying out the region: %s", d->name, strerror(-ret));
		return ret;
	}
	/* No engine runs now, so no thread can race this reset. */
	__atomic_store_n(&d->broken, 0, __ATOMIC_RELAXED);
	d->broken_seen = false;
	pvio_hs_back_init(&d->hs, d->hdr, d->offered);
	dev_notify(d, PVIO_VECTOR_CONTROL);
	dev_send_gen(d);
	return 0;
}

static void dev_stop_engine(struct backd_dev *d)
{
	if (d->net_eng) {
		backd_net_engine_stop(d->net_eng);
		d->net_eng = NULL;
	}
	if (!d->eng)
		return;
	backd_engine_stop(d->eng);
	d->eng = NULL;
}

/* The queues of the session's region, for either engine: offsets from
 * our private copy of the layout, since the queue table in the region is
 * shared memory the frontend can rewrite. */
static void dev_engine_queues(struct backd_dev *d, struct backd_engine_queue *out)
{
	unsigned char *mem = (unsigned char *)d->hdr;
	unsigned int i;

	for (i = 0; i < d->o.queues; i++) {
		const struct pvio_region_queue *q = &d->layout.queues[i];

		out[i].req = (struct pvio_ring_shared *)(mem + q->req_ring_off);
		out[i].rsp = (struct pvio_ring_shared *)(mem + q->rsp_ring_off);
		out[i].entries = q->req_entries;
		out[i].data = mem + q->data_off;
		out[i].data_size = q->data_size;
		out[i].doorbell_fd = q->vector < d->nvec ? d->kick_fd[q->vector] : -1;
		out[i].vector = q->vector;
		out[i].stats = &d->stats[i];
	}
}

/* Step 3 for a network device: the TAP's offloads follow what the
 * frontend accepted, then one thread per queue pair. */
static int dev_start_net(struct backd_dev *d, uint64_t feats)
{
	struct backd_net_engine_cfg cfg;
	unsigned int i;
	int ret;

	ret = backd_tap_set_offload(&d->tap, feats & PVIO_NET_F_GUEST_CSUM,
				    feats & PVIO_NET_F_GUEST_GSO_TCPV4,
				    feats & PVIO_NET_F_GUEST_GSO_TCPV6);
	if (ret) {
		backd_log("%s: TAP %s: TUNSETOFFLOAD: %s", d->name, d->tap.ifname,
			  strerror(-ret));
		return ret;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = d->name;
	cfg.nr_pairs = d->o.pairs;
	cfg.lim = d->net_lim;
	cfg.features = feats;
	cfg.rl = &d->rl;
	cfg.notify = dev_notify;
	cfg.broken = dev_broken;
	cfg.opaque = d;
	for (i = 0; i < d->o.pairs; i++)
		cfg.tap_fd[i] = d->tap.fd[i];
	dev_engine_queues(d, cfg.q);
	return backd_net_engine_start(&cfg, &d->net_eng);
}

/*
 * --net, on every tick: publish the TAP's link in config.status when it
 * changed (net.h, "Link": the one config field that changes while
 * connected) and ring the frontend's control vector.
 */
static void dev_net_link(struct backd_dev *d)
{
	struct pvio_net_config *shared;
	uint32_t st;

	if (!d->o.net || !d->tap_open)
		return;
	st = (uint32_t)backd_tap_link_up(&d->tap);
	if (st == d->net_lim.status)
		return;
	d->net_lim.status = st;
	d->net_config.status = pvio_cpu_to_le32(st);
	if (!d->have_session || !d->hdr)
		return;
	shared = (struct pvio_net_config *)d->hdr->config;
	/* Release: pairs with the frontend's acquire of config.status;
	 * nothing else in the config changes. */
	pvio_store_release(&shared->status, pvio_cpu_to_le32(st));
	dev_notify(d, PVIO_VECTOR_CONTROL);
	backd_log_peer(&d->sess_rl, d->name, "TAP %s: link %s", d->tap.ifname,
		       st ? "up" : "down");
}

/* Step 3: the frontend is INITIALISED with features we offered (checked
 * by pvio_hs_back_step()); start IO. */
static int dev_start_blk(struct backd_dev *d, uint64_t feats)
{
	struct backd_engine_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.name = d->name;
	cfg.nr_queues = d->o.queues;
	cfg.store = &d->store;
	cfg.lim = d->lim;
	cfg.features = feats;
	cfg.poll = d->po.spin;
	cfg.idle_poll_us = d->po.idle_us;
	cfg.idle_poll_max_us = d->po.idle_max_us;
	cfg.io_poll_max_us = d->po.io_max_us;
	cfg.rl = &d->rl;
	cfg.notify = dev_notify;
	cfg.broken = dev_broken;
	cfg.opaque = d;
	dev_engine_queues(d, cfg.q);
	return backd_engine_start(&cfg, &d->eng);
}

static void dev_connect(struct backd_dev *d)
{
	uint64_t feats = d->hs.accepted;
	int ret = d->o.net ? dev_start_net(d, feats) : dev_start_blk(d, feats);

	if (ret) {
		backd_log("%s: cannot start IO: %s; closing", d->name, strerror(-ret));
		d->eng = NULL;
		d->net_eng = NULL;
		dev_set_state(d, PVIO_STATE_CLOSED);
		return;
	}
	dev_set_state(d, PVIO_STATE_CONNECTED);
	backd_log_peer(&d->sess_rl, d->name,
		       "frontend peer %d connected (generation %u, features %#" PRIx64 ")",
		       d->peer, d->generation, feats);
}

static long long dev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* May an engine start now? Takes a token if so. */
static bool dev_start_allowed(struct backd_dev *d)
{
	long long now = dev_now_ms();

	if (!d->start_refill_ms) {
		d->start_tokens = DEV_START_BURST;
		d->start_refill_ms = now;
	}
	while (d->start_tokens < DEV_START_BURST &&
	       now - d->start_refill_ms >= DEV_START_EVERY_MS) {
		d->start_tokens++;
		d->start_refill_ms += DEV_START_EVERY_MS;
	}
	if (d->start_tokens == DEV_START_BURST)
		d->start_refill_ms = now;
	if (!d->start_tokens)
		return false;
	d->start_tokens--;
	return true;
}

/*
 * Advance the handshake. Called when the control doorbell rings and
 * periodically (a frontend may change state without ringing);
 * pvio_hs_back_step() reads the frontend's side once and says what to do.
 */
static void dev_handle_control(struct backd_dev *d)
{
	const char *why;
	uint64_t cnt;

	/* The kernel runs the handshake, and the control fd is its own. */
	if (d->o.kernel || !d->have_session)
		return;
	if (read(d->kick_fd[PVIO_VECTOR_CONTROL], &cnt, sizeof(cnt)) < 0)
		cnt = 0;
	/* Acquire: pairs with the exchange in dev_broken(). */
	if (__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE) && !d->broken_seen) {
		d->broken_seen = true;
		dev_stop_engine(d);
		dev_set_state(d, PVIO_STATE_CLOSED);
		return;
	}
	switch (pvio_hs_back_step(&d->hs, &why)) {
	case PVIO_HS_BACK_CONNECT:
		/* Over the start rate the frontend stays INITIALISED and a
		 * later tick connects it (the step is repeatable). */
		if (dev_start_allowed(d))
			dev_connect(d);
		else
			backd_log_peer(&d->sess_rl, d->name,
				       "frontend sessions faster than %d a second; the next IO start waits up to %d ms",
				       1000 / DEV_START_EVERY_MS, DEV_START_EVERY_MS);
		break;
	case PVIO_HS_BACK_REFUSED:
		backd_log_peer(&d->rl, d->name,
			       "frontend accepted features %#" PRIx64 " beyond those offered (%#" PRIx64 "); closing",
			       (uint64_t)d->hs.accepted, d->offered);
		dev_notify(d, PVIO_VECTOR_CONTROL);
		break;
	case PVIO_HS_BACK_CLOSE:
		dev_stop_engine(d);
		dev_set_state(d, PVIO_STATE_CLOSED);
		backd_log_peer(&d->sess_rl, d->name, "frontend peer %d closed the device",
			       d->peer);
		break;
	case PVIO_HS_BACK_RELAYOUT:
		/* A frontend that stays attached (a guest driver reloading)
		 * gets a fresh layout once it acknowledged the close; a broken
		 * device waits for its frontend to leave. */
		if (!d->broken_seen)
			dev_layout(d);
		break;
	case PVIO_HS_BACK_NONE:
		break;
	}
}

static void dev_close_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* The frontend left, or the engine stops: nothing of the session stays. */
static void dev_end_session(struct backd_dev *d, const char *why)
{
	if (!d->have_session)
		return;
	if (d->o.kernel) {
		backd_kernel_stop(d);
	} else {
		dev_stop_engine(d);
		/* An orderly stop (not a frontend that left) says so. */
		if (why && d->hs.state == PVIO_STATE_CONNECTED)
			dev_set_state(d, PVIO_STATE_CLOSED);
	}
	pthread_mutex_lock(&d->sess_lock);
	d->peer = -1;
	dev_close_fds(d->call_fd, d->nvec);
	pthread_mutex_unlock(&d->sess_lock);
	dev_close_fds(d->kick_fd, d->nvec);
	munmap(d->hdr, d->region_size);
	d->hdr = NULL;
	close(d->mem_fd);
	d->mem_fd = -1;
	d->have_session = false;
	d->nvec = 0;
}

/* A session from the region server: map it and lay it out (or hand it to
 * the kernel). Takes ownership of @fds. */
static void dev_start_session(struct backd_dev *d, const struct backd_msg *m,
			      int *fds, unsigned int nfds)
{
	unsigned int v, nvec = d->o.queues + 1;
	void *mem;

	if (d->have_session) {
		backd_log("%s: a second session from the region server; ending the first",
			  d->name);
		dev_end_session(d, NULL);
	}
	if (m->nvec != nvec || nfds != 1 + 2 * nvec ||
	    m->region_size != d->region_size) {
		backd_log("%s: region server sent a session of %u vectors, %u fds, %" PRIu64 " bytes; expected %u, %u, %" PRIu64,
			  d->name, m->nvec, nfds, m->region_size, nvec,
			  1 + 2 * nvec, d->region_size);
		dev_close_fds(fds, nfds);
		return;
	}
	mem = mmap(NULL, d->region_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fds[0], 0);
	if (mem == MAP_FAILED) {
		backd_log("%s: mapping the region: %s", d->name, strerror(errno));
		dev_close_fds(fds, nfds);
		return;
	}
	d->mem_fd = fds[0];
	d->hdr = mem;
	d->nvec = nvec;
	d->session = m->session;
	d->fresh = m->fresh;
	if (m->gen > d->generation)
		d->generation = m->gen;
	for (v = 0; v < nvec; v++)
		d->kick_fd[v] = fds[1 + v];
	pthread_mutex_lock(&d->sess_lock);
	for (v = 0; v < nvec; v++)
		d->call_fd[v] = fds[1 + nvec + v];
	d->peer = m->peer;
	pthread_mutex_unlock(&d->sess_lock);
	d->have_session = true;
	if (!d->fresh)
		backd_log("%s: engine taking over the region of frontend peer %d (session %" PRIu64 ")",
			  d->name, d->peer, d->session);
	if (d->o.kernel) {
		/* The kernel backend continues the generation it finds: above
		 * whatever the region shows (a dead engine's kernel device may
		 * have laid it out last), so the frontend tells it is new. */
		uint32_t found = pvio_le32_to_cpu(PVIO_READ_ONCE(d->hdr->back.generation));

		if (found > d->generation)
			d->generation = found;
		pvio_region_park(d->hdr, d->generation);
		if (!backd_kernel_start(d))
			dev_send_gen(d);
		return;
	}
	if (!dev_layout(d))
		backd_log_peer(&d->sess_rl, d->name,
			       "session %" PRIu64 ": region laid out (generation %u), waiting for the frontend",
			       d->session, d->generation);
}

/* One message from the region server; -EPIPE when it is gone. */
static int dev_handle_chan(struct backd_dev *d)
{
	int fds[BACKD_CHAN_MAX_FDS];
	struct backd_msg m;
	unsigned int nfds;
	int ret;

	ret = backd_chan_recv(d->chan, &m, fds, BACKD_CHAN_MAX_FDS, &nfds);
	if (ret == -EAGAIN)
		return 0;
	if (ret)
		return ret == -EPIPE ? ret : 0;
	switch (m.type) {
	case BACKD_MSG_SESSION:
		dev_start_session(d, &m, fds, nfds);
		return 0;
	case BACKD_MSG_END:
		if (d->have_session && m.session == d->session)
			dev_end_session(d, NULL);
		break;
	default:
		break;
	}
	dev_close_fds(fds, nfds);
	return 0;
}

static void dev_fill_config(struct backd_dev *d)
{
	struct pvio_blk_config *c = &d->config;
	unsigned int caps = d->store.caps;
	bool ro = d->o.ro || d->store.ro;
	bool discard = !ro && (caps & BACKD_STORE_DISCARD);
	bool zero = !ro && (caps & BACKD_STORE_ZERO);

	memset(c, 0, sizeof(*c));
	c->capacity = pvio_cpu_to_le64(d->store.size / PVIO_BLK_SECTOR_SIZE);
	c->logical_block_size = pvio_cpu_to_le32(d->store.lbs);
	c->physical_block_size = pvio_cpu_to_le32(d->store.pbs);
	c->max_segments = pvio_cpu_to_le32(BACKD_MAX_SEGS);
	c->max_segment_size = pvio_cpu_to_le32(BACKD_SEG_BYTES);
	c->max_transfer_sectors = pvio_cpu_to_le32(BACKD_MAX_TRANSFER_SECTORS);
	c->discard_granularity = pvio_cpu_to_le32(d->store.lbs);
	c->max_discard_sectors = pvio_cpu_to_le32(discard ? DEV_DISCARD_MAX_SECTORS : 0);
	c->max_write_zeroes_sectors = pvio_cpu_to_le32(zero ? DEV_DISCARD_MAX_SECTORS : 0);
	/* A store without a write cache to flush (an NBD server that does
	 * not advertise flush) completes writes durably. */
	c->attrs = pvio_cpu_to_le32((caps & BACKD_STORE_FLUSH ? PVIO_BLK_ATTR_WCACHE : 0) |
				    (ro ? PVIO_BLK_ATTR_RO : 0));
	c->queue_depth = pvio_cpu_to_le32(d->o.depth);
	d->offered = PVIO_BLK_F_INDIRECT | PVIO_BLK_F_GET_ID;
	if (caps & BACKD_STORE_FLUSH)
		d->offered |= PVIO_BLK_F_FLUSH;
	if (caps & BACKD_STORE_FUA)
		d->offered |= PVIO_BLK_F_FUA;
	if (discard)
		d->offered |= PVIO_BLK_F_DISCARD;
	if (zero)
		d->offered |= PVIO_BLK_F_WRITE_ZEROES;
}

/* --blk: the store, the block config and the region's geometry. */
static int dev_prepare_blk(struct backd_dev *d)
{
	const struct backd_dev_opts *o = &d->o;
	const char *why;
	int ret;

	if (o->kernel && backd_store_is_nbd(o->path)) {
		backd_log("%s: %s: --engine kernel cannot serve an NBD export",
			  d->name, o->path);
		return -EINVAL;
	}
	ret = backd_store_open(&d->store, d->name, o->path, o->ro, o->queues);
	if (ret)
		return ret;
	/* An NBD export without multi-conn: one connection, one queue. */
	if (d->store.nbd && d->store.nbd_conns < o->queues)
		d->o.queues = d->store.nbd_conns;
	dev_fill_config(d);
	ret = pvio_blk_limits_from_config(&d->config, &d->lim, &why);
	if (ret) {
		backd_log("%s: %s: unusable block config: %s", d->name, o->path,
			  why);
		return ret;
	}
	d->ring_entries = (uint32_t)dev_pow2_at_least(o->depth < 2 ? 2 : o->depth);
	d->data_size = dev_align((uint64_t)o->depth * BACKD_SEG_BYTES +
				 (uint64_t)o->depth * BACKD_MAX_SEGS *
					 sizeof(struct pvio_blk_seg),
				 PVIO_DATA_ALIGN);
	return 0;
}

/* A stable default MAC address for the frontend: locally administered,
 * unicast, the rest from the socket path (FNV-1a). */
static void dev_net_default_mac(const char *sock, unsigned char *mac)
{
	uint32_t h = 2166136261u;

	for (; *sock; sock++)
		h = (h ^ (unsigned char)*sock) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x56;
	mac[2] = (unsigned char)(h >> 24);
	mac[3] = (unsigned char)(h >> 16);
	mac[4] = (unsigned char)(h >> 8);
	mac[5] = (unsigned char)h;
}

/* --net: the TAP, the network config and the region's geometry. */
static int dev_prepare_net(struct backd_dev *d)
{
	struct pvio_net_limits lim;
	const struct backd_dev_opts *o = &d->o;
	unsigned int depth = o->depth ? o->depth : BACKD_NET_DEFAULT_DEPTH;
	const char *why;
	int ret;

	ret = backd_tap_open(&d->tap, d->name, o->tap, o->pairs, o->mtu);
	if (ret)
		return ret;
	d->tap_open = true;
	memset(&lim, 0, sizeof(lim));
	if (o->mac_set)
		memcpy(lim.mac, o->mac, sizeof(lim.mac));
	else
		dev_net_default_mac(o->socket, lim.mac);
	lim.mtu = (uint16_t)o->mtu;
	lim.max_queue_pairs = (uint16_t)o->pairs;
	lim.max_tx_segs = PVIO_NET_INLINE_SEGS;
	lim.status = (uint32_t)backd_tap_link_up(&d->tap);
	lim.queue_depth = depth;
	d->offered = PVIO_NET_F_CSUM | PVIO_NET_F_GUEST_CSUM | PVIO_NET_F_LINK_STATUS;
	if (o->pairs > 1)
		d->offered |= PVIO_NET_F_MQ;
	if (o->mtu != PVIO_NET_MTU_DEFAULT)
		d->offered |= PVIO_NET_F_MTU;
	if (!o->gso_off)
		d->offered |= PVIO_NET_F_GSO_TCPV4 | PVIO_NET_F_GSO_TCPV6 |
			      PVIO_NET_F_RX_MERGE | PVIO_NET_F_GUEST_GSO_TCPV4 |
			      PVIO_NET_F_GUEST_GSO_TCPV6;
	pvio_net_config_from_limits(&lim, &d->net_config);
	/* The same check every frontend makes on what we publish. */
	ret = pvio_net_limits_from_config(&d->net_config, d->offered,
					  &d->net_lim, &why);
	if (ret) {
		backd_log("%s: unusable network config: %s", d->name, why);
		return ret;
	}
	d->ring_entries = (uint32_t)dev_pow2_at_least(depth < 2 ? 2 : depth);
	/* Room for depth buffers of a full frame each, 64-byte aligned. */
	d->data_size = dev_align((uint64_t)depth *
				 dev_align(o->mtu + PVIO_NET_ETH_HLEN_MAX, 64),
				 PVIO_DATA_ALIGN);
	/*
	 * With GSO, TX frames of up to 64 KiB: room for that many of them
	 * (every queue's data area has the one size, so RX gets as much,
	 * far more than depth MTU-sized or page-sized buffers need).
	 */
	if (!o->gso_off) {
		uint64_t frames = depth < BACKD_NET_GSO_FRAMES ? depth :
				  BACKD_NET_GSO_FRAMES;
		uint64_t gso = dev_align(frames * dev_align(PVIO_NET_GSO_FRAME_MAX, 64),
					 PVIO_DATA_ALIGN);

		if (gso > d->data_size)
			d->data_size = gso;
	}
	return 0;
}

/**
 * backd_dev_prepare() - open the backing store, derive config and geometry.
 * @d: device, zeroed by the caller
 * @idx: device number, for its name
 * @o: options
 * @po: how the IO threads wait for work
 *
 * The region server calls it at start-up to refuse a bad store before
 * anything listens (then backd_dev_unprepare()); each engine process calls
 * it again on its own open of the store. Every failure is logged with a
 * message naming the problem.
 *
 * Context: process, before any IO thread exists.
 * Return: 0 or a negative errno.
 */
int backd_dev_prepare(struct backd_dev *d, unsigned int idx,
		      const struct backd_dev_opts *o,
		      const struct backd_poll_opts *po)
{
	struct pvio_region_params p;
	uint64_t need;
	int ret;

	snprintf(d->name, sizeof(d->name), "dev%u", idx);
	d->o = *o;
	d->po = *po;
	d->store.fd = -1;
	ret = o->net ? dev_prepare_net(d) : dev_prepare_blk(d);
	if (ret)
		goto err_unprepare;
	dev_layout_params(d, &p);
	need = pvio_region_layout_size(&p);
	if (!need) {
		backd_log("%s: no valid region layout for these parameters", d->name);
		ret = -EINVAL;
		goto err_unprepare;
	}
	d->region_size = dev_pow2_at_least(need < PVIO_REGION_MIN_SIZE ?
					   PVIO_REGION_MIN_SIZE : need);
	return 0;

err_unprepare:
	backd_dev_unprepare(d);
	return ret;
}

/**
 * backd_dev_unprepare() - close what backd_dev_prepare() opened.
 * @d: prepared device
 *
 * Context: process.
 */
void backd_dev_unprepare(struct backd_dev *d)
{
	if (d->tap_open)
		backd_tap_close(&d->tap);
	d->tap_open = false;
	backd_store_close(&d->store);
}

static void dev_print_stats(struct backd_dev *d)
{
	unsigned int i;

	/* Relaxed loads while the queue threads may still count: each value
	 * is exact, the set is a snapshot only roughly. */
	for (i = 0; d->o.net && i < d->o.queues; i++) {
		const struct backd_qstats *s = &d->stats[i];
		bool rx = i & 1;

		backd_log("%s: queue %u (%s): requests %" PRIu64 ", %s %" PRIu64 " bytes, errors %" PRIu64 ", doorbells in %" PRIu64 ", out %" PRIu64,
			  d->name, i, rx ? "RX" : "TX",
			  backd_stat_get(&s->requests),
			  rx ? "received" : "sent",
			  backd_stat_get(rx ? &s->bytes_read : &s->bytes_written),
			  backd_stat_get(&s->errors),
			  backd_stat_get(&s->doorbells_in),
			  backd_stat_get(&s->doorbells_out));
	}
	for (i = 0; !d->o.net && i < d->o.queues; i++) {
		const struct backd_qstats *s = &d->stats[i];

		backd_log("%s: queue %u: requests %" PRIu64 ", read %" PRIu64 " bytes, written %" PRIu64 " bytes, errors %" PRIu64 ", doorbells in %" PRIu64 ", out %" PRIu64 ", in-flight poll misses %" PRIu64,
			  d->name, i, backd_stat_get(&s->requests),
			  backd_stat_get(&s->bytes_read),
			  backd_stat_get(&s->bytes_written),
			  backd_stat_get(&s->errors),
			  backd_stat_get(&s->doorbells_in),
			  backd_stat_get(&s->doorbells_out),
			  backd_stat_get(&s->io_sleeps));
	}
}

static int dev_epoll_set(int ep, int op, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ep, op, fd, &ev) < 0 ? -errno : 0;
}

#define DEV_TAG_CHAN 1
#define DEV_TAG_SIGNAL 2
#define DEV_TAG_CONTROL 3
#define DEV_TAG_TICK 4

/**
 * backd_dev_engine_main() - the engine process of one device.
 * @o: the device's options
 * @po: how IO threads wait
 * @idx: device number
 * @chan: the channel to the region server
 *
 * Opens the store, waits for its lock (backd_store_fence()), then serves
 * every session the region server sends until SIGTERM/SIGINT (finish what
 * was taken, flush, print statistics) or until the server goes away.
 * SIGUSR1 prints statistics. Dies with the region server (PDEATHSIG).
 *
 * Context: a process of its own, forked by the region server.
 * Return: the process's exit status: 0 after an orderly stop, 1 if the
 * store cannot be opened or locked.
 */
int backd_dev_engine_main(const struct backd_dev_opts *o,
			  const struct backd_poll_opts *po, unsigned int idx,
			  int chan)
{
	struct backd_dev *d = calloc(1, sizeof(*d));
	struct epoll_event evs[8];
	struct itimerspec tick = {
		.it_interval.tv_nsec = DEV_TICK_MS * 1000000L,
		.it_value.tv_nsec = DEV_TICK_MS * 1000000L,
	};
	struct signalfd_siginfo si;
	bool running = true;
	int ep, sfd, tfd, ctl_fd = -1, k, n, ret, code = 0;
	uint64_t ticks;
	sigset_t sigs;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (!d)
		return 1;
	/* The signals the region server blocked stay blocked; only this
	 * process's signalfd sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	/* The periodic handshake check runs on this timer, whatever else
	 * keeps epoll_wait() busy (a doorbell flood, session churn). */
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &tick, NULL) ||
	    getppid() == 1) {
		backd_log("engine start-up: %s", strerror(errno));
		return 1;
	}
	pthread_mutex_init(&d->sess_lock, NULL);
	backd_ratelimit_init(&d->rl);
	backd_ratelimit_init(&d->sess_rl);
	d->chan = chan;
	/* Neither side waits on the other without a bound. */
	backd_chan_bound_sends(chan);
	d->peer = -1;
	d->mem_fd = -1;
	d->host_fd = -1;
	memset(d->kick_fd, -1, sizeof(d->kick_fd));
	memset(d->call_fd, -1, sizeof(d->call_fd));
	backd_store_quiet = true;
	if (backd_dev_prepare(d, idx, o, po) ||
	    (!o->net &&
	     backd_store_fence(&d->store, d->name, BACKD_FENCE_TIMEOUT_MS)))
		return 1;
	if (o->kernel && backd_kernel_check(d->name))
		return 1;
	if (dev_epoll_set(ep, EPOLL_CTL_ADD, chan, DEV_TAG_CHAN) ||
	    dev_epoll_set(ep, EPOLL_CTL_ADD, sfd, DEV_TAG_SIGNAL) ||
	    dev_epoll_set(ep, EPOLL_CTL_ADD, tfd, DEV_TAG_TICK))
		return 1;

	while (running) {
		/* The control doorbell is the session's: follow it. */
		int want = d->have_session && !o->kernel && !d->ctl_paused ?
			   d->kick_fd[PVIO_VECTOR_CONTROL] : -1;

		if (want != ctl_fd) {
			if (ctl_fd >= 0)
				epoll_ctl(ep, EPOLL_CTL_DEL, ctl_fd, NULL);
			ctl_fd = -1;
			if (want >= 0 && !dev_epoll_set(ep, EPOLL_CTL_ADD, want,
							DEV_TAG_CONTROL))
				ctl_fd = want;
		}
		n = epoll_wait(ep, evs, 8, -1);
		if (n < 0 && errno != EINTR) {
			backd_log("%s: epoll_wait: %s", d->name, strerror(errno));
			code = 1;
			break;
		}
		for (k = 0; k < n && running; k++) {
			switch (evs[k].data.u64) {
			case DEV_TAG_CHAN:
				ret = dev_handle_chan(d);
				if (ret == -EPIPE) {
					backd_log("%s: region server gone; stopping",
						  d->name);
					running = false;
				}
				/* The session's fds may have changed. */
				k = n;
				break;
			case DEV_TAG_SIGNAL:
				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGUSR1)
						dev_print_stats(d);
					else
						running = false;
				}
				break;
			case DEV_TAG_CONTROL:
				dev_handle_control(d);
				if (++d->ctl_events == DEV_CTL_BURST) {
					d->ctl_paused = true;
					backd_log_peer(&d->rl, d->name,
						       "control doorbell rung more than %u times in %d ms; following it at the tick only",
						       DEV_CTL_BURST, DEV_TICK_MS);
				}
				break;
			case DEV_TAG_TICK:
				(void)!read(tfd, &ticks, sizeof(ticks));
				d->ctl_events = 0;
				d->ctl_paused = false;
				dev_handle_control(d);
				dev_net_link(d);
				break;
			}
		}
	}
	/* Answer what was taken, say CLOSED, then flush what was answered. */
	dev_end_session(d, "stopping");
	ret = o->net ? 0 : backd_store_flush(&d->store);
	if (ret)
		backd_log("%s: flushing %s: %s", d->name, o->path, strerror(-ret));
	dev_print_stats(d);
	backd_dev_unprepare(d);
	return code;
}
