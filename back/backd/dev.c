// SPDX-License-Identifier: MIT
/*
 * pvio-backd device: the server half; see dev.h and the handshake in
 * include/pvio/region.h. The IO engine is started when the frontend reaches
 * INITIALISED and stopped when it closes, vanishes or breaks the protocol;
 * the region, eventfds and socket stay for the life of the daemon.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "dev.h"
#include "pvio_ring.h"
#include "region.h"

#define DEV_DISCARD_MAX_SECTORS 0x400000u /* 2 GiB */

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

static void dev_notify_locked(struct backd_dev *d, unsigned int vector)
{
	if (d->peer >= 0)
		pvio_ivshmem_server_notify(d->srv, d->peer, vector);
}

/* Engine callback: ring the frontend; from queue threads. */
static void dev_notify(void *opaque, unsigned int vector)
{
	struct backd_dev *d = opaque;

	pthread_mutex_lock(&d->srv_lock);
	dev_notify_locked(d, vector);
	pthread_mutex_unlock(&d->srv_lock);
}

/* Engine callback: the frontend broke the protocol; from queue threads. */
static void dev_broken(void *opaque, const char *why)
{
	struct backd_dev *d = opaque;
	const uint64_t one = 1;

	/* Only the first report logs; acq_rel pairs with the acquire in
	 * backd_dev_handle_control() so the main thread sees the flag before
	 * the doorbell below wakes it. */
	if (__atomic_exchange_n(&d->broken, 1, __ATOMIC_ACQ_REL))
		return;
	backd_log("%s: device broken: %s; IO stopped until the frontend leaves",
		  d->name, why);
	/* Wake the main thread's control handling to close the device. */
	if (write(pvio_ivshmem_server_vector_fd(d->srv, PVIO_VECTOR_CONTROL),
		  &one, sizeof(one)) < 0)
		backd_log("%s: waking the main thread: %s", d->name, strerror(errno));
}

static void dev_srv_log(void *opaque, int level, const char *msg)
{
	struct backd_dev *d = opaque;

	/* The server's own "peer N joined/left" lines repeat ours. */
	if (level == LOG_INFO && !strncmp(msg, "peer ", 5))
		return;
	/* Anyone can connect at will: rate-limited. */
	if (!strncmp(msg, "refusing connection", 19))
		backd_log_peer(&d->rl, d->name,
			       "second frontend refused, the device already has one (peer %d): %s",
			       d->peer, msg);
	else
		backd_log("%s: ivshmem server: %s", d->name, msg);
}

static void dev_on_peer(void *opaque, int id, bool joined)
{
	struct backd_dev *d = opaque;

	/* The kernel device stops at once, before the server accepts the
	 * next frontend in the same pass: that one must never find the
	 * previous device still serving the region. */
	if (d->o.kernel && !joined && id == d->peer)
		backd_kernel_stop(d);
	if (d->nr_ev == BACKD_DEV_MAX_EVENTS) {
		backd_log("%s: too many peer events at once; peer %d %s ignored",
			  d->name, id, joined ? "joining" : "leaving");
		return;
	}
	d->ev[d->nr_ev].id = id;
	d->ev[d->nr_ev].joined = joined;
	d->nr_ev++;
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
	p->dev_class = PVIO_CLASS_BLK;
	p->num_queues = d->o.queues;
	p->ring_entries = d->ring_entries;
	p->req_entry_size = sizeof(struct pvio_blk_req);
	p->rsp_entry_size = sizeof(struct pvio_blk_rsp);
	p->data_size = d->data_size;
	p->features = d->offered;
	p->config = &d->config;
}

/* Step 1 of the handshake: a fresh layout for the next frontend. */
static int dev_layout(struct backd_dev *d)
{
	struct pvio_region_params p;
	int ret;

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
	return 0;
}

static void dev_stop_engine(struct backd_dev *d)
{
	if (!d->eng)
		return;
	backd_engine_stop(d->eng);
	d->eng = NULL;
}

/* Step 3: the frontend is INITIALISED with features we offered (checked
 * by pvio_hs_back_step()); start IO. */
