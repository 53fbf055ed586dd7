/*
 * fsck.c - verifies a whole store: every blob's content hash and size,
 * every commit's hash (plain and parent_hashes forms), parent and edit
 * links, merge parents, annotation targets and ref targets, and names
 * the parent cycles on the refs' histories.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "hash.h"
#include "internal.h"
#include "json.h"
#include "walk.h"

typedef struct {
	tract_fsck_problem *items;
	size_t count, cap;
	int oom;
} problems;

static void add(problems *p, tract_fsck_severity sev, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(problems *p, tract_fsck_severity sev, const char *object, const char *fmt, ...)
{
	tract_buf b = TRACT_BUF_INIT;
	va_list ap;

	if (p->count == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 16;
		tract_fsck_problem *n = realloc(p->items, ncap * sizeof(*n));
		if (!n) {
			p->oom = 1;
			return;
		}
		p->items = n;
		p->cap = ncap;
	}
	va_start(ap, fmt);
	if (tract_buf_vprintf(&b, fmt, ap) < 0)
		p->oom = 1;
	va_end(ap);
	p->items[p->count].severity = sev;
	p->items[p->count].object = strdup(object);
	p->items[p->count].message = tract_buf_detach(&b);
	if (!p->items[p->count].object || !p->items[p->count].message)
		p->oom = 1;
	p->count++;
}

typedef struct {
	tract_store *s;
	problems *p;
	/* merge parents of the commit being checked */
	char **parents;
	size_t n_parents;
	int in_sources;
	int err; /* a lookup failed (not "not found"): fsck fails with it */
} fsck_ctx;

static int blob_cb(const tract_blob_row *row, void *payload)
{
	fsck_ctx *c = payload;
	char err[128], hash[65];
	cJSON *v = NULL;
	char *canon, *ascii;
	size_t len = strlen(row->payload_json);
	int rc;

	rc = tract_json_parse(&v, row->payload_json, len, TRACT_JSON_NONFINITE_TO_NULL, err,
			      sizeof(err));
	if (rc == TRACT_ENOMEM)
		return rc; /* not a finding about the blob */
	if (rc < 0) {
		add(c->p, TRACT_FSCK_ERROR, row->content_hash, "blob payload is not JSON: %s",
		    err);
		return 0;
	}
	canon = tract_json_render_str(v, TRACT_JSON_CANON);
	ascii = tract_json_render_str(v, TRACT_JSON_TOKEN);
	cJSON_Delete(v);
	if (!canon || !ascii) {
		free(canon);
		free(ascii);
		return TRACT_ENOMEM;
	}
	if (tract_sha256_hex(hash, canon, strlen(canon)) == 0 &&
	    strcmp(hash, row->content_hash) != 0)
		add(c->p, TRACT_FSCK_ERROR, row->content_hash,
		    "content hash mismatch: payload hashes to %s", hash);
	/* Files of the reference's schema 1 and 2 record the length of the
	 * ASCII-escaped JSON; later ones the payload's own length. */
	if (row->byte_size != (int64_t)len && row->byte_size != (int64_t)strlen(ascii))
		add(c->p, TRACT_FSCK_ERROR, row->content_hash,
		    "byte_size %lld matches neither the payload (%zu) nor its escaped form",
		    (long long)row->byte_size, len);
	free(canon);
	free(ascii);
	return 0;
}

static int parent_list_cb(const char *commit_hash, const char *parent_hash, int64_t position,
			  void *payload)
{
	fsck_ctx *c = payload;
	char **n;

	(void)commit_hash;
	(void)position;
	n = realloc(c->parents, (c->n_parents + 1) * sizeof(*n));
	if (!n)
		return TRACT_ENOMEM;
	c->parents = n;
	c->parents[c->n_parents] = strdup(parent_hash);
	if (!c->parents[c->n_parents])
		return TRACT_ENOMEM;
	c->n_parents++;
	return 0;
}

static int exists_cb(const tract_commit_row *row, void *payload)
{
	(void)row;
	(void)payload;
	return 0;
}

static int blob_exists_cb(const tract_blob_row *row, void *payload)
{
	(void)row;
	(void)payload;
	return 0;
}

/* 1 when there, 0 when not; a failed lookup is kept in c->err (and is not
 * reported as a missing commit). */
static int lookup_result(fsck_ctx *c, int rc)
{
	if (rc == 0)
		return 1;
	if (rc == TRACT_ENOTFOUND)
		return 0;
	if (!c->err)
		c->err = rc < 0 ? rc : TRACT_ESTORAGE;
	return 1;
}

static int commit_exists(fsck_ctx *c, const char *hash)
{
	return lookup_result(c, c->s->be->commit_get(c->s->conn, NULL, hash, exists_cb, NULL));
}

static int member_cb(const char *compression_id, const char *commit_hash, int64_t position,
		     void *payload)
{
	const char *target = ((const char **)payload)[0];

	(void)compression_id;
	(void)position;
	if (strcmp(commit_hash, target) == 0) {
		((const char **)payload)[1] = "yes";
		return 1;
	}
	return 0;
}

