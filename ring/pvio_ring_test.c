// SPDX-License-Identifier: MIT
/*
 * pvio_ring_test - run the ring's checks in kernel space at load time.
 *
 * The userspace unit tests cover ring/pvio_ring.h with C11 atomics; this
 * module covers the other build of the same header: the kernel's barriers,
 * byte-order helpers and READ_ONCE/WRITE_ONCE, a real two-CPU stress with
 * kthreads and the doorbell protocol driven by wait queues.
 *
 * Loading prints one summary line, "pvio_ring_test: PASS (N checks)" or
 * "pvio_ring_test: FAIL (N of M checks failed)", preceded by one line per
 * failed check. Load succeeds on PASS (the module can then be removed) and
 * fails with -EINVAL otherwise, so `insmod` itself reports the outcome.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "pvio_ring.h"

static unsigned long stress_entries = 3000000;
module_param(stress_entries, ulong, 0444);
MODULE_PARM_DESC(stress_entries,
		 "stamped entries sent through the two-kthread stress, an eighth of them again with sleeping sides (0 skips it)");

static unsigned int stress_ms = 4000;
module_param(stress_ms, uint, 0444);
MODULE_PARM_DESC(stress_ms,
		 "time budget of each stress run: on a loaded host the producer stops early (not a failure) rather than overrun it");

static unsigned int stress_timeout_s = 60;
module_param(stress_timeout_s, uint, 0444);
MODULE_PARM_DESC(stress_timeout_s,
		 "seconds after which a stalled stress counts as failed");

/* Outcome of every check run so far. */
struct rt_result {
	unsigned int checks;
	unsigned int failed;
	const char *phase; /* names the run a failed check belongs to, or NULL */
};

static bool rt_check(struct rt_result *r, bool ok, const char *name,
		     const char *expr, int line)
{
	r->checks++;
	if (!ok) {
		r->failed++;
		pr_err("check failed: %s%s%s: %s (line %d)\n",
		       r->phase ?: "", r->phase ? ": " : "", name, expr, line);
	}
	return ok;
}

#define RT_CHECK(r, cond, name) rt_check(r, !!(cond), name, #cond, __LINE__)

/* One ring in private memory: control block followed by its entries. */
struct rt_ring {
	struct pvio_ring_shared *sh;
	u32 count;
	u32 esize;
};

/* The checks' entries: a stamp and its complement, so that a slot read
 * before it was completely written, or twice, is caught. */
struct rt_entry {
	__le64 seq;
	__le64 check;
};

#define RT_CHECK_XOR 0x5a5a0f0fc3c3a5a5ull

static void rt_entry_make(struct rt_entry *e, u64 seq)
{
	e->seq = cpu_to_le64(seq);
	e->check = cpu_to_le64(seq ^ RT_CHECK_XOR);
}

static bool rt_entry_is(const struct rt_entry *e, u64 seq)
{
	return le64_to_cpu(e->seq) == seq &&
	       le64_to_cpu(e->check) == (seq ^ RT_CHECK_XOR);
}

/* Allocate a zeroed ring whose shared indices all start at @start. */
static int rt_ring_alloc(struct rt_ring *ring, u32 count, u32 esize, u32 start)
{
	size_t bytes = PVIO_RING_BYTES(count, esize);

	ring->sh = bytes <= PAGE_SIZE * 4 ? kzalloc(bytes, GFP_KERNEL) :
					    vzalloc(bytes);
	if (!ring->sh)
		return -ENOMEM;
	ring->count = count;
	ring->esize = esize;
	pvio_ring_shared_init(ring->sh);
	WRITE_ONCE(ring->sh->prod, cpu_to_le32(start));
	WRITE_ONCE(ring->sh->cons, cpu_to_le32(start));
	return 0;
}

static void rt_ring_free(struct rt_ring *ring)
{
	kvfree(ring->sh);
	ring->sh = NULL;
}

static u32 rt_sh_prod(const struct rt_ring *ring)
{
	return le32_to_cpu(READ_ONCE(ring->sh->prod));
}

static u32 rt_sh_cons(const struct rt_ring *ring)
{
	return le32_to_cpu(READ_ONCE(ring->sh->cons));
}

/* Attach both sides; counts as one check. */
static bool rt_attach(struct rt_result *r, struct rt_ring *ring,
		      struct pvio_prod *p, struct pvio_cons *c)
{
	int pret = pvio_prod_attach(p, ring->sh, ring->count, ring->esize);
	int cret = pvio_cons_attach(c, ring->sh, ring->count, ring->esize);

	return RT_CHECK(r, pret == 0 && cret == 0, "attach");
}

/* Put @n entries stamped @seq, @seq + 1, ...; true if all went in. */
static bool rt_put_n(struct pvio_prod *p, u64 seq, u32 n)
{
	struct rt_entry e;
	u32 i;

	for (i = 0; i < n; i++) {
		rt_entry_make(&e, seq + i);
		if (pvio_prod_put(p, &e, sizeof(e)))
			return false;
	}
	return true;
}

