/*
 * merge_conflicts.c - conflict detection (spec/history.md §8.5 with
 * DECISIONS.md): the structural conflicts between the two sides in their
 * fixed order, the texts they show, and one resolution slot per key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"
#include "merge_priv.h"

typedef struct {
	char *payload;
	int found;
} blob_copy;

static int blob_copy_cb(const tract_blob_row *row, void *payload)
{
	blob_copy *b = payload;

	b->found = 1;
	b->payload = row->payload_json ? strdup(row->payload_json) : NULL;
	return row->payload_json && !b->payload ? TRACT_ENOMEM : 0;
}

int merge_content_text(char **out, tract_store *s, const char *content_hash)
{
	blob_copy b = {NULL, 0};
	const cJSON *v;
	cJSON *p = NULL;
	char err[64], *text = NULL;
	int rc;

	*out = NULL;
	rc = s->be->blob_get(s->conn, content_hash, blob_copy_cb, &b);
	if (rc == TRACT_ENOMEM)
		return tract_error_oom();
	if (rc < 0 && rc != TRACT_ENOTFOUND)
		return tract_backend_error(s, rc, "read blob");
	if (b.payload) {
		rc = tract_json_parse(&p, b.payload, strlen(b.payload), TRACT_JSON_NONFINITE_TO_NULL,
				      err, sizeof(err));
		free(b.payload);
		if (rc == TRACT_ENOMEM)
			return tract_error_oom();
	}
	if (!p || !cJSON_IsObject(p)) {
		cJSON_Delete(p);
		*out = strdup(UNAVAILABLE_TEXT);
		return *out ? 0 : tract_error_oom();
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "text");
	if (!cJSON_IsString(v))
		v = NULL;
	if (!v) {
		v = cJSON_GetObjectItemCaseSensitive(p, "content");
		if (!cJSON_IsString(v))
			v = NULL;
	}
	if (v) {
		text = strdup(v->valuestring);
		if (text)
			tract_mutf8_to_bytes(text, strlen(text));
	} else {
		v = cJSON_GetObjectItemCaseSensitive(p, "payload");
		text = tract_json_render_str(v ? v : p, TRACT_JSON_TOKEN);
	}
	cJSON_Delete(p);
	if (!text)
		return tract_error_oom();
	*out = text;
	return 0;
}

static int latest_priority_cb(const tract_annotation_row *row, void *payload)
{
	*(tract_priority *)payload = row->priority;
	return 0;
}

/* The latest annotation of a commit (tract-wide), TRACT_PRIORITY_NONE. */
static int latest_priority(tract_priority *out, tract_store *s, const char *hash)
{
	int rc;

	*out = TRACT_PRIORITY_NONE;
	rc = s->be->annotation_list(s->conn, hash, latest_priority_cb, out);
	return rc < 0 ? tract_backend_error(s, rc, "read annotations") : 0;
}

static int exists_cb(const tract_commit_row *row, void *payload)
{
	(void)row;
	*(int *)payload = 1;
	return 0;
}

/* ---- conflict detection (§8.5) --------------------------------------------------- */

/* Edits of one side: target -> the side's last edit of it, in the order
 * each target was first edited. */
typedef struct {
	const char *target;
	size_t edit; /* index in the side */
} edit_entry;

typedef struct {
	edit_entry *items;
	size_t count;
} edit_map;

static int edits_of(edit_map *m, const side *sd)
{
	size_t i, j;

	memset(m, 0, sizeof(*m));
	if (!sd->count)
		return 0;
	m->items = calloc(sd->count, sizeof(*m->items));
	if (!m->items)
		return tract_error_oom();
	for (i = 0; i < sd->count; i++) {
		const side_commit *c = &sd->items[i];
		if (c->op != TRACT_OP_EDIT || !c->response_to[0])
			continue;
		for (j = 0; j < m->count; j++)
			if (strcmp(m->items[j].target, c->response_to) == 0)
				break;
		if (j == m->count) {
			m->items[j].target = c->response_to;
			m->count++;
		}
		m->items[j].edit = i;
	}
	return 0;
}

static const edit_entry *edit_find(const edit_map *m, const char *target)
{
	size_t i;

	for (i = 0; i < m->count; i++)
		if (strcmp(m->items[i].target, target) == 0)
			return &m->items[i];
	return NULL;
}

