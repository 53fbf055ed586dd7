/*
 * conformance_util.c - what the conformance tests share: fixed hashes, writing
 * blobs and commits, transactions expected to fail (held-back writes), and
 * the collectors that callbacks fill (conformance_int.h).
 */
#include "conformance_int.h"

/* ---- helpers -------------------------------------------------------------- */

/* A 64-character hash: stem padded with '0'. */
const char *H(const char *stem)
{
	return keepf("%s%0*d", stem, (int)(64 - strlen(stem)), 0);
}

void begin_write(struct conf *f)
{
	assert_int_equal(f->be->begin(f->c, TRACT_TXN_WRITE), 0);
}

void commit_txn(struct conf *f)
{
	int rc = f->be->commit(f->c);

	if (rc != 0)
		print_error("commit: %s\n", f->be->last_error(f->c));
	assert_int_equal(rc, 0);
}

/*
 * rc is the result of a write that must be refused with code (0: any
 * failure): at the call, or else by commit() when the backend holds writes
 * back. Either way the transaction is then rolled back.
 */
void expect_txn_fails(struct conf *f, int rc, int code)
{
	if (rc == 0) {
		if (!has_flag(TRACT_CONF_HOLDS_BACK_WRITES))
			fail_msg("a refused write returned 0 (a backend that reports it later "
				 "sets TRACT_CONF_HOLDS_BACK_WRITES)");
		rc = f->be->commit(f->c);
	}
	if (code)
		assert_int_equal(rc, code);
	else
		assert_true(rc < 0);
	assert_true(strlen(f->be->last_error(f->c)) > 0);
	assert_int_equal(f->be->rollback(f->c), 0);
}

void put_blob_at(struct conf *f, const char *hash, const char *payload, tract_time t)
{
	tract_blob_row b = {
		.content_hash = hash,
		.payload_json = payload,
		.byte_size = (int64_t)strlen(payload),
		.token_count = 3,
		.created_at = t,
	};
	int inserted = -1;

	assert_int_equal(f->be->blob_put(f->c, &b, &inserted), 0);
}

const char *blob_default(struct conf *f)
{
	const char *h = H("b10b");

	put_blob_at(f, h, "{\"content_type\":\"dialogue\",\"role\":\"user\",\"text\":\"hi\"}", T0);
	return h;
}

tract_commit_row commit_row(const char *hash, const char *tract, const char *parent,
				   const char *blob, tract_time t)
{
	tract_commit_row r = {
		.commit_hash = hash,
		.tract_id = tract,
		.parent_hash = parent,
		.content_hash = blob,
		.content_type = "dialogue",
		.operation = TRACT_OP_APPEND,
		.token_count = 7,
		.created_at = t,
	};

	return r;
}

void put_commit(struct conf *f, const char *hash, const char *tract, const char *parent,
		       const char *blob, tract_time t)
{
	tract_commit_row r = commit_row(hash, tract, parent, blob, t);

	assert_int_equal(f->be->commit_put(f->c, &r), 0);
}

/* Build a linear chain stem0 <- stem1 <- ... in tract; hashes[i] out. */
void put_linear(struct conf *f, const char *tract, const char *stem, int n,
		       const char *blob, const char **hashes)
{
	const char *parent = NULL;
	int i;

	for (i = 0; i < n; i++) {
		hashes[i] = H(keepf("%s%02x", stem, i));
		put_commit(f, hashes[i], tract, parent, blob, T0 + i * SEC);
		parent = hashes[i];
	}
}

/* ---- collectors ----------------------------------------------------------- */

static void copy_commit(tract_commit_row *d, const tract_commit_row *s)
{
	*d = *s;
	d->commit_hash = keep(s->commit_hash);
	d->tract_id = keep(s->tract_id);
	d->parent_hash = keep(s->parent_hash);
	d->content_hash = keep(s->content_hash);
	d->content_type = keep(s->content_type);
	d->response_to = keep(s->response_to);
	d->message = keep(s->message);
	d->metadata_json = keep(s->metadata_json);
	d->generation_config_json = keep(s->generation_config_json);
}

int on_commit(const tract_commit_row *row, void *payload)
{
	struct commits *c = payload;

	assert_true(c->n < MAXROWS);
	copy_commit(&c->r[c->n++], row);
	return c->stop_after > 0 && (int)c->n >= c->stop_after;
}