/* Get @n entries and check they carry @seq, @seq + 1, ... */
static bool rt_get_n(struct pvio_cons *c, u64 seq, u32 n)
{
	struct rt_entry e;
	u32 i;

	for (i = 0; i < n; i++) {
		if (pvio_cons_get(c, &e, sizeof(e)) || !rt_entry_is(&e, seq + i))
			return false;
	}
	return true;
}

static void rt_geometry(struct rt_result *r)
{
	RT_CHECK(r, pvio_ring_geometry_valid(8, 16) == 0, "geometry: 8x16 valid");
	RT_CHECK(r, pvio_ring_geometry_valid(3, 16) == -EINVAL,
		 "geometry: count not a power of two");
	RT_CHECK(r, pvio_ring_geometry_valid(1, 16) == -EINVAL,
		 "geometry: count below minimum");
	RT_CHECK(r, pvio_ring_geometry_valid(PVIO_RING_MAX_ENTRIES * 2, 16) ==
			    -EINVAL,
		 "geometry: count above maximum");
	RT_CHECK(r, pvio_ring_geometry_valid(8, 12) == -EINVAL,
		 "geometry: entry size not a multiple of 8");
	RT_CHECK(r, pvio_ring_geometry_valid(8, 0) == -EINVAL,
		 "geometry: zero entry size");
}

static int rt_empty(struct rt_result *r)
{
	struct rt_ring ring;
	struct pvio_prod p;
	struct pvio_cons c;
	struct rt_entry e;
	u8 big[sizeof(e) + 8] = { 0 };
	int ret = rt_ring_alloc(&ring, 8, sizeof(e), 0);

	if (ret)
		return ret;
	if (rt_attach(r, &ring, &p, &c)) {
		RT_CHECK(r, pvio_cons_avail(&c) == 0, "empty: nothing available");
		RT_CHECK(r, pvio_cons_get(&c, &e, sizeof(e)) == -EAGAIN,
			 "empty: get returns -EAGAIN");
		RT_CHECK(r, pvio_prod_space(&p, 1) == 8, "empty: all slots free");
		RT_CHECK(r, !pvio_prod_publish(&p),
			 "empty: publishing nothing rings no doorbell");
		RT_CHECK(r, rt_sh_prod(&ring) == 0,
			 "empty: publishing nothing stores nothing");
		pvio_cons_release(&c);
		RT_CHECK(r, rt_sh_cons(&ring) == 0,
			 "empty: releasing nothing stores nothing");
		RT_CHECK(r, pvio_cons_arm(&c, 0) == 0,
			 "empty: consumer may sleep on an empty ring");
		RT_CHECK(r, pvio_prod_put(&p, big, sizeof(big)) == -EINVAL,
			 "empty: oversized put refused");
	}
	rt_ring_free(&ring);
	return 0;
}

/* Fill the ring completely starting from indices @start, drain it, twice. */
static int rt_full(struct rt_result *r, u32 start, const char *name)
{
	struct rt_ring ring;
	struct pvio_prod p;
	struct pvio_cons c;
	struct rt_entry e;
	int ret = rt_ring_alloc(&ring, 8, sizeof(e), start);
	u64 seq = 0;
	int round;

	if (ret)
		return ret;
	if (!rt_attach(r, &ring, &p, &c))
		goto out;
	for (round = 0; round < 2; round++) {
		RT_CHECK(r, rt_put_n(&p, seq, 8), name);
		rt_entry_make(&e, seq + 8);
		RT_CHECK(r, pvio_prod_put(&p, &e, sizeof(e)) == -ENOSPC, name);
		RT_CHECK(r, pvio_prod_space(&p, 1) == 0, name);
		pvio_prod_publish(&p);
		RT_CHECK(r, rt_sh_prod(&ring) == start + (u32)seq + 8, name);
		RT_CHECK(r, pvio_cons_avail(&c) == 8, name);
		RT_CHECK(r, rt_get_n(&c, seq, 8), name);
		RT_CHECK(r, pvio_cons_get(&c, &e, sizeof(e)) == -EAGAIN, name);
		/* Still full for the producer until the consumer releases. */
		RT_CHECK(r, pvio_prod_space(&p, 1) == 0, name);
		pvio_cons_release(&c);
		RT_CHECK(r, pvio_prod_space(&p, 8) == 8, name);
		seq += 8;
	}
out:
	rt_ring_free(&ring);
	return 0;
}

