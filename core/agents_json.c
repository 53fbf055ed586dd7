/*
 * agents_json.c - the --json documents of the multi-agent objects: spawn pointers,
 * collapse results, expansions (renderings layer).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "agents_internal.h"
#include "hash.h"
#include "json.h"
#include "walk.h"
#include "tract/llm.h"

/* ---- JSON documents ------------------------------------------------------------ */

static int put_s(tract_buf *b, const char *key, const char *v, int first)
{
	int rc = tract_buf_printf(b, "%s\"%s\": ", first ? "" : ", ", key);

	if (!v)
		return rc | tract_buf_puts(b, "null");
	return rc | tract_json_escape(b, v, strlen(v), 0);
}

static int put_i(tract_buf *b, const char *key, int64_t v)
{
	return tract_buf_printf(b, ", \"%s\": %" PRId64, key, v);
}

static int put_time(tract_buf *b, const char *key, tract_time t)
{
	char when[TRACT_TIME_BUFSIZE];

	if (t == TRACT_TIME_NONE || tract_time_format(when, sizeof(when), t) < 0)
		return put_s(b, key, NULL, 0);
	return put_s(b, key, when, 0);
}

int tract_spawn_info_to_json(char **out, const tract_spawn_info *i)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out || !i)
		return tract_error_set(TRACT_EINVAL, "tract_spawn_info_to_json: NULL argument");
	*out = NULL;
	rc = tract_buf_printf(&b, "{\"spawn_id\": %" PRId64, i->spawn_id);
	rc |= put_s(&b, "parent_tract_id", i->parent_tract_id, 0);
	rc |= put_s(&b, "parent_commit_hash", i->parent_commit_hash, 0);
	rc |= put_s(&b, "child_tract_id", i->child_tract_id, 0);
	rc |= put_s(&b, "purpose", i->purpose, 0);
	rc |= put_s(&b, "inheritance_mode", i->inheritance_mode, 0);
	rc |= put_s(&b, "display_name", i->display_name, 0);
	rc |= put_time(&b, "created_at", i->created_at);
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

int tract_collapse_result_to_json(char **out, const tract_collapse_result *r)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out || !r)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_collapse_result_to_json: NULL argument");
	*out = NULL;
	rc = tract_buf_putc(&b, '{');
	rc |= put_s(&b, "parent_commit_hash", r->parent_commit_hash, 1);
	rc |= put_s(&b, "child_tract_id", r->child_tract_id, 0);
	rc |= put_s(&b, "summary_text", r->summary_text, 0);
	rc |= put_i(&b, "summary_tokens", r->summary_tokens);
	rc |= put_i(&b, "source_tokens", r->source_tokens);
	rc |= put_s(&b, "purpose", r->purpose, 0);
	rc |= put_s(&b, "source_head", r->source_head && r->source_head[0] ? r->source_head : NULL,
	            0);
	rc |= put_s(&b, "since_head", r->since_head && r->since_head[0] ? r->since_head : NULL, 0);
	rc |= put_s(&b, "draft_id", r->draft_id, 0);
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

int tract_expansion_to_json(char **out, const tract_expansion *x)
{
	tract_buf b = TRACT_BUF_INIT;
	char *commits = NULL;
	int rc;

	if (!out || !x)
		return tract_error_set(TRACT_EINVAL, "tract_expansion_to_json: NULL argument");
	*out = NULL;
	rc = tract_commit_list_to_json(&commits, x->commits, TRACT_COMMIT_JSON_CONTENT);
	if (rc < 0)
		return rc;
	rc = tract_buf_putc(&b, '{');
	rc |= put_s(&b, "collapse_commit", x->collapse_commit, 1);
	rc |= put_s(&b, "parent_tract_id", x->parent_tract_id, 0);
	rc |= put_s(&b, "child_tract_id", x->child_tract_id, 0);
	rc |= put_s(&b, "purpose", x->purpose, 0);
	rc |= put_s(&b, "source_head", x->source_head, 0);
	rc |= put_s(&b, "since_head", x->since_head, 0);
	rc |= tract_buf_printf(&b, ", \"commits\": %s}", commits);
	tract_string_free(commits);
	return tract_buf_finish(out, &b, rc);
}
