/*
 * reflog.c - where HEAD and the branches were at a past time (model layer).
 *
 * tract --at-time compiles a tract as it was at a time (spec/agents.md
 * §6.7 with DECISIONS.md: "compile_at can show the state before a
 * compress or reset"). After a reset, a compression, a rebase or a branch
 * deletion the old commits are no longer on any ref, so walking today's
 * refs cannot find them. As git does, tract keeps a ref log, but a
 * minimal one: a ref move is recorded only when it is NOT a fast-forward
 * (the new commit does not descend from the old one, the ref is deleted,
 * or HEAD changes what it points at: switch, checkout, detach). A
 * fast-forward move needs no record: the commits it added carry their
 * creation times, so the time cut-off finds the ref's position among them.
 *
 * Storage: store metadata (no table of its own, so every backend has it
 * and clone copies it), one key per move:
 *
 *   reflog:<tract id>:<ref name>:<20-digit microseconds since the epoch>
 *
 * with the value {"old": V, "new": V, "time": ISO8601, "reason": TEXT},
 * V a commit hash, "ref: <name>" for a symbolic value, or null when the
 * ref did not exist (or was deleted). Ref names cannot hold ':' (git's
 * check-ref-format), so the key prefix of one ref never matches another
 * ref's keys, and the zero-padded time sorts the keys chronologically.
 * The reference ignores these keys.
 *
 * Position at time T: the earliest recorded move after T gives the old
 * value (where the ref was until that move, hence at T, up to the
 * fast-forwards the time cut-off removes); with no move after T the ref's
 * current value is the answer. HEAD is resolved first (a branch or a
 * commit at T), then that branch.
 *
 * gc keeps the commits a retained record names (gc.c): a record lives as
 * long as the orphan retention (gc deletes older ones), as git's reflog
 * expiry does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "dag.h"
#include "json.h"
#include "reflog.h"

/* Is the ref one the log covers: HEAD or a branch. */
static int logged(const char *name)
{
	return strcmp(name, "HEAD") == 0 || strncmp(name, "refs/heads/", 11) == 0;
}

int tract_reflog_prefix(char *buf, size_t len, const char *tract_id, const char *name)
{
	int n;

	if (name)
		n = snprintf(buf, len, TRACT_REFLOG_PREFIX "%s:%s:", tract_id, name);
	else
		n = snprintf(buf, len, TRACT_REFLOG_PREFIX "%s:", tract_id);
	if (n < 0 || (size_t)n >= len)
		return tract_error_set(TRACT_EINVAL, "reflog: ref name too long");
	return 0;
}

/* The value's text: hash, "ref: NAME", or NULL (absent). */
static const char *value_text(char *buf, size_t len, const tract_ref_value *v)
{
	if (!v || !v->exists)
		return NULL;
	if (v->symbolic[0]) {
		snprintf(buf, len, "ref: %s", v->symbolic);
		return buf;
	}
	return v->commit[0] ? v->commit : NULL;
}

int tract_reflog_record(tract_store *s, const char *tract_id, const char *name,
			const tract_ref_value *old, const tract_ref_value *new_value,
			const char *reason)
{
	char key[TRACT_REFLOG_KEY_MAX], when[TRACT_TIME_BUFSIZE];
	char ob[TRACT_REF_NAME_MAX + 8], nb[TRACT_REF_NAME_MAX + 8];
	const char *o, *n;
	tract_time now;
	cJSON *obj;
	char *text;
	int rc;

	o = value_text(ob, sizeof(ob), old);
	n = value_text(nb, sizeof(nb), new_value);
	rc = tract_reflog_prefix(key, sizeof(key), tract_id, name);
	if (rc < 0)
		return rc;
	now = tract_time_now();
	snprintf(key + strlen(key), sizeof(key) - strlen(key), "%020" PRId64, now);
	if (tract_time_format(when, sizeof(when), now) < 0)
		return tract_error_set(TRACT_ERROR, "reflog: cannot format the time");
	obj = cJSON_CreateObject();
	if (!obj || !(o ? cJSON_AddStringToObject(obj, "old", o) : cJSON_AddNullToObject(obj, "old")) ||
	    !(n ? cJSON_AddStringToObject(obj, "new", n) : cJSON_AddNullToObject(obj, "new")) ||
	    !cJSON_AddStringToObject(obj, "time", when) ||
	    !cJSON_AddStringToObject(obj, "reason", reason ? reason : "")) {
		cJSON_Delete(obj);
		return tract_error_oom();
	}
	text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (!text)
		return tract_error_oom();
	rc = s->be->meta_set(s->conn, key, text);
	cJSON_free(text);
	return rc < 0 ? tract_backend_error(s, rc, "write the ref log") : 0;
}

