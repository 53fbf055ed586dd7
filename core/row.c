/*
 * row.c - commits as the core holds them: rows copied out of the backend
 * (every string in one block), the public commit objects and lists built
 * on them, the JSON of a commit, and the names of operations (model layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"
#include "row.h"

struct tract_commit {
	tract_row row;
};

/* ---- rows ---- */

/* Room for an optional string in a row's block. */
static size_t opt_len(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copy an optional string into the block at *at. */
static char *opt_put(char **at, const char *s, size_t len)
{
	char *dst = *at;

	if (!s)
		return NULL;
	memcpy(dst, s, len);
	*at += len;
	return dst;
}

/*
 * Copy a row; every string of the copy lives in one allocation (r->mem),
 * so a row costs one malloc however many columns it has.
 */
static int row_copy(tract_row *d, const tract_commit_row *s, const tract_chain_row *chain,
		    unsigned skip)
{
	const char *ctype = s->content_type ? s->content_type : "unknown";
	const char *payload = chain && !(skip & TRACT_ROW_SKIP_PAYLOAD) ? chain->payload_json
									 : NULL;
	const char *message = skip & TRACT_ROW_SKIP_TEXTS ? NULL : s->message;
	const char *metadata = skip & TRACT_ROW_SKIP_TEXTS ? NULL : s->metadata_json;
	size_t n_extra = chain ? chain->n_extra_parents : 0;
	size_t l_parent = opt_len(s->parent_hash), l_ctype = opt_len(ctype),
	       l_resp = opt_len(s->response_to), l_msg = opt_len(message),
	       l_meta = opt_len(metadata), l_cfg = opt_len(s->generation_config_json),
	       l_payload = opt_len(payload), l_extra = 0, i;
	char *at;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < n_extra; i++)
		l_extra += opt_len(chain->extra_parents[i]);
	d->mem = malloc(n_extra * sizeof(char *) + l_parent + l_ctype + l_resp + l_msg + l_meta +
			l_cfg + l_payload + l_extra + 1);
	if (!d->mem)
		return TRACT_ENOMEM;
	at = d->mem;
	if (n_extra) {
		d->extra_parents = (char **)(void *)at;
		d->n_extra = n_extra;
		at += n_extra * sizeof(char *);
		for (i = 0; i < n_extra; i++)
			d->extra_parents[i] = opt_put(&at, chain->extra_parents[i],
						      opt_len(chain->extra_parents[i]));
	}
	tract_copy_id(d->hash, s->commit_hash);
	tract_copy_id(d->tract_id, s->tract_id);
	tract_copy_id(d->content_hash, s->content_hash);
	d->operation = s->operation;
	d->token_count = s->token_count;
	d->created_at = s->created_at;
	d->priority = chain ? chain->priority : TRACT_PRIORITY_NONE;
	d->parent = opt_put(&at, s->parent_hash, l_parent);
	d->content_type = opt_put(&at, ctype, l_ctype);
	d->response_to = opt_put(&at, s->response_to, l_resp);
	d->message = opt_put(&at, message, l_msg);
	d->metadata = opt_put(&at, metadata, l_meta);
	d->config = opt_put(&at, s->generation_config_json, l_cfg);
	d->payload = opt_put(&at, payload, l_payload);
	return 0;
}

int tract_row_copy(tract_row *d, const tract_commit_row *s)
{
	return row_copy(d, s, NULL, 0);
}

int tract_row_copy_chain(tract_row *d, const tract_chain_row *s)
{
	return row_copy(d, &s->commit, s, 0);
}

int tract_row_copy_chain_part(tract_row *d, const tract_chain_row *s, unsigned skip)
{
	return row_copy(d, &s->commit, s, skip);
}

void tract_row_dispose(tract_row *r)
{
	free(r->mem);
	memset(r, 0, sizeof(*r));
}

tract_commit *tract_commit_from_row(tract_row *r)
{
	tract_commit *c = malloc(sizeof(*c));

	if (!c) {
		tract_row_dispose(r);
		return NULL;
	}
	c->row = *r;
	memset(r, 0, sizeof(*r));
	return c;
}

tract_row *tract_commit_row_of(tract_commit *c)
{
	return &c->row;
}

void tract_commit_free(tract_commit *c)
{
	if (!c)
		return;
	tract_row_dispose(&c->row);
	free(c);
}

const char *tract_commit_hash(const tract_commit *c) { return c->row.hash; }
const char *tract_commit_tract_id(const tract_commit *c) { return c->row.tract_id; }
const char *tract_commit_parent(const tract_commit *c) { return c->row.parent; }
const char *tract_commit_content_hash(const tract_commit *c) { return c->row.content_hash; }
const char *tract_commit_content_type(const tract_commit *c) { return c->row.content_type; }
tract_operation tract_commit_operation(const tract_commit *c) { return c->row.operation; }
const char *tract_commit_response_to(const tract_commit *c) { return c->row.response_to; }
const char *tract_commit_message(const tract_commit *c) { return c->row.message; }
int64_t tract_commit_token_count(const tract_commit *c) { return c->row.token_count; }
const char *tract_commit_metadata(const tract_commit *c) { return c->row.metadata; }
const char *tract_commit_generation_config(const tract_commit *c) { return c->row.config; }
tract_time tract_commit_time(const tract_commit *c) { return c->row.created_at; }
const char *tract_commit_content(const tract_commit *c) { return c->row.payload; }
size_t tract_commit_extra_parent_count(const tract_commit *c) { return c->row.n_extra; }

