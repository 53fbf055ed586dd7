/*
 * budget.c - the token budget of a tract: setting (and persisting) it, and
 * checking a would-be context against it (operations layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"
#include "warning.h"

int tract_budget_set(tract *t, int64_t max_tokens, tract_budget_action action, tract_budget_cb cb,
		     void *payload, int persist)
{
	char key[128], value[32];
	int rc = 0;

	if (action < TRACT_BUDGET_WARN || action > TRACT_BUDGET_CALLBACK)
		return tract_error_set(TRACT_EINVAL, "unknown budget action %d", (int)action);
	if (max_tokens < 0)
		max_tokens = -1;
	if (persist) {
		rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
		if (rc < 0)
			return rc;
		tract_meta_key(key, sizeof(key), t->id, TRACT_META_MAX_TOKENS);
		if (max_tokens < 0) {
			rc = t->store->be->meta_delete(t->store->conn, key);
			if (rc == TRACT_ENOTFOUND)
				rc = 0;
		} else {
			snprintf(value, sizeof(value), "%" PRId64, max_tokens);
			rc = t->store->be->meta_set(t->store->conn, key, value);
		}
		if (rc < 0)
			rc = tract_backend_error(t->store, rc, "persist budget");
		rc = tract_txn_end(t->store, rc);
		if (rc < 0)
			return rc;
	}
	t->budget_max = max_tokens;
	t->budget_action = action;
	t->budget_cb = cb;
	t->budget_payload = payload;
	return 0;
}

int tract_budget_check(tract *t, int64_t total)
{
	if (t->budget_max < 0 || total <= t->budget_max)
		return 0;
	switch (t->budget_action) {
	case TRACT_BUDGET_REJECT:
		return tract_error_set(TRACT_EBUDGET,
				       "Token budget exceeded: %" PRId64 " tokens (max: %" PRId64
				       ")",
				       total, t->budget_max);
	case TRACT_BUDGET_CALLBACK:
		if (t->budget_cb && t->budget_cb(total, t->budget_max, t->budget_payload) != 0)
			return tract_error_set(TRACT_EBUDGET,
					       "Token budget exceeded: %" PRId64
					       " tokens (max: %" PRId64 "); refused by the callback",
					       total, t->budget_max);
		return 0;
	default:
		tract_warn("Token budget exceeded: %" PRId64 " tokens (max: %" PRId64 ")", total,
			   t->budget_max);
		return 0;
	}
}