typedef struct {
	fsck_ctx *c;
	const char *hash;
	int found;
} source_probe;

static int compression_cb(const tract_compression_row *row, void *payload)
{
	source_probe *sp = payload;
	const char *probe[2] = {sp->hash, NULL};
	int rc = sp->c->s->be->compression_members(sp->c->s->conn, TRACT_COMPRESSION_SOURCES,
						   row->compression_id, member_cb, probe);

	if (rc < 0)
		return rc;
	if (probe[1]) {
		sp->found = 1;
		return 1;
	}
	return 0;
}

static void free_parents(fsck_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_parents; i++)
		free(c->parents[i]);
	free(c->parents);
	c->parents = NULL;
	c->n_parents = 0;
}

static int commit_cb(const tract_commit_row *row, void *payload)
{
	fsck_ctx *c = payload;
	tract_commit_hash_input in;
	char plain[65], merged[65];
	int rc, ok;

	if (row->operation == TRACT_OP_UNKNOWN) {
		add(c->p, TRACT_FSCK_ERROR, row->commit_hash, "unknown operation value");
		return 0;
	}
	if (!lookup_result(c, c->s->be->blob_get(c->s->conn, row->content_hash, blob_exists_cb,
						 NULL)))
		add(c->p, TRACT_FSCK_ERROR, row->commit_hash, "content blob %s is missing",
		    row->content_hash);
	if (row->parent_hash && !commit_exists(c, row->parent_hash))
		add(c->p, TRACT_FSCK_ERROR, row->commit_hash, "parent %s is missing",
		    row->parent_hash);
	if (row->response_to && !commit_exists(c, row->response_to))
		add(c->p, TRACT_FSCK_ERROR, row->commit_hash, "response_to %s is missing",
		    row->response_to);
	if (row->operation == TRACT_OP_EDIT && !row->response_to)
		add(c->p, TRACT_FSCK_ERROR, row->commit_hash, "edit without response_to");

	rc = c->s->be->parent_list(c->s->conn, row->commit_hash, parent_list_cb, c);
	if (rc < 0) {
		free_parents(c);
		return rc;
	}
	memset(&in, 0, sizeof(in));
	in.content_hash = row->content_hash;
	in.parent_hash = row->parent_hash;
	in.content_type = row->content_type;
	in.operation = row->operation;
	in.response_to = row->response_to;
	in.created_at = row->created_at;
	rc = tract_commit_hash_compute(plain, &in);
	ok = rc == 0 && strcmp(plain, row->commit_hash) == 0;
	if (!ok && rc == 0 && c->n_parents > 1) {
		/* The parent_hashes form (DECISIONS.md): sorted [first, extras]. */
		in.extra_parents = (const char *const *)c->parents + 1;
		in.n_extra = c->n_parents - 1;
		rc = tract_commit_hash_compute(merged, &in);
		ok = rc == 0 && strcmp(merged, row->commit_hash) == 0;
	}
	{
		size_t i;
		for (i = 0; i < c->n_parents; i++)
			if (!commit_exists(c, c->parents[i]))
				add(c->p, TRACT_FSCK_ERROR, row->commit_hash,
				    "merge parent %s is missing", c->parents[i]);
	}
	free_parents(c);
	if (rc < 0)
		return rc;
	if (!ok) {
		source_probe sp = {c, row->commit_hash, 0};
		if (!row->parent_hash) {
			rc = c->s->be->compression_foreach(c->s->conn, NULL, compression_cb, &sp);
			if (rc < 0)
				return rc;
		}
		if (sp.found)
			add(c->p, TRACT_FSCK_WARNING, row->commit_hash,
			    "hash does not recompute: its parent link was blanked when the "
			    "reference's gc deleted a commit (compression source; not corruption)");
		else
			add(c->p, TRACT_FSCK_ERROR, row->commit_hash,
			    "commit hash mismatch: the stored fields hash to %s", plain);
	}
	return 0;
}

static int ref_cb(const tract_ref_row *row, void *payload)
{
	fsck_ctx *c = payload;
	char obj[400];

	snprintf(obj, sizeof(obj), "%s:%s", row->tract_id, row->ref_name);
	if (!row->commit_hash == !row->symbolic_target) {
		add(c->p, TRACT_FSCK_ERROR, obj,
		    "ref must have exactly one of a commit and a symbolic target");
		return 0;
	}
	if (row->commit_hash && !commit_exists(c, row->commit_hash))
		add(c->p, TRACT_FSCK_ERROR, obj, "ref points at missing commit %s",
		    row->commit_hash);
	if (row->symbolic_target && strncmp(row->symbolic_target, "refs/heads/", 11) != 0)
		add(c->p, TRACT_FSCK_ERROR, obj, "symbolic target '%s' is not a branch",
		    row->symbolic_target);
	return 0;
}

