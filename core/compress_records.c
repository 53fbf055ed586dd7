/*
 * compress_records.c - compression provenance (spec/agents.md §1.9): the
 * records a tract's compressions left (ours or the reference's), their
 * JSON, and the lookup of the record a commit is a summary or a source of
 * (what `log` and `show` print).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "tract/compress.h"

/* ---- provenance records ------------------------------------------------------------ */

typedef struct {
	tract_compression_record *items;
	size_t n, cap;
} rec_acc;

static int rec_cb(const tract_compression_row *row, void *payload)
{
	rec_acc *a = payload;
	tract_compression_record *x;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		tract_compression_record *q = realloc(a->items, cap * sizeof(*q));
		if (!q)
			return TRACT_ENOMEM;
		a->items = q;
		a->cap = cap;
	}
	x = &a->items[a->n++];
	memset(x, 0, sizeof(*x));
	tract_copy_id(x->compression_id, row->compression_id);
	tract_copy_id(x->tract_id, row->tract_id);
	x->created_at = row->created_at;
	x->original_tokens = row->original_tokens;
	x->compressed_tokens = row->compressed_tokens;
	x->target_tokens = row->target_tokens;
	if ((row->branch_name && !(x->branch_name = strdup(row->branch_name))) ||
	    (row->instructions && !(x->instructions = strdup(row->instructions))))
		return TRACT_ENOMEM;
	return 0;
}

typedef struct {
	tract_hash_hex *items;
	size_t n, cap;
} mem_acc;

static int mem_cb(const char *id, const char *hash, int64_t pos, void *payload)
{
	mem_acc *a = payload;

	(void)id;
	(void)pos; /* the backend lists members by position */
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		tract_hash_hex *q = realloc(a->items, cap * sizeof(*q));
		if (!q)
			return TRACT_ENOMEM;
		a->items = q;
		a->cap = cap;
	}
	tract_copy_id(a->items[a->n++], hash);
	return 0;
}

/* The message of a commit: "Compressed <n> commits" gives n, else 0. */
static int msg_cb(const tract_commit_row *row, void *payload)
{
	size_t *n = payload;
	const char *m = row->message;
	char *end = NULL;
	unsigned long long v;

	*n = 0;
	if (!m || strncmp(m, "Compressed ", 11) != 0 || !isdigit((unsigned char)m[11]))
		return 0;
	v = strtoull(m + 11, &end, 10);
	if (end && strcmp(end, " commits") == 0 && v > 0 && v < SIZE_MAX)
		*n = (size_t)v;
	return 0;
}

/* Inside the read transaction: rec->group_sizes from its summaries'
 * messages, when they add up to the sources (else NULL). */
static int group_sizes_read(tract_store *s, tract_compression_record *rec)
{
	size_t *g, total = 0;
	int rc = 0;

	rec->group_sizes = NULL;
	if (!rec->n_results)
		return 0;
	g = calloc(rec->n_results, sizeof(*g));
	if (!g)
		return TRACT_ENOMEM;
	for (size_t k = 0; k < rec->n_results; k++) {
		rc = s->be->commit_get(s->conn, rec->tract_id, rec->results[k], msg_cb, &g[k]);
		if (rc == TRACT_ENOTFOUND) {
			rc = 0;
			g[k] = 0;
		}
		if (rc < 0)
			break;
		if (!g[k] || g[k] > rec->n_sources)
			total = SIZE_MAX;
		else if (total != SIZE_MAX)
			total += g[k];
	}
	if (rc < 0 || total != rec->n_sources) {
		free(g);
		return rc < 0 ? rc : 0;
	}
	rec->group_sizes = g;
	return 0;
}

int tract_compression_record_group(size_t *first, size_t *count, const tract_compression_record *r,
                                   size_t result_index)
{
	size_t off = 0;

	if (!first || !count || !r)
		return tract_error_set(TRACT_EINVAL, "tract_compression_record_group: NULL argument");
	if (result_index >= r->n_results)
		return tract_error_set(TRACT_EINVAL,
		                       "result %zu out of range (the compression has %zu)",
		                       result_index, r->n_results);
	if (!r->group_sizes) {
		*first = 0;
		*count = r->n_sources;
		return 0;
	}
	for (size_t k = 0; k < result_index; k++)
		off += r->group_sizes[k];
	*first = off;
	*count = r->group_sizes[result_index];
	return 0;
}

