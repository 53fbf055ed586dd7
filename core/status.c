/*
 * status.c - the status of a tract: HEAD, branch, compiled size and budget
 * (CLI `status`; operations layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"

int tract_status_get(tract_status **out, tract *t)
{
	tract_context *ctx = NULL;
	tract_status *st;
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL, "tract_status_get: NULL argument");
	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return tract_error_oom();
	st->max_tokens = t->budget_max;
	snprintf(st->tract_id, sizeof(st->tract_id), "%s", t->id);
	rc = tract_head_get(st->head, &st->branch, &st->detached, t);
	if (rc == 0)
		rc = tract_context_compile(&ctx, t, NULL);
	if (rc == 0) {
		st->commit_count = (int64_t)ctx->count;
		st->token_count = ctx->token_count;
		st->token_source = strdup(ctx->token_source);
		if (!st->token_source)
			rc = tract_error_oom();
	}
	tract_context_free(ctx);
	if (rc < 0) {
		tract_status_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

void tract_status_free(tract_status *st)
{
	if (!st)
		return;
	free(st->branch);
	free(st->token_source);
	free(st);
}
