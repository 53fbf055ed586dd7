/*
 * session.c - session commits (start / end / handoff / checkpoint), whether a
 * tract is ended, and resume (spec/agents.md §6.1, §6.8 with DECISIONS.md;
 * operations layer).
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

/* ---- session boundaries: is a tract ended? -------------------------------- */

typedef struct {
	tract_store *s;
	int found;
	int ended;
	char hash[65];
} session_probe;

static int session_blob_cb(const tract_blob_row *row, void *payload)
{
	session_probe *p = payload;
	cJSON *o = row->payload_json ? cJSON_Parse(row->payload_json) : NULL;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "session_type");

	p->ended = cJSON_IsString(st) && strcmp(st->valuestring, "end") == 0;
	cJSON_Delete(o);
	return 0;
}

static int session_probe_cb(const tract_chain_row *row, void *payload)
{
	session_probe *p = payload;
	int rc;

	if (!row->commit.content_type || strcmp(row->commit.content_type, "session") != 0 ||
	    row->commit.operation != TRACT_OP_APPEND)
		return 0;
	p->found = 1;
	tract_copy_id(p->hash, row->commit.commit_hash);
	rc = p->s->be->blob_get(p->s->conn, row->commit.content_hash, session_blob_cb, p);
	if (rc < 0 && rc != TRACT_ENOTFOUND)
		return rc;
	return 1;
}

/* DECISIONS.md: a tract is ended only when the latest session commit on
 * its current branch (first parents from head) is an `end`. */
int tract_session_ended(int *out, tract_store *s, const char *tract_id, const char *head)
{
	session_probe p;
	int rc;

	*out = 0;
	if (!head || !head[0])
		return 0;
	memset(&p, 0, sizeof(p));
	p.s = s;
	rc = tract_chain_walk(s, tract_id, head, 0, 0, TRACT_TIME_NONE, session_probe_cb, &p,
	                      "find session commits", NULL);
	if (rc < 0)
		return rc;
	*out = p.ended;
	return 0;
}

/* ---- sessions ------------------------------------------------------------------ */

static cJSON *str_array(const char *const *items, size_t n, int *bad)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a && i < n; i++) {
		cJSON *s;
		if (!items[i]) {
			*bad = 1;
			break;
		}
		s = cJSON_CreateString(items[i]);
		if (!s) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, s);
	}
	return a;
}

int tract_commit_create_session(tract_commit **out, tract *t, const tract_session_content *sc,
                                const tract_commit_options *opts)
{
	cJSON *o = NULL, *a;
	char *json = NULL;
	int rc, bad = 0;

	if (out)
		*out = NULL;
	if (!t || !sc)
		return tract_error_set(TRACT_EINVAL, "tract_commit_create_session: NULL argument");
	if (tract_version_check(sc->version, TRACT_SESSION_CONTENT_VERSION,
	                        "tract_session_content") < 0)
		return TRACT_EINVAL;
	if (!sc->session_type || !sc->summary)
		return tract_error_set(TRACT_EINVAL,
		                       "a session commit needs a session_type and a summary");
	if ((sc->n_decisions && !sc->decisions) ||
	    (sc->n_failed_approaches && !sc->failed_approaches) ||
	    (sc->n_next_steps && !sc->next_steps))
		return tract_error_set(TRACT_EINVAL,
		                       "tract_commit_create_session: a list is NULL with a "
		                       "non-zero count");
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "content_type", "session") ||
	    !cJSON_AddStringToObject(o, "session_type", sc->session_type) ||
	    !cJSON_AddStringToObject(o, "summary", sc->summary))
		goto oom;
	if (!(a = str_array(sc->decisions, sc->n_decisions, &bad)))
		goto oom;
	cJSON_AddItemToObject(o, "decisions", a);
	if (!(a = str_array(sc->failed_approaches, sc->n_failed_approaches, &bad)))
		goto oom;
	cJSON_AddItemToObject(o, "failed_approaches", a);
	if (!(a = str_array(sc->next_steps, sc->n_next_steps, &bad)))
		goto oom;
	cJSON_AddItemToObject(o, "next_steps", a);
	if (bad) {
		cJSON_Delete(o);
		return tract_error_set(TRACT_EINVAL, "a session list item is NULL");
	}
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!json)
		return tract_error_oom();
	rc = tract_commit_create(out, t, json, opts);
	cJSON_free(json);
	return rc;
oom:
	cJSON_Delete(o);
	return tract_error_oom();
}

/* ---- resume --------------------------------------------------------------------- */

int tract_resume(tract **out, tract_store *s, const tract_open_options *opts)
{
	tract_info_list *l = NULL;
	const tract_info *pick = NULL;
	size_t i;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_resume: out is NULL");
	*out = NULL;
	if (!s)
		return tract_error_set(TRACT_EINVAL, "tract_resume: store is NULL");
	rc = tract_store_list_tracts(&l, s);
	if (rc < 0)
		return rc;
	/* Most recently active first; roots before children. */
	for (i = 0; i < l->count && !pick; i++)
		if (l->items[i].commit_count > 0 && l->items[i].is_active &&
		    !l->items[i].parent_tract_id)
			pick = &l->items[i];
	for (i = 0; i < l->count && !pick; i++)
		if (l->items[i].commit_count > 0 && l->items[i].is_active)
			pick = &l->items[i];
	if (!pick)
		rc = tract_error_set(TRACT_ENOTFOUND, "no active tract to resume");
	else
		rc = tract_open(out, s, pick->tract_id, opts);
	tract_info_list_free(l);
	return rc;
}