const char *tract_commit_extra_parent(const tract_commit *c, size_t i)
{
	return i < c->row.n_extra ? c->row.extra_parents[i] : NULL;
}

void tract_commit_list_free(tract_commit_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		tract_commit_free(list->items[i]);
	free(list->items);
	free(list);
}

int tract_commit_list_push(tract_commit_list *l, size_t *cap, tract_row *r)
{
	tract_commit *c;

	if (l->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		tract_commit **p = realloc(l->items, ncap * sizeof(*p));
		if (!p) {
			tract_row_dispose(r);
			return TRACT_ENOMEM;
		}
		l->items = p;
		*cap = ncap;
	}
	c = tract_commit_from_row(r);
	if (!c)
		return TRACT_ENOMEM;
	l->items[l->count++] = c;
	return 0;
}

/* ---- JSON of a commit (CLI.md log --json) ----------------------------------- */

static int put_json_str(tract_buf *b, const char *s)
{
	if (!s)
		return tract_buf_puts(b, "null");
	return tract_json_escape(b, s, strlen(s), 0);
}

/* Stored JSON column re-rendered in caller order; invalid text as a string. */
static int put_json_column(tract_buf *b, const char *json)
{
	char err[64];
	cJSON *v = NULL;
	int rc;

	if (!json)
		return tract_buf_puts(b, "null");
	rc = tract_json_parse(&v, json, strlen(json), 0, err, sizeof(err));
	if (rc == TRACT_ENOMEM)
		return rc;
	if (rc < 0)
		return put_json_str(b, json);
	rc = tract_json_render(b, v, TRACT_JSON_FLAT);
	cJSON_Delete(v);
	return rc;
}

int tract_commit_json_base(char **out, const tract_commit *c)
{
	tract_buf b = TRACT_BUF_INIT;
	char when[48];
	int rc = 0;

	*out = NULL;
	rc |= tract_buf_puts(&b, "{\"commit_hash\": ");
	rc |= put_json_str(&b, c->row.hash);
	rc |= tract_buf_puts(&b, ", \"parent_hash\": ");
	rc |= put_json_str(&b, c->row.parent);
	rc |= tract_buf_puts(&b, ", \"content_type\": ");
	rc |= put_json_str(&b, c->row.content_type);
	rc |= tract_buf_puts(&b, ", \"operation\": ");
	rc |= put_json_str(&b, tract_operation_name(c->row.operation));
	rc |= tract_buf_puts(&b, ", \"response_to\": ");
	rc |= put_json_str(&b, c->row.response_to);
	rc |= tract_buf_puts(&b, ", \"message\": ");
	rc |= put_json_str(&b, c->row.message);
	rc |= tract_buf_printf(&b, ", \"token_count\": %" PRId64, c->row.token_count);
	tract_time_format(when, sizeof(when), c->row.created_at);
	rc |= tract_buf_printf(&b, ", \"created_at\": \"%s\"", when);
	rc |= tract_buf_puts(&b, ", \"metadata\": ");
	rc |= put_json_column(&b, c->row.metadata);
	rc |= tract_buf_puts(&b, ", \"generation_config\": ");
	rc |= put_json_column(&b, c->row.config);
	rc |= tract_buf_puts(&b, ", \"tract_id\": ");
	rc |= put_json_str(&b, c->row.tract_id);
	rc |= tract_buf_puts(&b, ", \"content_hash\": ");
	rc |= put_json_str(&b, c->row.content_hash);
	rc |= tract_buf_putc(&b, '}');
	if (rc) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	*out = tract_buf_detach(&b);
	return 0;
}

int tract_row_copy_cb(const tract_commit_row *row, void *payload)
{
	return tract_row_copy(payload, row);
}

/* ---- operations ---- */

const char *tract_operation_name(tract_operation op)
{
	switch (op) {
	case TRACT_OP_APPEND: return "append";
	case TRACT_OP_EDIT: return "edit";
	default: return "unknown";
	}
}

int tract_operation_parse(tract_operation *out, const char *name)
{
	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_operation_parse: out is NULL");
	if (name && strcasecmp(name, "append") == 0)
		*out = TRACT_OP_APPEND;
	else if (name && strcasecmp(name, "edit") == 0)
		*out = TRACT_OP_EDIT;
	else
		return tract_error_set(TRACT_EINVAL, "unknown operation '%.64s' (append or edit)",
				       name ? name : "(null)");
	return 0;
}
