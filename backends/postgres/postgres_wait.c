/*
 * postgres_wait.c - ref_watch (ABI version 4): LISTEN on the store's
 * channel, which the refs trigger of the schema (postgres_schema.c)
 * notifies with the tract id in the transaction that changes a ref; the
 * waiter sleeps in poll(2) on the connection's socket until a
 * notification of its tract arrives or the time runs out.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "postgres_internal.h"

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* LISTEN on the store's channel (outside pipeline mode, then back). */
static int arm(tract_backend_conn *conn)
{
	const char *v[1] = {conn->schema};
	PGresult *res = NULL;
	char *ident, *sql;
	size_t n;
	int rc;

	if (PQpipelineStatus(conn->pg) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn->pg) != 1)
		return fail(conn, TRACT_ESTORAGE, "postgres: cannot leave pipeline mode");
	rc = setup_exec(conn, "SELECT 'tract_' || left(md5($1), 24)", 1, v, &res,
			"find the notification channel");
	if (rc == 0) {
		ident = PQescapeIdentifier(conn->pg, PQgetvalue(res, 0, 0),
					   strlen(PQgetvalue(res, 0, 0)));
		PQclear(res);
		if (!ident)
			return fail(conn, TRACT_ESTORAGE, "postgres: cannot quote the channel name");
		n = strlen(ident) + 16;
		sql = malloc(n);
		if (!sql) {
			PQfreemem(ident);
			return fail(conn, TRACT_ENOMEM, "postgres: out of memory");
		}
		snprintf(sql, n, "LISTEN %s", ident);
		PQfreemem(ident);
		rc = setup_exec(conn, sql, 0, NULL, NULL, "listen for ref changes");
		free(sql);
	}
	if (rc == 0)
		conn->listening = true;
	{
		int rc2 = enter_pipeline(conn);
		return rc < 0 ? rc : rc2;
	}
}

/* 1 when a notification for tract_id is queued (all queued are consumed). */
static int drain(tract_backend_conn *conn, const char *tract_id)
{
	PGnotify *nf;
	int hit = 0;

	while ((nf = PQnotifies(conn->pg)) != NULL) {
		if (nf->extra && strcmp(nf->extra, tract_id) == 0)
			hit = 1;
		PQfreemem(nf);
	}
	return hit;
}

int pg_ref_watch(tract_backend_conn *conn, const char *tract_id, int64_t timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	int rc;

	CHECK_ARG(conn, tract_id);
	if (conn->txn != TXN_NONE)
		return fail(conn, TRACT_EINVAL, "postgres: ref_watch inside a transaction");
	if (!conn->listening) {
		rc = arm(conn);
		if (rc < 0)
			return rc;
	}
	if (timeout_ms == 0) {
		/* Arming: what was notified before is not ours to report (the
		 * caller reads the ref after this call). */
		if (PQconsumeInput(conn->pg) == 1)
			(void)drain(conn, tract_id);
		return 0;
	}
	for (;;) {
		struct pollfd pfd;
		int64_t left;
		int wait_ms;

		if (PQconsumeInput(conn->pg) != 1) {
			conn->poisoned = true;
			return fail(conn, TRACT_ESTORAGE, "postgres: connection lost while waiting: %s",
				    PQerrorMessage(conn->pg));
		}
		if (drain(conn, tract_id))
			return 0;
		left = deadline < 0 ? -1 : deadline - mono_ms();
		if (deadline >= 0 && left <= 0)
			return fail(conn, TRACT_ETIMEOUT, "postgres: timed out waiting for a ref change");
		wait_ms = left < 0 || left > 60000 ? 60000 : (int)left;
		pfd.fd = PQsocket(conn->pg);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0) {
			conn->poisoned = true;
			return fail(conn, TRACT_ESTORAGE, "postgres: no connection socket");
		}
		if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR)
			return fail(conn, TRACT_ESTORAGE, "postgres: poll: %s", strerror(errno));
	}
}
