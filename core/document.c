/*
 * document.c - the JSON documents of the CLI's --json output (CLI.md) for
 * a tract's status, a store's tracts, an fsck report, the plugins found
 * and a clone's figures, so a C program prints what `tract` prints.
 * Renderings: they read only the public structs they are given.
 */
#include <inttypes.h>
#include <string.h>

#include "internal.h"
#include "json.h"

/* A JSON string, or null for NULL. */
static int put_str(tract_buf *b, const char *s)
{
	if (!s)
		return tract_buf_puts(b, "null");
	return tract_json_escape(b, s, strlen(s), 0);
}

/* `, "key": ` before every member but the first of an object. */
static int put_key(tract_buf *b, const char *key)
{
	int first = b->len && b->ptr[b->len - 1] == '{';

	return tract_buf_printf(b, "%s\"%s\": ", first ? "" : ", ", key);
}

static int put_int_member(tract_buf *b, const char *key, int64_t v)
{
	return put_key(b, key) | tract_buf_printf(b, "%" PRId64, v);
}

static int put_str_member(tract_buf *b, const char *key, const char *s)
{
	return put_key(b, key) | put_str(b, s);
}

int tract_status_to_json(char **out, const tract_status *st)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_status_to_json: out is NULL");
	*out = NULL;
	if (!st)
		return tract_error_set(TRACT_EINVAL, "tract_status_to_json: status is NULL");
	rc = tract_buf_putc(&b, '{');
	rc |= put_str_member(&b, "tract_id", st->tract_id);
	rc |= put_str_member(&b, "head", st->head[0] ? st->head : NULL);
	rc |= put_str_member(&b, "branch", st->branch);
	rc |= put_key(&b, "detached") | tract_buf_puts(&b, st->detached ? "true" : "false");
	rc |= put_int_member(&b, "commit_count", st->commit_count);
	rc |= put_int_member(&b, "token_count", st->token_count);
	rc |= put_str_member(&b, "token_source", st->token_source ? st->token_source : "");
	if (st->max_tokens >= 0)
		rc |= put_int_member(&b, "max_tokens", st->max_tokens);
	else
		rc |= put_str_member(&b, "max_tokens", NULL);
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

static int put_info(tract_buf *b, const tract_info *in)
{
	char when[TRACT_TIME_BUFSIZE];
	const char *last = NULL;
	int rc;

	if (in->last_activity != TRACT_TIME_NONE &&
	    tract_time_format(when, sizeof(when), in->last_activity) == 0)
		last = when;
	rc = tract_buf_putc(b, '{');
	rc |= put_str_member(b, "tract_id", in->tract_id);
	rc |= put_str_member(b, "display_name", in->display_name);
	rc |= put_str_member(b, "head", in->head);
	rc |= put_str_member(b, "branch", in->branch);
	rc |= put_int_member(b, "commit_count", in->commit_count);
	rc |= put_str_member(b, "last_activity", last);
	rc |= put_str_member(b, "parent_tract_id", in->parent_tract_id);
	rc |= put_key(b, "is_active") | tract_buf_puts(b, in->is_active ? "true" : "false");
	return rc | tract_buf_putc(b, '}');
}

int tract_info_to_json(char **out, const tract_info *info)
{
	tract_buf b = TRACT_BUF_INIT;

	if (!out || !info)
		return tract_error_set(TRACT_EINVAL, "tract_info_to_json: NULL argument");
	*out = NULL;
	return tract_buf_finish(out, &b, put_info(&b, info));
}

int tract_info_list_to_json(char **out, const tract_info_list *list)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_info_list_to_json: out is NULL");
	*out = NULL;
	if (!list || (list->count && !list->items))
		return tract_error_set(TRACT_EINVAL, "tract_info_list_to_json: list is NULL");
	rc = tract_buf_putc(&b, '[');
	for (size_t i = 0; i < list->count && rc == 0; i++) {
		if (i)
			rc |= tract_buf_putc(&b, ',');
		rc |= put_info(&b, &list->items[i]);
	}
	rc |= tract_buf_putc(&b, ']');
	return tract_buf_finish(out, &b, rc);
}

static const char *severity_name(tract_fsck_severity s)
{
	return s == TRACT_FSCK_WARNING ? "warning" : "error";
}