tract_commit_row get_commit(struct conf *f, const char *tract, const char *hash)
{
	struct commits c = {0};

	assert_int_equal(f->be->commit_get(f->c, tract, hash, on_commit, &c), 0);
	assert_int_equal(c.n, 1);
	return c.r[0];
}

int on_chain(const tract_chain_row *row, void *payload)
{
	struct chain *c = payload;
	char *joined = keep("");
	size_t i;

	assert_true(c->n < MAXROWS);
	copy_commit(&c->r[c->n], &row->commit);
	c->payload[c->n] = keep(row->payload_json);
	c->prio[c->n] = row->priority;
	for (i = 0; i < row->n_extra_parents; i++)
		joined = keepf("%s%s%s", joined, i ? "," : "", row->extra_parents[i]);
	c->extra[c->n] = joined;
	c->n_extra[c->n] = row->n_extra_parents;
	c->n++;
	if (c->fail_with && (int)c->n >= c->stop_after)
		return c->fail_with;
	return c->stop_after > 0 && (int)c->n >= c->stop_after;
}

int on_ref(const tract_ref_row *row, void *payload)
{
	struct refs *c = payload;
	tract_ref_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	d->tract_id = keep(row->tract_id);
	d->ref_name = keep(row->ref_name);
	d->commit_hash = keep(row->commit_hash);
	d->symbolic_target = keep(row->symbolic_target);
	return 0;
}

tract_ref_row get_ref(struct conf *f, const char *tract, const char *name)
{
	struct refs c = {0};

	assert_int_equal(f->be->ref_get(f->c, tract, name, on_ref, &c), 0);
	assert_int_equal(c.n, 1);
	return c.r[0];
}

int on_blob(const tract_blob_row *row, void *payload)
{
	struct strings *c = payload;

	assert_true(c->n < MAXROWS);
	c->num[c->n] = row->created_at;
	c->s[c->n++] = keepf("%s|%s|%lld|%lld", row->content_hash, row->payload_json,
			     (long long)row->byte_size, (long long)row->token_count);
	return 0;
}

int on_parent(const char *commit_hash, const char *parent_hash, int64_t position,
		     void *payload)
{
	struct strings *c = payload;

	assert_true(c->n < MAXROWS);
	c->num[c->n] = position;
	c->s[c->n++] = keepf("%s>%s", commit_hash, parent_hash);
	return 0;
}

int on_member(const char *compression_id, const char *commit_hash, int64_t position,
		     void *payload)
{
	return on_parent(compression_id, commit_hash, position, payload);
}

int on_meta(const char *key, const char *value, void *payload)
{
	struct strings *c = payload;

	assert_true(c->n < MAXROWS);
	c->s[c->n++] = keepf("%s=%s", key, value);
	return 0;
}

int on_annotation(const tract_annotation_row *row, void *payload)
{
	struct annotations *c = payload;
	tract_annotation_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	*d = *row;
	d->tract_id = keep(row->tract_id);
	d->target_hash = keep(row->target_hash);
	d->reason = keep(row->reason);
	return 0;
}

int on_compression(const tract_compression_row *row, void *payload)
{
	struct compressions *c = payload;
	tract_compression_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	*d = *row;
	d->compression_id = keep(row->compression_id);
	d->tract_id = keep(row->tract_id);
	d->branch_name = keep(row->branch_name);
	d->instructions = keep(row->instructions);
	return 0;
}

int on_spawn(const tract_spawn_row *row, void *payload)
{
	struct spawns *c = payload;
	tract_spawn_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	*d = *row;
	d->parent_tract_id = keep(row->parent_tract_id);
	d->parent_commit_hash = keep(row->parent_commit_hash);
	d->child_tract_id = keep(row->child_tract_id);
	d->purpose = keep(row->purpose);
	d->inheritance_mode = keep(row->inheritance_mode);
	d->display_name = keep(row->display_name);
	return 0;
}

int on_tract(const tract_tract_row *row, void *payload)
{
	struct tracts *c = payload;
	tract_tract_row *d = &c->r[c->n++];

	assert_true(c->n <= MAXROWS);
	*d = *row;
	d->tract_id = keep(row->tract_id);
	return 0;
}

const tract_tract_row *find_tract(const struct tracts *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->r[i].tract_id, id) == 0)
			return &t->r[i];
	return NULL;
}