void tract_compression_records_free(tract_compression_record *records, size_t count)
{
	for (size_t i = 0; records && i < count; i++) {
		free(records[i].branch_name);
		free(records[i].instructions);
		free(records[i].sources);
		free(records[i].results);
		free(records[i].group_sizes);
	}
	free(records);
}

int tract_compression_records(tract_compression_record **out, size_t *count, tract *t)
{
	rec_acc a = {NULL, 0, 0};
	tract_store *s;
	int rc;

	if (!out || !count || !t)
		return tract_error_set(TRACT_EINVAL, "tract_compression_records: NULL argument");
	*out = NULL;
	*count = 0;
	s = t->store;
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = s->be->compression_foreach(s->conn, t->id, rec_cb, &a);
	for (size_t i = 0; rc >= 0 && i < a.n; i++) {
		mem_acc m = {NULL, 0, 0};

		rc = s->be->compression_members(s->conn, TRACT_COMPRESSION_SOURCES,
		                                a.items[i].compression_id, mem_cb, &m);
		a.items[i].sources = m.items;
		a.items[i].n_sources = m.n;
		if (rc < 0)
			break;
		memset(&m, 0, sizeof(m));
		rc = s->be->compression_members(s->conn, TRACT_COMPRESSION_RESULTS,
		                                a.items[i].compression_id, mem_cb, &m);
		a.items[i].results = m.items;
		a.items[i].n_results = m.n;
		if (rc >= 0)
			rc = group_sizes_read(s, &a.items[i]);
	}
	if (rc < 0)
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
		                        : tract_backend_error(s, rc, "read compression records");
	rc = tract_txn_end(s, rc);
	if (rc < 0) {
		tract_compression_records_free(a.items, a.n);
		return rc;
	}
	*out = a.items;
	*count = a.n;
	return 0;
}

static int record_json(tract_buf *b, const tract_compression_record *x)
{
	char when[64];
	int rc = 0;

	tract_time_format(when, sizeof(when), x->created_at);
	rc |= tract_buf_printf(b, "{\"compression_id\": \"%s\", \"tract_id\": \"%s\", \"branch_name\": ",
	                       x->compression_id, x->tract_id);
	rc |= x->branch_name ? tract_json_escape(b, x->branch_name, strlen(x->branch_name), 0)
	                     : tract_buf_puts(b, "null");
	rc |= tract_buf_printf(b,
	                       ", \"created_at\": \"%s\", \"original_tokens\": %" PRId64
	                       ", \"compressed_tokens\": %" PRId64 ", \"target_tokens\": ",
	                       when, x->original_tokens, x->compressed_tokens);
	rc |= x->target_tokens >= 0 ? tract_buf_printf(b, "%" PRId64, x->target_tokens)
	                            : tract_buf_puts(b, "null");
	rc |= tract_buf_puts(b, ", \"instructions\": ");
	rc |= x->instructions ? tract_json_escape(b, x->instructions, strlen(x->instructions), 0)
	                      : tract_buf_puts(b, "null");
	rc |= tract_buf_puts(b, ", \"sources\": [");
	for (size_t k = 0; k < x->n_sources; k++)
		rc |= tract_buf_printf(b, "%s\"%s\"", k ? ", " : "", x->sources[k]);
	rc |= tract_buf_puts(b, "], \"results\": [");
	for (size_t k = 0; k < x->n_results; k++)
		rc |= tract_buf_printf(b, "%s\"%s\"", k ? ", " : "", x->results[k]);
	rc |= tract_buf_puts(b, "]}");
	return rc;
}

int tract_compression_records_to_json(char **out, const tract_compression_record *r, size_t n)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc = 0;

	if (!out || (!r && n))
		return tract_error_set(TRACT_EINVAL,
		                       "tract_compression_records_to_json: NULL argument");
	*out = NULL;
	rc |= tract_buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		rc |= i ? tract_buf_puts(&b, ", ") : 0;
		rc |= record_json(&b, &r[i]);
	}
	rc |= tract_buf_putc(&b, ']');
	return tract_buf_finish(out, &b, rc);
}