/* {"ok": ..., "problems": [{"severity", "object", "message"}...]} */
static int put_fsck(tract_buf *b, const tract_fsck_report *r)
{
	int rc = tract_buf_putc(b, '{');

	rc |= put_key(b, "ok") | tract_buf_puts(b, r->errors == 0 ? "true" : "false");
	rc |= put_key(b, "problems") | tract_buf_putc(b, '[');
	for (size_t i = 0; i < r->count && rc == 0; i++) {
		const tract_fsck_problem *p = &r->problems[i];

		rc |= tract_buf_puts(b, i ? ",{" : "{");
		rc |= put_str_member(b, "severity", severity_name(p->severity));
		rc |= put_str_member(b, "object", p->object ? p->object : "");
		rc |= put_str_member(b, "message", p->message ? p->message : "");
		rc |= tract_buf_putc(b, '}');
	}
	return rc | tract_buf_puts(b, "]}");
}

int tract_fsck_report_to_json(char **out, const tract_fsck_report *report)
{
	tract_buf b = TRACT_BUF_INIT;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_fsck_report_to_json: out is NULL");
	*out = NULL;
	if (!report || (report->count && !report->problems))
		return tract_error_set(TRACT_EINVAL, "tract_fsck_report_to_json: report is NULL");
	return tract_buf_finish(out, &b, put_fsck(&b, report));
}

int tract_plugin_info_list_to_json(char **out, const tract_plugin_info_list *list)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_plugin_info_list_to_json: out is NULL");
	*out = NULL;
	if (!list || (list->count && !list->items))
		return tract_error_set(TRACT_EINVAL, "tract_plugin_info_list_to_json: list is NULL");
	rc = tract_buf_putc(&b, '[');
	for (size_t i = 0; i < list->count && rc == 0; i++) {
		const tract_plugin_info *in = &list->items[i];

		rc |= tract_buf_puts(&b, i ? ",{" : "{");
		rc |= put_str_member(&b, "kind",
				     in->kind == TRACT_PLUGIN_PROVIDER ? "provider" : "backend");
		rc |= put_str_member(&b, "name", in->name ? in->name : "");
		rc |= put_str_member(&b, "path", in->path ? in->path : "");
		rc |= put_int_member(&b, "abi_version", in->abi_version);
		rc |= put_str_member(&b, "error", in->error);
		rc |= tract_buf_putc(&b, '}');
	}
	rc |= tract_buf_putc(&b, ']');
	return tract_buf_finish(out, &b, rc);
}

int tract_clone_stats_to_json(char **out, const tract_clone_stats *st, const char *source,
			      const char *destination)
{
	const struct {
		const char *name;
		int64_t n;
	} tables[] = {
		{"blobs", st ? st->blobs : 0},
		{"commits", st ? st->commits : 0},
		{"commit_parents", st ? st->commit_parents : 0},
		{"refs", st ? st->refs : 0},
		{"annotations", st ? st->annotations : 0},
		{"compressions", st ? st->compressions : 0},
		{"compression_sources", st ? st->compression_sources : 0},
		{"compression_results", st ? st->compression_results : 0},
		{"spawn_pointers", st ? st->spawn_pointers : 0},
		{"metadata", st ? st->metadata : 0},
	};
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_clone_stats_to_json: out is NULL");
	*out = NULL;
	if (!st || !source || !destination)
		return tract_error_set(TRACT_EINVAL, "tract_clone_stats_to_json: %s is NULL",
				       !st ? "stats" : !source ? "source" : "destination");
	rc = tract_buf_putc(&b, '{');
	rc |= put_str_member(&b, "source", source);
	rc |= put_str_member(&b, "destination", destination);
	rc |= put_int_member(&b, "tracts", st->tracts);
	rc |= put_key(&b, "tables") | tract_buf_putc(&b, '{');
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		rc |= put_int_member(&b, tables[i].name, tables[i].n);
	rc |= tract_buf_putc(&b, '}');
	rc |= put_int_member(&b, "metadata_skipped", st->metadata_skipped);
	rc |= put_int_member(&b, "commits_deferred", st->commits_deferred);
	rc |= put_key(&b, "fsck");
	if (st->verified && st->fsck)
		rc |= put_fsck(&b, st->fsck);
	else
		rc |= tract_buf_puts(&b, "null");
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}
