/*
 * expand.c - expand: from a collapse commit to the child tract and the commits
 * it summarized (spec/agents.md §6.6; operations layer).
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

/* ---- expand ------------------------------------------------------------------- */

typedef struct {
	int n;
	tract_row row;
} commit_probe;

static int commit_probe_cb(const tract_commit_row *row, void *payload)
{
	commit_probe *p = payload;

	if (p->n++ == 0 && tract_row_copy(&p->row, row) < 0)
		return TRACT_ENOMEM;
	return 0;
}

void tract_expansion_free(tract_expansion *x)
{
	if (!x)
		return;
	free(x->parent_tract_id);
	free(x->child_tract_id);
	free(x->purpose);
	free(x->source_head);
	free(x->since_head);
	tract_commit_list_free(x->commits);
	free(x);
}

int tract_expand(tract_expansion **out, tract_store *s, const char *ref)
{
	commit_probe p;
	tract_expansion *x = NULL;
	cJSON *md = NULL;
	const cJSON *id, *src, *since;
	char lower[65];
	size_t i, n;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_expand: out is NULL");
	*out = NULL;
	if (!s || !ref)
		return tract_error_set(TRACT_EINVAL, "tract_expand: NULL argument");
	n = strlen(ref);
	if (n < 4 || n > 64)
		return tract_error_set(TRACT_EINVAL,
		                       "expand needs a commit hash or a prefix of at least 4 hex "
		                       "digits, not '%s'",
		                       ref);
	for (i = 0; i < n; i++) {
		char c = ref[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!strchr("0123456789abcdef", c) || !c)
			return tract_error_set(TRACT_EINVAL, "not a commit hash: '%s'", ref);
		lower[i] = c;
	}
	lower[n] = '\0';
	memset(&p, 0, sizeof(p));
	rc = tract_txn_begin(s, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = s->be->commit_prefix(s->conn, NULL, lower, 2, commit_probe_cb, &p);
	if (rc < 0)
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
		                        : tract_backend_error(s, rc, "find commit");
	else if (p.n == 0)
		rc = tract_error_set(TRACT_ENOTFOUND, "Commit not found: %s", ref);
	else if (p.n > 1)
		rc = tract_error_set(TRACT_EAMBIGUOUS, "ambiguous commit prefix '%s'", ref);
	if (rc == 0) {
		md = p.row.metadata ? cJSON_Parse(p.row.metadata) : NULL;
		id = cJSON_GetObjectItemCaseSensitive(md, "collapse_source_tract_id");
		if (!cJSON_IsString(id))
			rc = tract_error_set(TRACT_EINVAL,
			                     "Commit %s is not a collapse commit (no "
			                     "collapse_source_tract_id in metadata)",
			                     p.row.hash);
	}
	if (rc == 0) {
		tract_spawn_info info;
		int found = 0;
		src = cJSON_GetObjectItemCaseSensitive(md, "collapse_source_head");
		since = cJSON_GetObjectItemCaseSensitive(md, "collapse_since_head");
		x = calloc(1, sizeof(*x));
		if (!x) {
			rc = tract_error_oom();
		} else {
			tract_copy_id(x->collapse_commit, p.row.hash);
			x->parent_tract_id = strdup(p.row.tract_id);
			x->child_tract_id = strdup(id->valuestring);
			x->source_head = cJSON_IsString(src) ? strdup(src->valuestring) : NULL;
			x->since_head = cJSON_IsString(since) ? strdup(since->valuestring) : NULL;
			if (!x->parent_tract_id || !x->child_tract_id ||
			    (cJSON_IsString(src) && !x->source_head) ||
			    (cJSON_IsString(since) && !x->since_head))
				rc = tract_error_oom();
		}
		if (rc == 0)
			rc = tract_spawn_pointer_of(&info, &found, s, x->child_tract_id);
		if (rc == 0 && found) {
			x->purpose = info.purpose;
			info.purpose = NULL;
			tract_spawn_info_dispose(&info);
		}
	}
	rc = tract_txn_end(s, rc);
	cJSON_Delete(md);
	tract_row_dispose(&p.row);
	if (rc == 0) {
		x->commits = calloc(1, sizeof(*x->commits));
		if (!x->commits)
			rc = tract_error_oom();
	}
	if (rc == 0 && x->source_head) {
		tract *child = NULL;
		tract_log_options lo = TRACT_LOG_OPTIONS_INIT;
		tract_commit_list *l = NULL;
		rc = tract_open(&child, s, x->child_tract_id, NULL);
		lo.start = x->source_head;
		if (rc == 0)
			rc = tract_log_list(&l, child, &lo);
		if (rc == 0) {
			size_t keep = l->count;
			for (i = 0; i < l->count; i++)
				if (x->since_head &&
				    strcmp(tract_commit_hash(l->items[i]), x->since_head) == 0) {
					keep = i;
					break;
				}
			for (i = keep; i < l->count; i++)
				tract_commit_free(l->items[i]);
			l->count = keep;
			tract_commit_list_free(x->commits);
			x->commits = l;
		}
		tract_free(child);
	}
	if (rc < 0) {
		tract_expansion_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