static void dev_connect(struct backd_dev *d)
{
	struct backd_engine_cfg cfg;
	uint64_t feats = d->hs.accepted;
	unsigned char *mem = (unsigned char *)d->hdr;
	unsigned int i;
	int ret;

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
	/* Offsets from our private copy of the layout: the queue table in
	 * the region is shared memory the frontend can rewrite. */
	for (i = 0; i < d->o.queues; i++) {
		const struct pvio_region_queue *q = &d->layout.queues[i];

		cfg.q[i].req = (struct pvio_ring_shared *)(mem + q->req_ring_off);
		cfg.q[i].rsp = (struct pvio_ring_shared *)(mem + q->rsp_ring_off);
		cfg.q[i].entries = q->req_entries;
		cfg.q[i].data = mem + q->data_off;
		cfg.q[i].data_size = q->data_size;
		cfg.q[i].doorbell_fd = pvio_ivshmem_server_vector_fd(d->srv,
								     q->vector);
		cfg.q[i].vector = q->vector;
		cfg.q[i].stats = &d->stats[i];
	}
	ret = backd_engine_start(&cfg, &d->eng);
	if (ret) {
		backd_log("%s: cannot start IO: %s; closing", d->name, strerror(-ret));
		d->eng = NULL;
		dev_set_state(d, PVIO_STATE_CLOSED);
		return;
	}
	dev_set_state(d, PVIO_STATE_CONNECTED);
	backd_log("%s: frontend peer %d connected (generation %u, features %#" PRIx64 ")",
		  d->name, d->peer, d->generation, feats);
}

/**
 * backd_dev_handle_control() - advance the handshake.
 * @d: device
 *
 * Called when the control doorbell rings and periodically (a frontend may
 * change state without ringing); pvio_hs_back_step() reads the frontend's
 * side once and says what to do.
 *
 * Context: main thread.
 */