int tract_compression_record_to_json(char **out, const tract_compression_record *r)
{
	tract_buf b = TRACT_BUF_INIT;

	if (!out || !r)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_compression_record_to_json: NULL argument");
	*out = NULL;
	return tract_buf_finish(out, &b, record_json(&b, r));
}

/* ---- lookup by commit ------------------------------------------------------------ */

static int list_has(const tract_hash_hex *l, size_t n, const char *hash, size_t *member)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i], hash) == 0) {
			if (member)
				*member = i;
			return 1;
		}
	return 0;
}

size_t tract_compression_records_find(const tract_compression_record *records, size_t count,
                                      const char *commit_hash, tract_compression_role role,
                                      size_t *member)
{
	if (!records || !commit_hash)
		return count;
	/* the latest record naming it: records are oldest first */
	for (size_t i = count; i-- > 0;) {
		const tract_compression_record *x = &records[i];

		if (role == TRACT_COMPRESSION_AS_SOURCE
		        ? list_has(x->sources, x->n_sources, commit_hash, member)
		        : list_has(x->results, x->n_results, commit_hash, member))
			return i;
	}
	return count;
}

void tract_compression_record_free(tract_compression_record *r)
{
	if (!r)
		return;
	free(r->branch_name);
	free(r->instructions);
	free(r->sources);
	free(r->results);
	free(r->group_sizes);
	free(r);
}

static int hashes_dup(tract_hash_hex **out, const tract_hash_hex *l, size_t n)
{
	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		return -1;
	memcpy(*out, l, n * sizeof(*l));
	return 0;
}

int tract_compression_lookup(tract_compression_record **out, tract *t, const char *commit_hash,
                             tract_compression_role role)
{
	tract_compression_record *recs = NULL, *x, *copy;
	size_t n = 0, i;
	int rc;

	if (out)
		*out = NULL;
	if (!out || !t || !commit_hash)
		return tract_error_set(TRACT_EINVAL, "tract_compression_lookup: NULL argument");
	if (role != TRACT_COMPRESSION_AS_RESULT && role != TRACT_COMPRESSION_AS_SOURCE)
		return tract_error_set(TRACT_EINVAL, "tract_compression_lookup: unknown role %d",
		                       (int)role);
	if (strlen(commit_hash) != TRACT_HASH_HEXSIZE)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_compression_lookup: '%s' is not a full commit hash",
		                       commit_hash);
	rc = tract_compression_records(&recs, &n, t);
	if (rc < 0)
		return rc;
	i = tract_compression_records_find(recs, n, commit_hash, role, NULL);
	if (i == n) {
		tract_compression_records_free(recs, n);
		return tract_error_set(TRACT_ENOTFOUND, "Commit %.8s is not %s of a compression",
		                       commit_hash,
		                       role == TRACT_COMPRESSION_AS_SOURCE ? "a source" : "a summary");
	}
	x = &recs[i];
	copy = calloc(1, sizeof(*copy));
	if (copy) {
		*copy = *x;
		copy->branch_name = x->branch_name ? strdup(x->branch_name) : NULL;
		copy->instructions = x->instructions ? strdup(x->instructions) : NULL;
		copy->sources = NULL;
		copy->results = NULL;
		copy->group_sizes = NULL;
		if (x->group_sizes &&
		    (copy->group_sizes = calloc(x->n_results + 1, sizeof(size_t))))
			memcpy(copy->group_sizes, x->group_sizes, x->n_results * sizeof(size_t));
		if ((x->branch_name && !copy->branch_name) ||
		    (x->instructions && !copy->instructions) ||
		    hashes_dup(&copy->sources, x->sources, x->n_sources) ||
		    hashes_dup(&copy->results, x->results, x->n_results) ||
		    (x->group_sizes && !copy->group_sizes)) {
			tract_compression_record_free(copy);
			copy = NULL;
		}
	}
	tract_compression_records_free(recs, n);
	if (!copy)
		return tract_error_oom();
	*out = copy;
	return 0;
}