int tract_reflog_note(tract_store *s, const char *tract_id, const char *name,
		      const tract_ref_value *old, const tract_ref_value *new_value,
		      const char *reason, int check)
{
	int rc, ff = 0;

	if (!logged(name) || !old || !old->exists)
		return 0; /* a ref created: nothing was there before */
	if (new_value && new_value->exists) {
		if (old->symbolic[0] || new_value->symbolic[0]) {
			if (strcmp(old->symbolic, new_value->symbolic) == 0 &&
			    strcmp(old->commit, new_value->commit) == 0)
				return 0;
		} else if (strcmp(old->commit, new_value->commit) == 0) {
			return 0;
		} else if (check && old->commit[0] && new_value->commit[0]) {
			rc = tract_dag_is_ancestor(&ff, s, tract_id, old->commit, new_value->commit);
			if (rc < 0)
				return rc;
			if (ff)
				return 0;
		}
	}
	return tract_reflog_record(s, tract_id, name, old, new_value, reason);
}

int tract_reflog_note_commits(tract_store *s, const char *tract_id, const char *name,
			      const char *old, const char *new_hash, const char *reason,
			      int check)
{
	tract_ref_value o, n;

	memset(&o, 0, sizeof(o));
	memset(&n, 0, sizeof(n));
	o.exists = old && old[0];
	if (o.exists)
		tract_copy_id(o.commit, old);
	n.exists = new_hash && new_hash[0];
	if (n.exists)
		tract_copy_id(n.commit, new_hash);
	return tract_reflog_note(s, tract_id, name, &o, &n, reason, check);
}

/* ---- reading ---------------------------------------------------------------- */

int tract_reflog_key_time(tract_time *out, const char *key)
{
	const char *colon = strrchr(key, ':');
	char *end;
	long long v;

	if (!colon || strlen(colon + 1) != 20)
		return TRACT_ECORRUPT;
	v = strtoll(colon + 1, &end, 10);
	if (*end || v < 0)
		return TRACT_ECORRUPT;
	*out = (tract_time)v;
	return 0;
}

/* Parse an entry's "old" member into v (exists 0 for null). */
static int parse_value(tract_ref_value *v, const char *json, const char *member)
{
	cJSON *obj = cJSON_Parse(json), *m;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	if (!obj)
		return TRACT_ECORRUPT;
	m = cJSON_GetObjectItemCaseSensitive(obj, member);
	if (cJSON_IsString(m)) {
		const char *sv = m->valuestring;
		size_t n = strlen(sv);

		v->exists = 1;
		if (n > 5 && n - 5 <= TRACT_REF_NAME_MAX && memcmp(sv, "ref: ", 5) == 0)
			memcpy(v->symbolic, sv + 5, n - 5 + 1);
		else if (n == 64)
			tract_copy_id(v->commit, sv);
		else
			rc = TRACT_ECORRUPT;
	} else if (!cJSON_IsNull(m)) {
		rc = TRACT_ECORRUPT;
	}
	cJSON_Delete(obj);
	return rc;
}

typedef struct {
	tract_time at;
	int found;
	tract_ref_value old;
	int rc;
} first_after;

static int first_after_cb(const char *key, const char *value, void *payload)
{
	first_after *f = payload;
	tract_time when;

	if (tract_reflog_key_time(&when, key) < 0)
		return 0; /* not an entry of ours: skipped */
	if (when <= f->at)
		return 0;
	if (parse_value(&f->old, value, "old") < 0) {
		f->rc = tract_error_set(TRACT_ECORRUPT, "reflog entry %s is unreadable", key);
		return f->rc;
	}
	f->found = 1;
	return 1;
}

/* Where name was at time at: out gets the value (exists 0: absent). */
static int ref_at(tract_ref_value *out, tract_store *s, const char *tract_id, const char *name,
		  tract_time at)
{
	char prefix[TRACT_REFLOG_KEY_MAX];
	first_after f;
	int rc;

	memset(&f, 0, sizeof(f));
	f.at = at;
	rc = tract_reflog_prefix(prefix, sizeof(prefix), tract_id, name);
	if (rc < 0)
		return rc;
	rc = s->be->meta_foreach(s->conn, prefix, first_after_cb, &f);
	if (f.rc < 0)
		return f.rc;
	if (rc < 0)
		return rc == TRACT_ENOMEM ? tract_error_oom()
					  : tract_backend_error(s, rc, "read the ref log");
	if (f.found) {
		*out = f.old;
		return 0;
	}
	return tract_ref_read(out, s, tract_id, name);
}

int tract_reflog_tip_at(char out[65], tract *t, tract_time at)
{
	tract_ref_value head, br;
	int rc;

	out[0] = '\0';
	rc = ref_at(&head, t->store, t->id, "HEAD", at);
	if (rc < 0 || !head.exists)
		return rc;
	if (!head.symbolic[0]) {
		tract_copy_id(out, head.commit);
		return 0;
	}
	rc = ref_at(&br, t->store, t->id, head.symbolic, at);
	if (rc < 0 || !br.exists)
		return rc;
	if (br.symbolic[0])
		return 0; /* a branch pointing at a ref: not a commit */
	tract_copy_id(out, br.commit);
	return 0;
}