static int annotation_cb(const tract_annotation_row *row, void *payload)
{
	fsck_ctx *c = payload;
	char obj[32];

	snprintf(obj, sizeof(obj), "annotation %lld", (long long)row->id);
	if (row->priority == TRACT_PRIORITY_NONE)
		add(c->p, TRACT_FSCK_ERROR, obj, "unknown priority value");
	if (!commit_exists(c, row->target_hash))
		add(c->p, TRACT_FSCK_ERROR, obj, "target commit %s is missing",
		    row->target_hash);
	return 0;
}

/* ---- parent cycles: one chain walk per ref target ---------------------------- */

typedef struct {
	char (*h)[65];
	size_t n, cap;
} hash_list;

static int target_cb(const tract_ref_row *row, void *payload)
{
	hash_list *l = payload;

	if (!row->commit_hash)
		return 0;
	if (tract_array_reserve(&l->h, &l->cap, l->n + 1, sizeof(*l->h), 16) < 0)
		return TRACT_ENOMEM;
	tract_copy_id(l->h[l->n++], row->commit_hash);
	return 0;
}

static int cmp_hash(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int noop_chain_cb(const tract_chain_row *row, void *payload)
{
	(void)row;
	(void)payload;
	return 0;
}

/* Walk the first parents of every ref's commit; name each cycle once. */
static int check_cycles(fsck_ctx *c)
{
	hash_list heads = {0}, named = {0};
	char cycle[65];
	size_t i, k;
	int rc;

	rc = c->s->be->ref_foreach(c->s->conn, NULL, NULL, target_cb, &heads);
	if (rc == 0 && heads.n)
		qsort(heads.h, heads.n, sizeof(*heads.h), cmp_hash);
	for (i = 0; rc == 0 && i < heads.n; i++) {
		tract_buf name = TRACT_BUF_INIT;

		if (i && strcmp(heads.h[i], heads.h[i - 1]) == 0)
			continue;
		rc = tract_chain_walk(c->s, NULL, heads.h[i], 0, 0, INT64_MAX, noop_chain_cb, NULL,
				      "fsck", cycle);
		if (rc == 0 || !cycle[0]) {
			/* A walk stopped otherwise is reported with the links. */
			rc = rc == TRACT_ECORRUPT ? 0 : rc;
			continue;
		}
		rc = tract_parent_cycle_name(c->s, cycle, &name);
		for (k = 0; rc == 0 && k < named.n; k++)
			if (strncmp(named.h[k], name.ptr, 64) == 0)
				break;
		if (rc == 0 && k == named.n) {
			tract_ref_row r = {.commit_hash = name.ptr};

			add(c->p, TRACT_FSCK_ERROR, cycle, "parent cycle: %s", name.ptr);
			rc = target_cb(&r, &named);
		}
		rc = rc == TRACT_ENOTFOUND ? 0 : rc;
		tract_buf_dispose(&name);
	}
	free(heads.h);
	free(named.h);
	return rc;
}

static void problems_free(tract_fsck_problem *items, size_t count)
{
	size_t i;

	if (!items)
		return;
	for (i = 0; i < count; i++) {
		free(items[i].object);
		free(items[i].message);
	}
	free(items);
}

int tract_fsck_run(tract_fsck_report **out, tract_store *s)
{
	tract_fsck_report *report;
	problems p = {0};
	fsck_ctx c;
	size_t i;
	int rc;

	if (!out || !s)
		return tract_error_set(TRACT_EINVAL, "tract_fsck_run: NULL argument");
	*out = NULL;
	report = calloc(1, sizeof(*report));
	if (!report)
		return tract_error_oom();
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.p = &p;
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		goto done;
	rc = s->be->blob_foreach(s->conn, blob_cb, &c);
	if (rc == 0)
		rc = s->be->commit_foreach(s->conn, NULL, commit_cb, &c);
	if (rc == 0)
		rc = s->be->ref_foreach(s->conn, NULL, NULL, ref_cb, &c);
	if (rc == 0)
		rc = s->be->annotation_foreach(s->conn, NULL, annotation_cb, &c);
	if (rc == 0)
		rc = check_cycles(&c);
	if (rc == 0 && c.err)
		rc = c.err;
	if (rc < 0)
		rc = rc == TRACT_ENOMEM ? tract_error_oom() : tract_backend_error(s, rc, "fsck");
	else if (p.oom)
		rc = tract_error_oom();
	rc = tract_txn_end(s, rc);
done:
	report->problems = p.items;
	report->count = p.count;
	if (rc < 0) {
		tract_fsck_report_free(report);
		return rc;
	}
	for (i = 0; i < report->count; i++)
		report->errors += report->problems[i].severity == TRACT_FSCK_ERROR;
	*out = report;
	return 0;
}

void tract_fsck_report_free(tract_fsck_report *report)
{
	if (!report)
		return;
	problems_free(report->problems, report->count);
	free(report);
}
