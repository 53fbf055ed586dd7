/*
 * config_query.c - commits whose generation config matches a condition
 * (spec/core.md §4.9), compared with SQLite's rules in the core so no SQL
 * crosses the backend ABI (model layer).
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

typedef enum { SV_NULL, SV_NUM, SV_TEXT } sv_class;

typedef struct {
	sv_class cls;
	int is_int;
	long long i;
	double d;
	char *text; /* owned */
} sql_value;

/* Convert a JSON value as json_extract() would. */
static int sv_from_json(sql_value *v, const cJSON *j)
{
	memset(v, 0, sizeof(*v));
	if (!j || cJSON_IsNull(j)) {
		v->cls = SV_NULL;
	} else if (cJSON_IsBool(j)) {
		v->cls = SV_NUM;
		v->is_int = 1;
		v->i = cJSON_IsTrue(j);
	} else if (cJSON_IsNumber(j)) {
		v->cls = SV_NUM;
		if (tract_json_is_int(j) && j->valuestring) {
			char *end;
			errno = 0;
			v->i = strtoll(j->valuestring, &end, 10);
			v->is_int = errno == 0 && *end == '\0';
		}
		v->d = j->valuedouble;
	} else if (cJSON_IsString(j)) {
		v->cls = SV_TEXT;
		v->text = strdup(j->valuestring);
		if (!v->text)
			return TRACT_ENOMEM;
	} else {
		v->cls = SV_TEXT;
		v->text = tract_json_render_str(j, TRACT_JSON_CANON);
		if (!v->text)
			return TRACT_ENOMEM;
	}
	return 0;
}

static int sv_compare(const sql_value *a, const sql_value *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	if (a->cls == SV_TEXT) /* SQLite compares the bytes, U+0000 first */
		return tract_json_strcmp(a->text, b->text);
	if (a->is_int && b->is_int)
		return a->i < b->i ? -1 : a->i > b->i;
	{
		double x = a->is_int ? (double)a->i : a->d;
		double y = b->is_int ? (double)b->i : b->d;
		return x < y ? -1 : x > y;
	}
}

typedef struct {
	char **path;
	size_t depth;
	const char *op;
	sql_value value;
	tract_commit_list *list;
	size_t cap;
} config_query;

static int op_holds(const char *op, int c)
{
	if (strcmp(op, "=") == 0)
		return c == 0;
	if (strcmp(op, "!=") == 0)
		return c != 0;
	if (strcmp(op, ">") == 0)
		return c > 0;
	if (strcmp(op, "<") == 0)
		return c < 0;
	if (strcmp(op, ">=") == 0)
		return c >= 0;
	return c <= 0;
}

static int query_cb(const tract_commit_row *row, void *payload)
{
	config_query *q = payload;
	char err[64];
	cJSON *cfg = NULL;
	const cJSON *v;
	sql_value sv;
	size_t i;
	int rc = 0, match;

	if (!row->generation_config_json)
		return 0;
	rc = tract_json_parse(&cfg, row->generation_config_json,
			      strlen(row->generation_config_json), TRACT_JSON_NONFINITE_TO_NULL,
			      err, sizeof(err));
	if (rc == TRACT_ENOMEM)
		return rc; /* not an unreadable config: the query fails */
	if (rc < 0)
		return 0;
	v = cfg;
	for (i = 0; v && i < q->depth; i++)
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, q->path[i]) : NULL;
	if (sv_from_json(&sv, v) < 0) {
		cJSON_Delete(cfg);
		return TRACT_ENOMEM;
	}
	match = sv.cls != SV_NULL && q->value.cls != SV_NULL &&
		op_holds(q->op, sv_compare(&sv, &q->value));
	free(sv.text);
	cJSON_Delete(cfg);
	if (match) {
		tract_row r;
		rc = tract_row_copy(&r, row);
		if (rc == 0)
			rc = tract_commit_list_push(q->list, &q->cap, &r);
	}
	return rc;
}

int tract_config_query(tract_commit_list **out, tract *t, const char *field, const char *op,
		       const char *value_json)
{
	static const char *const ops[] = {"=", "!=", ">", "<", ">=", "<="};
	tract_commit_list *list = NULL;
	config_query q;
	cJSON *val = NULL;
	char err[128], *fcopy = NULL, *save = NULL, *part;
	size_t i;
	int rc, ok = 0;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_config_query: NULL argument");
	*out = NULL;
	memset(&q, 0, sizeof(q));
	for (i = 0; op && i < 6; i++)
		ok |= strcmp(op, ops[i]) == 0;
	if (!ok)
		return tract_error_set(TRACT_EINVAL,
				       "Unsupported operator: %s. Use one of: ['=', '!=', '>', "
				       "'<', '>=', '<=']",
				       op ? op : "(null)");
	if (!field || !*field || !tract_utf8_valid(field, strlen(field)))
		return tract_error_set(TRACT_EINVAL, "invalid config field");
	if (!value_json)
		return tract_error_set(TRACT_EINVAL, "missing value");
	rc = tract_json_parse(&val, value_json, strlen(value_json), 0, err, sizeof(err));
	if (rc < 0)
		return tract_error_set(rc, "invalid value: %s", err);
	rc = sv_from_json(&q.value, val);
	cJSON_Delete(val);
	if (rc < 0)
		return tract_error_oom();
	fcopy = strdup(field);
	q.path = calloc(strlen(field) + 1, sizeof(char *));
	list = calloc(1, sizeof(*list));
	if (!fcopy || !q.path || !list) {
		rc = tract_error_oom();
		goto done;
	}
	for (part = strtok_r(fcopy, ".", &save); part; part = strtok_r(NULL, ".", &save))
		q.path[q.depth++] = part;
	if (q.depth == 0) {
		rc = tract_error_set(TRACT_EINVAL, "invalid config field '%s'", field);
		goto done;
	}
	q.op = op;
	q.list = list;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		goto done;
	rc = t->store->be->commit_foreach_with_config(t->store->conn, t->id, query_cb, &q);
	if (rc < 0)
		rc = rc == TRACT_ENOMEM ? tract_error_oom()
					: tract_backend_error(t->store, rc, "query configs");
	rc = tract_txn_end(t->store, rc);
done:
	if (rc < 0)
		tract_commit_list_free(list);
	else
		*out = list;
	free(q.value.text);
	free(q.path);
	free(fcopy);
	return rc;
}
