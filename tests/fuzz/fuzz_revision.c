/*
 * fuzz_revision.c - libFuzzer target for revision parsing
 * (tract_revision_resolve, tract_commit_lookup) against a small in-memory
 * SQLite store: 40 commits (so short hex prefixes are ambiguous), a merge
 * commit with three parents (REV^2, REV^3), a few branches, tags (one named
 * like a branch) and ORIG_HEAD. Any string resolves to one of the store's
 * commits or fails with TRACT_ENOTFOUND, TRACT_EAMBIGUOUS or TRACT_EINVAL;
 * lookup agrees.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "hash.h"
#include "internal.h"
#include "tract/commit.h"
#include "tract/refs.h"
#include "tract/store.h"

#define N_COMMITS 40

static tract_store *store;
static tract *tr;
static char hashes[N_COMMITS + 1][TRACT_HASH_HEXSIZE + 1]; /* the last: the merge */

static void setup_fail(const char *what)
{
	fprintf(stderr, "fuzz_revision: %s: %s\n", what, tract_error_last()->message);
	exit(1);
}

static void branch(const char *name, const char *hash)
{
	if (store->be->begin(store->conn, TRACT_TXN_WRITE) != 0 ||
	    store->be->ref_cas(store->conn, tr->id, name, hash, NULL, NULL) != 0 ||
	    store->be->commit(store->conn) != 0)
		setup_fail("make a branch");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char text[64];
	int i;

	(void)argc;
	(void)argv;
	if (tract_store_open(&store, ":memory:", TRACT_STORE_CREATE) != 0)
		setup_fail("open :memory:");
	if (tract_create(&tr, store, "t", NULL, NULL) != 0)
		setup_fail("create the tract");
	for (i = 0; i < N_COMMITS; i++) {
		tract_commit *c;
		snprintf(text, sizeof(text), "turn %d", i);
		if (tract_commit_create_dialogue(&c, tr, i % 2 ? "assistant" : "user", text, NULL,
						 NULL) != 0)
			setup_fail("commit");
		strcpy(hashes[i], tract_commit_hash(c));
		tract_commit_free(c);
	}
	branch("refs/heads/feature", hashes[3]);
	branch("refs/heads/a/b", hashes[7]);
	branch("refs/heads/HEAD", hashes[9]);
	/* a merge of 39 with 3 and 12 (parents 1, 2, 3) on branch "merge" */
	{
		static const char payload[] = "{\"content_type\": \"freeform\", \"payload\": 1}";
		char ch[65];
		tract_blob_row blob = {ch, payload, (int64_t)sizeof(payload) - 1, 0, 1};
		tract_commit_row row = {0};
		char *m = hashes[N_COMMITS];
		if (tract_sha256_hex(ch, payload, sizeof(payload) - 1) != 0 ||
		    tract_sha256_hex(m, ch, 64) != 0)
			setup_fail("hash");
		row.commit_hash = m;
		row.tract_id = tr->id;
		row.parent_hash = hashes[39];
		row.content_hash = ch;
		row.content_type = "freeform";
		row.operation = TRACT_OP_APPEND;
		row.created_at = tract_time_now();
		if (store->be->begin(store->conn, TRACT_TXN_WRITE) != 0 ||
		    store->be->blob_put(store->conn, &blob, NULL) != 0 ||
		    store->be->commit_put(store->conn, &row) != 0 ||
		    store->be->parent_put(store->conn, m, hashes[39], 0) != 0 ||
		    store->be->parent_put(store->conn, m, hashes[3], 1) != 0 ||
		    store->be->parent_put(store->conn, m, hashes[12], 2) != 0 ||
		    store->be->commit(store->conn) != 0)
			setup_fail("make a merge");
		branch("refs/heads/merge", m);
	}
	/* tags (one named like a branch) and ORIG_HEAD */
	if (tract_tag_create(NULL, tr, "v1", "HEAD~5") != 0 ||
	    tract_tag_create(NULL, tr, "feature", hashes[6]) != 0 ||
	    tract_reset(NULL, tr, "HEAD~1", TRACT_RESET_SOFT) != 0 ||
	    tract_reset(NULL, tr, "ORIG_HEAD", TRACT_RESET_SOFT) != 0)
		setup_fail("tags and ORIG_HEAD");
	/* a branch named like a hash prefix of another commit */
	{
		char name[32];
		snprintf(name, sizeof(name), "refs/heads/%.6s", hashes[20]);
		branch(name, hashes[11]);
	}
	return 0;
}

static int known(const char *h)
{
	int i;

	for (i = 0; i <= N_COMMITS; i++)
		if (strcmp(h, hashes[i]) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[TRACT_HASH_HEXSIZE + 1], *ref;
	tract_commit *c = NULL;
	int rc, rc2;

	if (!store)
		LLVMFuzzerInitialize(NULL, NULL);
	if (!(ref = malloc(size + 1)))
		abort();
	memcpy(ref, data, size);
	ref[size] = '\0';
	memset(out, 'x', sizeof(out));
	rc = tract_revision_resolve(out, tr, ref);
	if (!fz_rc_in(rc, TRACT_ENOTFOUND, TRACT_EAMBIGUOUS, TRACT_EINVAL, 1))
		fz_fail("resolve returned %d", rc);
	if (rc == 0 && (memchr(out, '\0', sizeof(out)) == NULL || !known(out)))
		fz_fail("resolve gave no commit of the store");
	rc2 = tract_commit_lookup(&c, tr, ref);
	if (rc2 != rc)
		fz_fail("lookup returned %d, resolve %d", rc2, rc);
	if (rc2 == 0 && strcmp(tract_commit_hash(c), out) != 0)
		fz_fail("lookup found %s, resolve %s", tract_commit_hash(c), out);
	tract_commit_free(c);
	free(ref);
	return 0;
}
