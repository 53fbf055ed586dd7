/*
 * conformance_watch.c - conformance tests of ref_watch (ABI version 4,
 * OPTIONAL): armed by a first call, woken by another connection's
 * committed ref change, a timeout without one, refused inside a
 * transaction.
 */
#include <time.h>

#include "conformance_int.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_ref_watch_wakes_on_commit(void **state)
{
	struct conf *f = STORE(*state);
	tract_backend_conn *other = NULL;
	tract_ref_row was = {0};
	const char *h[3];
	char err[256] = "";
	int64_t t0;

	begin_write(f);
	put_linear(f, "t", "w", 3, blob_default(f), h);
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/main", h[0], NULL, NULL), 0);
	commit_txn(f);
	assert_int_equal(f->be->open(&other, f->location, 0, err, sizeof(err)), 0);

	/* Armed; nothing changes: a timeout. */
	assert_int_equal(f->be->ref_watch(other, "t", 0), 0);
	t0 = now_ms();
	assert_int_equal(f->be->ref_watch(other, "t", 100), TRACT_ETIMEOUT);
	assert_true(now_ms() - t0 >= 90);
	assert_non_null(strstr(f->be->last_error(other), "timed out"));

	/* Another connection moves the branch: the watcher returns at once. */
	begin_write(f);
	was.commit_hash = h[0];
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/main", h[1], NULL, &was), 0);
	commit_txn(f);
	t0 = now_ms();
	assert_int_equal(f->be->ref_watch(other, "t", 10000), 0);
	assert_true(now_ms() - t0 < 5000);

	/* A deletion counts too. */
	begin_write(f);
	assert_int_equal(f->be->ref_cas(f->c, "t", "refs/heads/side", h[2], NULL, NULL), 0);
	commit_txn(f);
	assert_int_equal(f->be->ref_watch(other, "t", 10000), 0);
	begin_write(f);
	assert_int_equal(f->be->ref_delete(f->c, "t", "refs/heads/side", NULL), 0);
	commit_txn(f);
	assert_int_equal(f->be->ref_watch(other, "t", 10000), 0);

	/* Not inside a transaction. */
	assert_int_equal(f->be->begin(other, TRACT_TXN_READ), 0);
	assert_int_equal(f->be->ref_watch(other, "t", 10), TRACT_EINVAL);
	assert_int_equal(f->be->commit(other), 0);
	f->be->close(other);
}

const struct conf_test tract_conf_watch_tests[] = {
	CONF_TEST(test_ref_watch_wakes_on_commit, CONF_NEEDS_TWO_CONNECTIONS | CONF_NEEDS_WATCH),
	{NULL, NULL, 0},
};