static int cmp_hash(const void *a, const void *b)
{
	return strcmp(a, b);
}

typedef struct {
	tract_merge_result *r;
	tract *t;
	const side *a, *b;
	char (*divergent)[65]; /* sorted hashes of A and B */
	size_t n_divergent;
} detect;

static int is_divergent(const detect *d, const char *hash)
{
	return d->n_divergent &&
	       bsearch(hash, d->divergent, d->n_divergent, sizeof(*d->divergent), cmp_hash) != NULL;
}


/*
 * Add a conflict. a_text / b_text are the content hashes whose text each
 * side shows, NULL for a side that is the skipped target ("[SKIPPED]");
 * editor_a tells which branch made the edit the conflict is about.
 */
static int add_conflict(detect *d, tract_issue_kind kind, const char *target, const char *a,
			const char *b, const char *a_text, const char *b_text, int editor_a)
{
	tract_merge_result *r = d->r;
	merge_conflict *c, *grown;
	char buf[512];
	int rc;

	grown = realloc(r->conflicts, (r->n_conflicts + 1) * sizeof(*grown));
	if (!grown)
		return tract_error_oom();
	r->conflicts = grown;
	c = &r->conflicts[r->n_conflicts];
	memset(c, 0, sizeof(*c));
	r->n_conflicts++;
	c->issue.kind = kind;
	c->editor_a = editor_a;
	tract_copy_id(c->target, target);
	tract_copy_id(c->key, target[0] ? target : b);
	tract_copy_id(c->a, a);
	tract_copy_id(c->b, b);
	if (a_text)
		rc = merge_content_text(&c->text_a, d->t->store, a_text);
	else
		rc = (c->text_a = strdup(SKIPPED_TEXT)) ? 0 : tract_error_oom();
	if (rc == 0 && b_text)
		rc = merge_content_text(&c->text_b, d->t->store, b_text);
	else if (rc == 0)
		rc = (c->text_b = strdup(SKIPPED_TEXT)) ? 0 : tract_error_oom();
	if (rc < 0)
		return rc;
	switch (kind) {
	case TRACT_ISSUE_BOTH_EDIT:
		snprintf(buf, sizeof(buf), "both branches edited commit %.8s", c->target);
		break;
	case TRACT_ISSUE_SKIP_VS_EDIT:
		snprintf(buf, sizeof(buf), "commit %.8s is skipped, and branch %s edited it",
			 c->target, editor_a ? r->target : r->source);
		break;
	default:
		snprintf(buf, sizeof(buf),
			 "branch %s edited commit %.8s of the shared history while branch %s "
			 "added commits",
			 editor_a ? r->target : r->source, c->target,
			 editor_a ? r->source : r->target);
		break;
	}
	c->description = strdup(buf);
	return c->description ? 0 : tract_error_oom();
}

/* Point each conflict's issue at its own strings (after the array stops
 * moving). */
void merge_fix_issues(tract_merge_result *r)
{
	size_t i;

	for (i = 0; i < r->n_conflicts; i++) {
		merge_conflict *c = &r->conflicts[i];
		c->issue.operation = "merge";
		c->issue.key = c->key;
		c->issue.target_hash = c->target[0] ? c->target : NULL;
		c->issue.commit_a = c->a[0] ? c->a : NULL;
		c->issue.commit_b = c->b[0] ? c->b : NULL;
		c->issue.text_a = c->text_a ? c->text_a : "";
		c->issue.text_b = c->text_b ? c->text_b : "";
		c->issue.branch_a = r->target;
		c->issue.branch_b = r->source;
		c->issue.description = c->description;
	}
}

/* skip_vs_edit for the edits of one side whose targets the other side
 * did not edit and whose latest annotation is SKIP. */