/* Stream entries in uneven batches across the 2^32 index wrap. */
static int rt_wrap(struct rt_result *r)
{
	const u32 start = 0xffffffffu - 20;
	static const u32 batches[] = { 3, 8, 1, 5, 7, 2, 8, 6, 4, 8 };
	struct rt_ring ring;
	struct pvio_prod p;
	struct pvio_cons c;
	bool ok = true;
	u64 seq = 0;
	size_t i;
	int ret = rt_ring_alloc(&ring, 8, sizeof(struct rt_entry), start);

	if (ret)
		return ret;
	if (!rt_attach(r, &ring, &p, &c))
		goto out;
	for (i = 0; i < ARRAY_SIZE(batches) && ok; i++) {
		u32 n = batches[i];

		ok = rt_put_n(&p, seq, n);
		pvio_prod_publish(&p);
		ok = ok && rt_sh_prod(&ring) == start + (u32)(seq + n);
		ok = ok && pvio_cons_avail(&c) == (int)n;
		ok = ok && rt_get_n(&c, seq, n);
		pvio_cons_release(&c);
		ok = ok && rt_sh_cons(&ring) == start + (u32)(seq + n);
		seq += n;
	}
	RT_CHECK(r, ok, "wrap: batches stream across 2^32 in order");
	RT_CHECK(r, seq > 21 && rt_sh_prod(&ring) < 0x100,
		 "wrap: the indices did wrap");
	RT_CHECK(r, pvio_prod_space(&p, 8) == 8, "wrap: ring empty afterwards");
out:
	rt_ring_free(&ring);
	return 0;
}

/* A batch becomes visible with one store, and is freed with one store. */
static int rt_batch(struct rt_result *r)
{
	struct rt_ring ring;
	struct pvio_prod p;
	struct pvio_cons c;
	int ret = rt_ring_alloc(&ring, 16, sizeof(struct rt_entry), 100);

	if (ret)
		return ret;
	if (!rt_attach(r, &ring, &p, &c))
		goto out;
	RT_CHECK(r, rt_put_n(&p, 0, 5), "batch: put 5");
	RT_CHECK(r, rt_sh_prod(&ring) == 100,
		 "batch: put entries stay private until published");
	RT_CHECK(r, pvio_cons_avail(&c) == 0,
		 "batch: consumer sees nothing before publish");
	pvio_prod_publish(&p);
	RT_CHECK(r, rt_sh_prod(&ring) == 105,
		 "batch: one publish makes all 5 visible");
	RT_CHECK(r, pvio_cons_avail(&c) == 5, "batch: consumer sees 5");
	RT_CHECK(r, rt_get_n(&c, 0, 3), "batch: get first 3 in order");
	RT_CHECK(r, rt_sh_cons(&ring) == 100,
		 "batch: slots read stay owned until released");
	RT_CHECK(r, rt_get_n(&c, 3, 2), "batch: get last 2 in order");
	pvio_cons_release(&c);
	RT_CHECK(r, rt_sh_cons(&ring) == 105,
		 "batch: one release frees all 5");
	RT_CHECK(r, pvio_prod_space(&p, 16) == 16,
		 "batch: producer sees every slot free again");
out:
	rt_ring_free(&ring);
	return 0;
}