void backd_dev_handle_control(struct backd_dev *d)
{
	const char *why;
	uint64_t cnt;

	/* The kernel runs the handshake, and the control fd is its own. */
	if (d->o.kernel)
		return;
	if (read(backd_dev_control_fd(d), &cnt, sizeof(cnt)) < 0)
		cnt = 0;
	/* Acquire: pairs with the exchange in dev_broken(). */
	if (__atomic_load_n(&d->broken, __ATOMIC_ACQUIRE) && !d->broken_seen) {
		d->broken_seen = true;
		dev_stop_engine(d);
		dev_set_state(d, PVIO_STATE_CLOSED);
		return;
	}
	/* Nobody attached: whatever front.state says, no frontend wrote it. */
	if (d->peer < 0 && d->hs.state == PVIO_STATE_INITWAIT)
		return;
	switch (pvio_hs_back_step(&d->hs, &why)) {
	case PVIO_HS_BACK_CONNECT:
		dev_connect(d);
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
		backd_log("%s: frontend peer %d closed the device", d->name,
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

static void dev_peer_joined(struct backd_dev *d, int id)
{
	if (d->peer >= 0) {
		backd_log("%s: peer %d joined while peer %d is the frontend; ignored",
			  d->name, id, d->peer);
		return;
	}
	pthread_mutex_lock(&d->srv_lock);
	d->peer = id;
	pthread_mutex_unlock(&d->srv_lock);
	backd_log("%s: frontend peer %d joined", d->name, id);
	if (d->o.kernel)
		backd_kernel_start(d);
}

static void dev_peer_left(struct backd_dev *d, int id)
{
	if (id != d->peer)
		return;
	if (d->o.kernel) {
		backd_kernel_stop(d);
		pthread_mutex_lock(&d->srv_lock);
		d->peer = -1;
		pthread_mutex_unlock(&d->srv_lock);
		return;
	}
	dev_stop_engine(d);
	pthread_mutex_lock(&d->srv_lock);
	d->peer = -1;
	pthread_mutex_unlock(&d->srv_lock);
	if (!dev_layout(d))
		backd_log("%s: frontend peer %d left; region laid out again (generation %u), waiting for a frontend",
			  d->name, id, d->generation);
}

/**
 * backd_dev_handle_server() - serve the ivshmem socket(s) of @d.
 * @d: device
 *
 * Context: main thread, when backd_dev_server_fd() is readable.
 */
void backd_dev_handle_server(struct backd_dev *d)
{
	unsigned int i;
	int ret;

	pthread_mutex_lock(&d->srv_lock);
	ret = pvio_ivshmem_server_handle(d->srv);
	pthread_mutex_unlock(&d->srv_lock);
	if (ret < 0)
		backd_log("%s: ivshmem server: %s", d->name, strerror(-ret));
	for (i = 0; i < d->nr_ev; i++) {
		if (d->ev[i].joined)
			dev_peer_joined(d, d->ev[i].id);
		else
			dev_peer_left(d, d->ev[i].id);
	}
	d->nr_ev = 0;
	backd_dev_handle_control(d);
}

static void dev_fill_config(struct backd_dev *d)
{
	struct pvio_blk_config *c = &d->config;
	bool ro = d->o.ro;

	memset(c, 0, sizeof(*c));
	c->capacity = pvio_cpu_to_le64(d->store.size / PVIO_BLK_SECTOR_SIZE);
	c->logical_block_size = pvio_cpu_to_le32(d->store.lbs);
	c->physical_block_size = pvio_cpu_to_le32(d->store.pbs);
	c->max_segments = pvio_cpu_to_le32(BACKD_MAX_SEGS);
	c->max_segment_size = pvio_cpu_to_le32(BACKD_SEG_BYTES);
	c->max_transfer_sectors = pvio_cpu_to_le32(BACKD_MAX_TRANSFER_SECTORS);
	c->discard_granularity = pvio_cpu_to_le32(d->store.lbs);
	c->max_discard_sectors = pvio_cpu_to_le32(ro ? 0 : DEV_DISCARD_MAX_SECTORS);
	c->max_write_zeroes_sectors = pvio_cpu_to_le32(ro ? 0 : DEV_DISCARD_MAX_SECTORS);
	c->attrs = pvio_cpu_to_le32(PVIO_BLK_ATTR_WCACHE | (ro ? PVIO_BLK_ATTR_RO : 0));
	c->queue_depth = pvio_cpu_to_le32(d->o.depth);
	d->offered = PVIO_BLK_F_FLUSH | PVIO_BLK_F_FUA | PVIO_BLK_F_INDIRECT |
		     PVIO_BLK_F_GET_ID;
	if (!ro)
		d->offered |= PVIO_BLK_F_DISCARD | PVIO_BLK_F_WRITE_ZEROES;
}

/**
 * backd_dev_open() - open the backing store, start serving the socket.
 * @d: device, zeroed by the caller
 * @idx: device number, for its name
 * @o: options
 * @po: how the IO threads wait for work
 *
 * Every failure is logged with a message naming the problem.
 *
 * Context: main thread, at start-up.
 * Return: 0 or a negative errno.
 */
int backd_dev_open(struct backd_dev *d, unsigned int idx,
		   const struct backd_dev_opts *o,
		   const struct backd_poll_opts *po)
{
	struct pvio_ivshmem_server_opts so;
	struct pvio_region_params p;
	const char *why;
	uint64_t need;
	int ret;

	snprintf(d->name, sizeof(d->name), "dev%u", idx);
	d->o = *o;
	d->po = *po;
	d->peer = -1;
	pthread_mutex_init(&d->srv_lock, NULL);
	backd_ratelimit_init(&d->rl);

	ret = backd_store_open(&d->store, d->name, o->path, o->ro);
	if (ret)
		goto err_lock;
	dev_fill_config(d);
	ret = pvio_blk_limits_from_config(&d->config, &d->lim, &why);
	if (ret) {
		backd_log("%s: %s: unusable block config: %s", d->name, o->path,
			  why);
		goto err_store;
	}
	d->ring_entries = (uint32_t)dev_pow2_at_least(o->depth < 2 ? 2 : o->depth);
	d->data_size = dev_align((uint64_t)o->depth * BACKD_SEG_BYTES +
				 (uint64_t)o->depth * BACKD_MAX_SEGS *
					 sizeof(struct pvio_blk_seg),
				 PVIO_DATA_ALIGN);
	dev_layout_params(d, &p);
	need = pvio_region_layout_size(&p);
	if (!need) {
		backd_log("%s: no valid region layout for these parameters", d->name);
		ret = -EINVAL;
		goto err_store;
	}
	d->region_size = dev_pow2_at_least(need < PVIO_REGION_MIN_SIZE ?
					   PVIO_REGION_MIN_SIZE : need);

	memset(&so, 0, sizeof(so));
	so.socket_path = o->socket;
	so.region_size = d->region_size;
	so.vectors = o->queues + 1;
	so.max_clients = 1;
	so.log = dev_srv_log;
	so.on_peer = dev_on_peer;
	so.opaque = d;
	ret = pvio_ivshmem_server_create(&so, &d->srv);
	if (ret) {
		backd_log("%s: cannot serve on socket %s: %s", d->name, o->socket,
			  strerror(-ret));
		goto err_store;
	}
	d->hdr = pvio_ivshmem_server_mem(d->srv);
	ret = o->kernel ? backd_kernel_open(d) : dev_layout(d);
	if (ret)
		goto err_srv;
	backd_log("%s: %s: %" PRIu64 " bytes, block size %u%s, %s IO; socket %s, %u queue(s) of depth %u, region %" PRIu64 " bytes, vectors %u",
		  d->name, o->path, d->store.size, d->store.lbs,
		  o->ro ? ", read-only" : "", d->store.direct ? "direct" : "buffered",
		  o->socket, o->queues, o->depth, d->region_size, o->queues + 1);
	return 0;

err_srv:
	pvio_ivshmem_server_destroy(d->srv);
	d->srv = NULL;
err_store:
	backd_store_close(&d->store);
err_lock:
	backd_ratelimit_destroy(&d->rl);
	pthread_mutex_destroy(&d->srv_lock);
	return ret;
}

/**
 * backd_dev_print_stats() - log every queue's counters.
 * @d: device
 *
 * The counters are read with relaxed loads while the queue threads may
 * still count: each value is exact, the set is a snapshot only roughly.
 *
 * Context: main thread.
 */
void backd_dev_print_stats(struct backd_dev *d)
{
	unsigned int i;

	for (i = 0; i < d->o.queues; i++) {
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

/**
 * backd_dev_close() - finish in-flight IO, flush, print statistics, free.
 * @d: an opened device
 *
 * Context: main thread.
 * Return: nothing; a failed flush is logged.
 */
void backd_dev_close(struct backd_dev *d)
{
	int ret;

	dev_stop_engine(d);
	if (d->o.kernel)
		backd_kernel_stop(d);
	if (d->hs.state == PVIO_STATE_CONNECTED)
		dev_set_state(d, PVIO_STATE_CLOSED);
	ret = backd_store_flush(&d->store);
	if (ret)
		backd_log("%s: flushing %s: %s", d->name, d->o.path, strerror(-ret));
	backd_dev_print_stats(d);
	pvio_ivshmem_server_destroy(d->srv);
	d->srv = NULL;
	backd_store_close(&d->store);
	backd_ratelimit_destroy(&d->rl);
	pthread_mutex_destroy(&d->srv_lock);
}

/**
 * backd_dev_server_fd() - the descriptor that says the socket has work.
 * @d: device
 *
 * Context: main thread.
 * Return: an epoll fd; call backd_dev_handle_server() when readable.
 */
int backd_dev_server_fd(const struct backd_dev *d)
{
	return pvio_ivshmem_server_fd(d->srv);
}

/**
 * backd_dev_control_fd() - the backend's control doorbell (vector 0).
 * @d: device
 *
 * Context: main thread.
 * Return: an eventfd; call backd_dev_handle_control() when readable. -1
 * with --engine kernel: the kernel is woken by it, the daemon must not
 * read it.
 */
int backd_dev_control_fd(const struct backd_dev *d)
{
	if (d->o.kernel)
		return -1;
	return pvio_ivshmem_server_vector_fd(d->srv, PVIO_VECTOR_CONTROL);
}