static int skip_conflicts(detect *d, const edit_map *mine, const side *my, const edit_map *other,
			  int editor_a)
{
	tract_store *s = d->t->store;
	size_t i;
	int rc;

	for (i = 0; i < mine->count; i++) {
		const side_commit *e = &my->items[mine->items[i].edit];
		const char *target = mine->items[i].target;
		tract_priority p;
		int exists = 0;
		if (edit_find(other, target))
			continue;
		rc = latest_priority(&p, s, target);
		if (rc < 0)
			return rc;
		if (p != TRACT_PRIORITY_SKIP)
			continue;
		rc = s->be->commit_get(s->conn, NULL, target, exists_cb, &exists);
		if (rc < 0 && rc != TRACT_ENOTFOUND)
			return tract_backend_error(s, rc, "read commit");
		/* the skipped side is the target itself (or, if it cannot be
		 * loaded, the edit) */
		if (editor_a)
			rc = add_conflict(d, TRACT_ISSUE_SKIP_VS_EDIT, target, e->hash,
					  exists ? target : e->hash, e->content_hash, NULL, 1);
		else
			rc = add_conflict(d, TRACT_ISSUE_SKIP_VS_EDIT, target,
					  exists ? target : e->hash, e->hash, NULL, e->content_hash,
					  0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* edit_plus_append for the edits of one side whose targets are shared
 * history, when the other side appended. */
static int append_conflicts(detect *d, const edit_map *mine, const side *my, const edit_map *other,
			    const side *their, int editor_a)
{
	size_t i;
	int rc;

	if (!their->has_append)
		return 0;
	for (i = 0; i < mine->count; i++) {
		const side_commit *e = &my->items[mine->items[i].edit];
		const side_commit *app = &their->items[their->first_append];
		const char *target = mine->items[i].target;
		if (edit_find(other, target) || is_divergent(d, target))
			continue;
		rc = editor_a ? add_conflict(d, TRACT_ISSUE_EDIT_PLUS_APPEND, target, e->hash,
					     app->hash, e->content_hash, app->content_hash, 1)
			      : add_conflict(d, TRACT_ISSUE_EDIT_PLUS_APPEND, target, app->hash,
					     e->hash, app->content_hash, e->content_hash, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int merge_detect_conflicts(tract_merge_result *r, tract *t, const side *a, const side *b)
{
	edit_map ea, eb;
	detect d;
	size_t i, k = 0;
	int rc;

	memset(&d, 0, sizeof(d));
	d.r = r;
	d.t = t;
	d.a = a;
	d.b = b;
	rc = edits_of(&ea, a);
	if (rc == 0)
		rc = edits_of(&eb, b);
	if (rc < 0)
		goto done;
	if (!ea.count && !eb.count)
		goto done; /* no edit, no conflict */
	d.n_divergent = a->count + b->count;
	d.divergent = malloc(d.n_divergent * sizeof(*d.divergent));
	if (!d.divergent) {
		rc = tract_error_oom();
		goto done;
	}
	for (i = 0; i < a->count; i++)
		memcpy(d.divergent[k++], a->items[i].hash, 65);
	for (i = 0; i < b->count; i++)
		memcpy(d.divergent[k++], b->items[i].hash, 65);
	qsort(d.divergent, d.n_divergent, sizeof(*d.divergent), cmp_hash);

	/* 1. both_edit, in the order of the current side's edits */
	for (i = 0; rc == 0 && i < ea.count; i++) {
		const edit_entry *o = edit_find(&eb, ea.items[i].target);
		const side_commit *x = &a->items[ea.items[i].edit], *y;
		if (!o)
			continue;
		y = &b->items[o->edit];
		rc = add_conflict(&d, TRACT_ISSUE_BOTH_EDIT, ea.items[i].target, x->hash, y->hash,
				  x->content_hash, y->content_hash, 1);
	}
	/* 2, 3. skip_vs_edit: editor on the source side, then the current */
	if (rc == 0)
		rc = skip_conflicts(&d, &eb, b, &ea, 0);
	if (rc == 0)
		rc = skip_conflicts(&d, &ea, a, &eb, 1);
	/* 4, 5. edit_plus_append: editor on the current side, then the source */
	if (rc == 0)
		rc = append_conflicts(&d, &ea, a, &eb, b, 1);
	if (rc == 0)
		rc = append_conflicts(&d, &eb, b, &ea, a, 0);
done:
	free(ea.items);
	free(eb.items);
	free(d.divergent);
	return rc;
}

/* One resolution slot per distinct key, in conflict order. */
int merge_resolution_slots(tract_merge_result *r)
{
	size_t i;

	if (!r->n_conflicts)
		return 0;
	r->res = calloc(r->n_conflicts, sizeof(*r->res));
	if (!r->res)
		return tract_error_oom();
	for (i = 0; i < r->n_conflicts; i++)
		if (!merge_res_find(r, r->conflicts[i].key))
			memcpy(r->res[r->n_res++].key, r->conflicts[i].key, 65);
	return 0;
}