/* Doorbell decisions for both directions. */
static int rt_notify(struct rt_result *r)
{
	struct rt_ring ring;
	struct pvio_prod p;
	struct pvio_cons c;
	struct rt_entry e;
	u64 seq = 0;
	int ret = rt_ring_alloc(&ring, 8, sizeof(e), 0xfffffffeu);

	if (ret)
		return ret;
	if (!rt_attach(r, &ring, &p, &c))
		goto out;

	RT_CHECK(r, pvio_ring_need_event(5, 6, 5), "need_event: event == old");
	RT_CHECK(r, pvio_ring_need_event(9, 10, 5), "need_event: event == new - 1");
	RT_CHECK(r, !pvio_ring_need_event(10, 10, 5), "need_event: event == new");
	RT_CHECK(r, !pvio_ring_need_event(4, 10, 5), "need_event: event < old");
	RT_CHECK(r, pvio_ring_need_event(0xffffffffu, 2, 0xfffffffeu),
		 "need_event: across the wrap");

	/* Consumer armed for the next entry: the batch containing it rings. */
	RT_CHECK(r, pvio_cons_arm(&c, 0) == 0, "notify: arm on empty ring");
	RT_CHECK(r, rt_put_n(&p, seq, 3), "notify: put");
	RT_CHECK(r, pvio_prod_publish(&p),
		 "notify: prod_event at start of batch rings");
	/* Consumer did not re-arm: prod_event now lies before the batch. */
	RT_CHECK(r, rt_put_n(&p, seq + 3, 2), "notify: put");
	RT_CHECK(r, !pvio_prod_publish(&p),
		 "notify: prod_event before batch does not ring");
	/* Entries waiting: arming must say "do not sleep". */
	RT_CHECK(r, pvio_cons_arm(&c, 0) == 5,
		 "notify: arm with entries pending returns them");
	RT_CHECK(r, pvio_cons_avail(&c) == 5 && rt_get_n(&c, seq, 5),
		 "notify: drain");
	pvio_cons_release(&c);
	seq += 5;

	/* Coalescing: woken only once more than 3 entries wait, so
	 * prod_event = cons + 3 lies after the first batch, inside the next. */
	RT_CHECK(r, pvio_cons_arm(&c, 3) == 0, "notify: arm ahead 3");
	RT_CHECK(r, rt_put_n(&p, seq, 2), "notify: put");
	RT_CHECK(r, !pvio_prod_publish(&p),
		 "notify: prod_event after batch does not ring");
	RT_CHECK(r, pvio_cons_arm(&c, 3) == 0,
		 "notify: arm ahead 3 with 2 pending may sleep");
	RT_CHECK(r, rt_put_n(&p, seq + 2, 3), "notify: put");
	RT_CHECK(r, pvio_prod_publish(&p),
		 "notify: prod_event inside batch rings");
	RT_CHECK(r, pvio_cons_avail(&c) == 5 && rt_get_n(&c, seq, 5),
		 "notify: drain");
	pvio_cons_release(&c);
	seq += 5;

	/* Producer waiting for space: cons_event and arm_space. */
	RT_CHECK(r, pvio_prod_arm_space(&p, 0) == -EINVAL,
		 "arm_space: zero slots refused");
	RT_CHECK(r, pvio_prod_arm_space(&p, 9) == -EINVAL,
		 "arm_space: more than count refused");
	RT_CHECK(r, pvio_prod_arm_space(&p, 3) == 8,
		 "arm_space: enough space returns it");
	RT_CHECK(r, rt_put_n(&p, seq, 8), "arm_space: fill");
	pvio_prod_publish(&p);
	RT_CHECK(r, pvio_prod_arm_space(&p, 3) == 0,
		 "arm_space: full ring arms");
	RT_CHECK(r, pvio_cons_avail(&c) == 8 && rt_get_n(&c, seq, 2),
		 "arm_space: get 2");
	RT_CHECK(r, !pvio_cons_release_check(&c),
		 "arm_space: 2 free of 3 wanted does not ring");
	RT_CHECK(r, !pvio_cons_release_check(&c),
		 "arm_space: releasing nothing does not ring");
	RT_CHECK(r, rt_get_n(&c, seq + 2, 2), "arm_space: get 2 more");
	RT_CHECK(r, pvio_cons_release_check(&c),
		 "arm_space: reaching 3 free rings");
	RT_CHECK(r, rt_get_n(&c, seq + 4, 1), "arm_space: get 1 more");
	RT_CHECK(r, !pvio_cons_release_check(&c),
		 "arm_space: cons_event before released batch does not ring");
	RT_CHECK(r, pvio_prod_arm_space(&p, 3) == 5,
		 "arm_space: space freed meanwhile is seen");
out:
	rt_ring_free(&ring);
	return 0;
}

/* Is the consumer broken for good? Repairs the shared index first so that
 * only the sticky state can explain an -EPROTO. */
static bool rt_cons_stays_broken(struct rt_ring *ring, struct pvio_cons *c,
				 u32 sane_prod)
{
	struct rt_entry e;
	u32 cons = rt_sh_cons(ring);

	WRITE_ONCE(ring->sh->prod, cpu_to_le32(sane_prod));
	if (pvio_cons_avail(c) != -EPROTO ||
	    pvio_cons_get(c, &e, sizeof(e)) != -EPROTO ||
	    pvio_cons_arm(c, 0) != -EPROTO)
		return false;
	pvio_cons_release(c);
	if (pvio_cons_release_check(c))
		return false;
	return rt_sh_cons(ring) == cons;
}

static bool rt_prod_stays_broken(struct rt_ring *ring, struct pvio_prod *p,
				 u32 sane_cons)
{
	struct rt_entry e;
	u32 prod = rt_sh_prod(ring);

	WRITE_ONCE(ring->sh->cons, cpu_to_le32(sane_cons));
	rt_entry_make(&e, 0);
	if (pvio_prod_space(p, 1) != -EPROTO ||
	    pvio_prod_put(p, &e, sizeof(e)) != -EPROTO ||
	    pvio_prod_arm_space(p, 1) != -EPROTO)
		return false;
	if (pvio_prod_publish(p))
		return false;
	return rt_sh_prod(ring) == prod;
}

/* The consumer facing a hostile producer index. */
static int rt_hostile_prod(struct rt_result *r, u32 start)
{
	struct rt_ring ring;
	struct pvio_prod p;
	struct pvio_cons c;
	int ret = rt_ring_alloc(&ring, 8, sizeof(struct rt_entry), start);

	if (ret)
		return ret;

	/* More than size ahead of the consumer. */
	if (rt_attach(r, &ring, &p, &c)) {
		WRITE_ONCE(ring.sh->prod, cpu_to_le32(start + 9));
		RT_CHECK(r, pvio_cons_avail(&c) == -EPROTO,
			 "hostile: prod more than size ahead rejected");
		RT_CHECK(r, rt_cons_stays_broken(&ring, &c, start),
			 "hostile: consumer stays broken (prod ahead)");
	}

	/* Exactly size ahead is legal (a full ring). */
	WRITE_ONCE(ring.sh->prod, cpu_to_le32(start));
	if (rt_attach(r, &ring, &p, &c)) {
		WRITE_ONCE(ring.sh->prod, cpu_to_le32(start + 8));
		RT_CHECK(r, pvio_cons_avail(&c) == 8,
			 "hostile: prod exactly size ahead accepted");
	}

	/* Going back after the consumer saw a higher index. */
	WRITE_ONCE(ring.sh->prod, cpu_to_le32(start));
	if (rt_attach(r, &ring, &p, &c)) {
		RT_CHECK(r, rt_put_n(&p, 0, 5), "hostile: put");
		pvio_prod_publish(&p);
		RT_CHECK(r, pvio_cons_avail(&c) == 5 && rt_get_n(&c, 0, 1),
			 "hostile: consumer sees 5");
		WRITE_ONCE(ring.sh->prod, cpu_to_le32(start + 3));
		RT_CHECK(r, pvio_cons_avail(&c) == -EPROTO,
			 "hostile: prod going back rejected");
		RT_CHECK(r, rt_cons_stays_broken(&ring, &c, start + 5),
			 "hostile: consumer stays broken (prod back)");
	}

	/* Inconsistent indices found at attach. */
	WRITE_ONCE(ring.sh->prod, cpu_to_le32(start + 9));
	WRITE_ONCE(ring.sh->cons, cpu_to_le32(start));
	RT_CHECK(r, pvio_cons_attach(&c, ring.sh, 8, ring.esize) == -EPROTO,
		 "hostile: consumer attach to prod beyond size refused");
	RT_CHECK(r, pvio_cons_avail(&c) == -EPROTO,
		 "hostile: consumer refused at attach stays broken");

	rt_ring_free(&ring);
	return 0;
}

/* The producer facing a hostile consumer index. */
static int rt_hostile_cons(struct rt_result *r, u32 start)
{
	struct rt_ring ring;
	struct pvio_prod p;
	struct pvio_cons c;
	int ret = rt_ring_alloc(&ring, 8, sizeof(struct rt_entry), start);

	if (ret)
		return ret;

	/* Beyond what the producer published (put but unpublished counts
	 * as not published). */
	if (rt_attach(r, &ring, &p, &c)) {
		RT_CHECK(r, rt_put_n(&p, 0, 8), "hostile: fill");
		pvio_prod_publish(&p);
		WRITE_ONCE(ring.sh->cons, cpu_to_le32(start + 9));
		RT_CHECK(r, pvio_prod_space(&p, 1) == -EPROTO,
			 "hostile: cons beyond published prod rejected");
		RT_CHECK(r, rt_prod_stays_broken(&ring, &p, start),
			 "hostile: producer stays broken (cons ahead)");
	}

	/* Equal to the published prod is legal (everything consumed), and
	 * a put-but-unpublished slot does not count. */
	WRITE_ONCE(ring.sh->cons, cpu_to_le32(start));
	WRITE_ONCE(ring.sh->prod, cpu_to_le32(start));
	if (rt_attach(r, &ring, &p, &c)) {
		RT_CHECK(r, rt_put_n(&p, 0, 4), "hostile: put");
		pvio_prod_publish(&p);
		RT_CHECK(r, rt_put_n(&p, 4, 4), "hostile: put unpublished");
		WRITE_ONCE(ring.sh->cons, cpu_to_le32(start + 4));
		RT_CHECK(r, pvio_prod_space(&p, 8) == 4,
			 "hostile: cons == published prod accepted");
		WRITE_ONCE(ring.sh->cons, cpu_to_le32(start + 5));
		RT_CHECK(r, pvio_prod_space(&p, 8) == -EPROTO,
			 "hostile: cons past published into put slots rejected");
	}

	/* Going back below what the producer last saw. */
	WRITE_ONCE(ring.sh->cons, cpu_to_le32(start));
	WRITE_ONCE(ring.sh->prod, cpu_to_le32(start));
	if (rt_attach(r, &ring, &p, &c)) {
		RT_CHECK(r, rt_put_n(&p, 0, 8), "hostile: fill");
		pvio_prod_publish(&p);
		RT_CHECK(r, pvio_cons_avail(&c) == 8 && rt_get_n(&c, 0, 6),
			 "hostile: consume 6");
		pvio_cons_release(&c);
		RT_CHECK(r, pvio_prod_space(&p, 6) == 6,
			 "hostile: producer sees 6 free");
		WRITE_ONCE(ring.sh->cons, cpu_to_le32(start + 2));
		RT_CHECK(r, pvio_prod_space(&p, 8) == -EPROTO,
			 "hostile: cons going back rejected");
		RT_CHECK(r, rt_prod_stays_broken(&ring, &p, start + 6),
			 "hostile: producer stays broken (cons back)");
	}

	/* Consumer ahead of producer at attach. */
	WRITE_ONCE(ring.sh->prod, cpu_to_le32(start));
	WRITE_ONCE(ring.sh->cons, cpu_to_le32(start + 1));
	RT_CHECK(r, pvio_prod_attach(&p, ring.sh, 8, ring.esize) == -EPROTO,
		 "hostile: producer attach to cons ahead of prod refused");
	RT_CHECK(r, pvio_prod_space(&p, 1) == -EPROTO,
		 "hostile: producer refused at attach stays broken");

	rt_ring_free(&ring);
	return 0;
}

/*
 * Two-kthread stress. The producer stamps entries 0..n-1 and publishes them
 * in batches of varying size; the consumer checks that each arrives once and
 * in order. Both sides spin briefly when blocked, then sleep through the
 * ring's own doorbell protocol (pvio_cons_arm / pvio_prod_arm_space), so a
 * lost wakeup shows up as a stall instead of being hidden by polling.
 */
#define RT_STRESS_COUNT 256
#define RT_STRESS_SPIN 64
#define RT_STRESS_NAP (HZ / 4)
#define RT_STRESS_GRACE (2 * HZ)

struct rt_stress {
	struct rt_ring ring;
	struct pvio_prod p;
	struct pvio_cons c;
	u64 n;		/* entries to send; lowered by the producer when
			 * the time budget runs out */
	unsigned long budget_end; /* jiffies */
	bool cut_short;
	bool spin;	/* two CPUs: spin before sleeping */
	u32 prod_want;	/* slots the sleeping producer armed for */
	atomic_t abort; /* set on failure or timeout: both threads stop */
	/* Doorbells: a counter per direction plus the waiter's queue. */
	atomic_t to_cons, to_prod;
	wait_queue_head_t cons_wq, prod_wq;
	struct completion prod_done, cons_done;
	/* Results, read after both threads completed. */
	u64 received;
	u64 bad_seq;	/* first wrong stamp seen, valid if bad */
	bool bad;
	int prod_err, cons_err;
	unsigned int lost_wakeups;
	unsigned int cons_sleeps, prod_sleeps;
};

static void rt_ring_doorbell(atomic_t *db, wait_queue_head_t *wq)
{
	/* atomic_inc_return is fully ordered: the ring state published before
	 * the doorbell is visible to a waiter that sees the new count. */
	atomic_inc_return(db);
	wake_up(wq);
}

static long rt_nap(struct rt_stress *s, atomic_t *db, wait_queue_head_t *wq,
		   int seen, long timeout)
{
	return wait_event_timeout(*wq, atomic_read(db) != seen ||
					       atomic_read(&s->abort),
				  timeout);
}

/*
 * Sleep until the peer rings @db past @seen (sampled before arming). A nap
 * that ends with @ready true means the peer made progress without ringing
 * even though we armed. The peer may merely be slow between its publish and
 * its doorbell (a preempted vCPU), so only a doorbell still missing after a
 * much longer grace period counts as lost.
 */
static void rt_wait_doorbell(struct rt_stress *s, atomic_t *db,
			     wait_queue_head_t *wq, int seen,
			     bool (*ready)(struct rt_stress *s))
{
	if (rt_nap(s, db, wq, seen, RT_STRESS_NAP) || atomic_read(&s->abort) ||
	    !ready(s))
		return;
	if (!rt_nap(s, db, wq, seen, RT_STRESS_GRACE) && !atomic_read(&s->abort))
		s->lost_wakeups++;
}

static bool rt_cons_ready(struct rt_stress *s)
{
	return pvio_cons_avail(&s->c) > 0;
}

static bool rt_prod_ready(struct rt_stress *s)
{
	int space = pvio_prod_space(&s->p, RT_STRESS_COUNT + 1);

	return space > 0 && (u32)space >= s->prod_want;
}

static void rt_stress_finish(struct completion *done)
{
	complete(done);
	/* kthread_stop() needs the thread alive: wait for it. */
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop())
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
}

static int rt_stress_producer(void *arg)
{
	struct rt_stress *s = arg;
	struct rt_entry e;
	u64 seq = 0, n = s->n;
	u32 batch = 1;

	while (seq < n && !atomic_read(&s->abort)) {
		int space = pvio_prod_space(&s->p, batch);
		int spins;
		u32 i, todo;

		if (space < 0) {
			s->prod_err = space;
			atomic_set(&s->abort, 1);
			break;
		}
		for (spins = 0; space == 0 && s->spin && spins < RT_STRESS_SPIN;
		     spins++) {
			cpu_relax();
			space = pvio_prod_space(&s->p, 1);
		}
		if (space == 0) {
			int seen = atomic_read(&s->to_prod);

			s->prod_want = 1 + batch % 8;
			space = pvio_prod_arm_space(&s->p, s->prod_want);
			if (space == 0) {
				s->prod_sleeps++;
				rt_wait_doorbell(s, &s->to_prod, &s->prod_wq,
						 seen, rt_prod_ready);
				continue;
			}
			if (space < 0)
				continue; /* the next pvio_prod_space() reports it */
		}
		todo = min_t(u64, min_t(u32, batch, space), n - seq);
		for (i = 0; i < todo; i++, seq++) {
			rt_entry_make(&e, seq);
			if (pvio_prod_put(&s->p, &e, sizeof(e))) {
				s->prod_err = -EIO;
				atomic_set(&s->abort, 1);
				break;
			}
		}
		if (pvio_prod_publish(&s->p))
			rt_ring_doorbell(&s->to_cons, &s->cons_wq);
		/* Vary the batch 1..64 so both small and ring-sized publishes
		 * and every wrap position get exercised. */
		batch = batch % 64 + 1;
		if (time_after(jiffies, s->budget_end) && seq < n) {
			/* Everything below seq is published already: the
			 * consumer stops there. The doorbell wakes it if it
			 * sleeps waiting for more. */
			n = seq;
			s->cut_short = true;
			WRITE_ONCE(s->n, n);
			rt_ring_doorbell(&s->to_cons, &s->cons_wq);
		}
		cond_resched();
	}
	rt_stress_finish(&s->prod_done);
	return 0;
}

static int rt_stress_consumer(void *arg)
{
	struct rt_stress *s = arg;
	struct rt_entry e = { 0 };
	u64 expect = 0;

	while (expect < READ_ONCE(s->n) && !atomic_read(&s->abort)) {
		int avail = pvio_cons_avail(&s->c);
		int spins, i;

		for (spins = 0; avail == 0 && s->spin && spins < RT_STRESS_SPIN;
		     spins++) {
			cpu_relax();
			avail = pvio_cons_avail(&s->c);
		}
		if (avail == 0) {
			int seen = atomic_read(&s->to_cons);

			avail = pvio_cons_arm(&s->c, 0);
			if (avail == 0) {
				s->cons_sleeps++;
				rt_wait_doorbell(s, &s->to_cons, &s->cons_wq,
						 seen, rt_cons_ready);
				continue;
			}
		}
		if (avail < 0) {
			s->cons_err = avail;
			atomic_set(&s->abort, 1);
			break;
		}
		for (i = 0; i < avail; i++, expect++) {
			if (pvio_cons_get(&s->c, &e, sizeof(e)) ||
			    !rt_entry_is(&e, expect)) {
				s->bad = true;
				s->bad_seq = le64_to_cpu(e.seq);
				atomic_set(&s->abort, 1);
				break;
			}
		}
		if (pvio_cons_release_check(&s->c))
			rt_ring_doorbell(&s->to_prod, &s->prod_wq);
		cond_resched();
	}
	s->received = expect;
	rt_stress_finish(&s->cons_done);
	return 0;
}

static struct task_struct *rt_stress_start(int (*fn)(void *), struct rt_stress *s,
					   const char *name, int cpu)
{
	struct task_struct *t = kthread_create(fn, s, "%s", name);

	if (IS_ERR(t))
		return t;
	if (cpu >= 0)
		kthread_bind(t, cpu);
	wake_up_process(t);
	return t;
}

static int rt_stress_run(struct rt_result *r, u64 n, bool two_cpus, bool spin)
{
	struct task_struct *prod_t, *cons_t;
	struct rt_stress *s;
	int cpu0 = -1, cpu1 = -1;
	bool timed_out = false;
	ktime_t t0;
	s64 ms;
	int ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	/* Start near the wrap so the stress crosses it early. */
	ret = rt_ring_alloc(&s->ring, RT_STRESS_COUNT, sizeof(struct rt_entry),
			    0xffffffffu - 1000);
	if (ret)
		goto free_s;
	if (!rt_attach(r, &s->ring, &s->p, &s->c))
		goto free_ring;
	s->n = n;
	s->budget_end = jiffies + msecs_to_jiffies(stress_ms);
	atomic_set(&s->abort, 0);
	atomic_set(&s->to_cons, 0);
	atomic_set(&s->to_prod, 0);
	init_waitqueue_head(&s->cons_wq);
	init_waitqueue_head(&s->prod_wq);
	init_completion(&s->prod_done);
	init_completion(&s->cons_done);

	s->spin = spin;
	if (two_cpus) {
		cpu0 = cpumask_first(cpu_online_mask);
		cpu1 = cpumask_next(cpu0, cpu_online_mask);
	}

	t0 = ktime_get();
	cons_t = rt_stress_start(rt_stress_consumer, s, "pvio_rt_cons", cpu1);
	if (IS_ERR(cons_t)) {
		ret = PTR_ERR(cons_t);
		goto free_ring;
	}
	prod_t = rt_stress_start(rt_stress_producer, s, "pvio_rt_prod", cpu0);
	if (IS_ERR(prod_t)) {
		ret = PTR_ERR(prod_t);
		atomic_set(&s->abort, 1);
		wake_up(&s->cons_wq);
		wait_for_completion(&s->cons_done);
		kthread_stop(cons_t);
		goto free_ring;
	}

	if (!wait_for_completion_timeout(&s->cons_done,
					 (unsigned long)stress_timeout_s * HZ))
		timed_out = true;
	/* Whatever happened, both threads stop now. */
	atomic_set(&s->abort, 1);
	wake_up(&s->prod_wq);
	wake_up(&s->cons_wq);
	wait_for_completion(&s->prod_done);
	/* A completion counts: the timed wait above already took one. */
	if (timed_out)
		wait_for_completion(&s->cons_done);
	ms = ktime_ms_delta(ktime_get(), t0);
	kthread_stop(prod_t);
	kthread_stop(cons_t);

	pr_info("%s: %llu of %llu entries in %lld ms on CPUs %d/%d, sleeps prod %u cons %u%s\n",
		r->phase, s->received, n, ms, cpu0, cpu1, s->prod_sleeps,
		s->cons_sleeps, s->cut_short ? " (time budget reached)" : "");
	RT_CHECK(r, !timed_out, "finished before stress_timeout_s");
	RT_CHECK(r, !s->prod_err && !s->cons_err,
		 "no ring error on either side");
	if (!RT_CHECK(r, !s->bad, "every entry once and in order"))
		pr_err("%s: expected stamp %llu, got %llu\n", r->phase,
		       s->received, s->bad_seq);
	RT_CHECK(r, s->received == s->n && s->n > 0,
		 "every entry sent was received");
	RT_CHECK(r, s->lost_wakeups == 0, "no lost wakeup");
	RT_CHECK(r, rt_sh_prod(&s->ring) == rt_sh_cons(&s->ring),
		 "ring drained");
	ret = 0;
free_ring:
	rt_ring_free(&s->ring);
free_s:
	kfree(s);
	return ret;
}

/*
 * With two CPUs the stress runs twice: spinning before sleeping, where the
 * two sides mostly race on the indices, then sleeping at once, where every
 * stall goes through the arm / re-check / doorbell handshake across CPUs.
 * A sleeping run across CPUs costs a wakeup every few entries, so it gets an
 * eighth of the entries: still thousands of handshakes, in a fraction of
 * the time. On one CPU the sleeping run is the only one and gets them all.
 */
static int rt_stress(struct rt_result *r)
{
	bool two_cpus = num_online_cpus() >= 2;
	int ret;

	if (!stress_entries) {
		pr_info("stress: skipped (stress_entries=0)\n");
		return 0;
	}
	if (two_cpus) {
		r->phase = "stress spinning";
		ret = rt_stress_run(r, stress_entries, true, true);
		if (ret)
			goto out;
	}
	r->phase = "stress sleeping";
	ret = rt_stress_run(r, two_cpus ? max(stress_entries / 8, 1UL) :
					  stress_entries,
			    two_cpus, false);
out:
	r->phase = NULL;
	return ret;
}

static int __init pvio_ring_test_init(void)
{
	struct rt_result r = { 0 };
	int (*const steps[])(struct rt_result *) = {
		rt_empty, rt_batch, rt_wrap, rt_notify, rt_stress,
	};
	static const u32 starts[] = { 0, 0xfffffffcu };
	size_t i;
	int ret;

	rt_geometry(&r);
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		ret = steps[i](&r);
		RT_CHECK(&r, ret == 0, "allocation for a step");
	}
	for (i = 0; i < ARRAY_SIZE(starts); i++) {
		RT_CHECK(&r, rt_full(&r, starts[i], "full ring") == 0,
			 "allocation for full ring");
		RT_CHECK(&r, rt_hostile_prod(&r, starts[i]) == 0,
			 "allocation for hostile producer");
		RT_CHECK(&r, rt_hostile_cons(&r, starts[i]) == 0,
			 "allocation for hostile consumer");
	}

	if (r.failed) {
		pr_err("FAIL (%u of %u checks failed)\n", r.failed, r.checks);
		return -EINVAL;
	}
	pr_info("PASS (%u checks)\n", r.checks);
	return 0;
}

static void __exit pvio_ring_test_exit(void)
{
}

module_init(pvio_ring_test_init);
module_exit(pvio_ring_test_exit);

MODULE_DESCRIPTION("pvio ring self-test, run at load time");
MODULE_AUTHOR("pvio");
MODULE_LICENSE("Dual MIT/GPL");
