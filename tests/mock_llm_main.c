/*
 * mock_llm_main.c - the scripted loopback server of mock_llm.c as a
 * program, for the shell tests of `tract generate` against an HTTP server.
 *
 *   mock_llm_server DIR RESPONSE...
 *
 * Each RESPONSE is STATUS[/sse][/delayMS][/retryS]=FILE: the next request
 * gets that status and FILE's bytes as its body (application/json, or
 * text/event-stream sent chunked in 7-byte pieces with /sse; /delayMS
 * waits that long before the status line; /retryS sends Retry-After: S). A request past the script gets
 * a 500. The server listens on 127.0.0.1 (an ephemeral port) and writes
 * its URL, one line, to DIR/url once it accepts connections (written to a
 * temporary name, then renamed: a reader never sees half a line). On
 * SIGTERM or SIGINT it stops and writes what it received: DIR/count (the
 * number of requests), DIR/N.headers and DIR/N.body for each (N from 0),
 * then DIR/done. Exit 0, or 1 with a message on stderr.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_llm.h"

#define MAX_RESPONSES 32

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[4096], tmp[4200];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "wb")))
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static char retry_headers[MAX_RESPONSES][64];

static int parse_response(size_t i, const char *arg, mock_response *r, char **owned)
{
	const char *eq = strchr(arg, '=');
	char spec[128], *tok, *save = NULL;
	size_t len = 0;

	memset(r, 0, sizeof(*r));
	if (!eq || (size_t)(eq - arg) >= sizeof(spec))
		return -1;
	memcpy(spec, arg, (size_t)(eq - arg));
	spec[eq - arg] = '\0';
	for (tok = strtok_r(spec, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, "sse") == 0) {
			r->content_type = "text/event-stream";
			r->chunked = 1;
			r->chunk_size = 7;
		} else if (strncmp(tok, "delay", 5) == 0) {
			r->delay_ms = atoi(tok + 5);
		} else if (strncmp(tok, "retry", 5) == 0) {
			snprintf(retry_headers[i], sizeof(retry_headers[i]), "Retry-After: %d\r\n",
				 atoi(tok + 5));
			r->headers = retry_headers[i];
		} else if ((r->status = atoi(tok)) < 100 || r->status > 599) {
			return -1;
		}
	}
	if (!r->status || !(*owned = slurp(eq + 1, &len)))
		return -1;
	r->body = *owned;
	r->body_len = len;
	if (!len)
		r->body = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	mock_response script[MAX_RESPONSES];
	char *owned[MAX_RESPONSES] = {0};
	char line[128];
	const char *dir;
	mock_llm *m;
	sigset_t set;
	size_t n, i, count;
	int sig;

	if (argc < 2 || argc - 2 > MAX_RESPONSES) {
		fprintf(stderr, "usage: mock_llm_server DIR STATUS[/sse][/delayMS][/retryS]=FILE...\n");
		return 2;
	}
	dir = argv[1];
	n = (size_t)argc - 2;
	for (i = 0; i < n; i++) {
		if (parse_response(i, argv[i + 2], &script[i], &owned[i]) != 0) {
			fprintf(stderr, "mock_llm_server: bad response '%s'\n", argv[i + 2]);
			return 2;
		}
	}
	/* every thread (the server's are made below) inherits the mask: the
	 * signals are taken here only, by sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (!(m = mock_start())) {
		fprintf(stderr, "mock_llm_server: cannot listen on 127.0.0.1\n");
		return 1;
	}
	if (n)
		mock_script(m, script, n);
	snprintf(line, sizeof(line), "%s\n", mock_url(m));
	if (write_file(dir, "url", line, strlen(line)) != 0) {
		fprintf(stderr, "mock_llm_server: cannot write %s/url\n", dir);
		mock_stop(m);
		return 1;
	}
	sigwait(&set, &sig);
	count = mock_request_count(m);
	for (i = 0; i < count; i++) {
		const mock_request *r = mock_request_get(m, i);
		char name[64];
		snprintf(name, sizeof(name), "%zu.headers", i);
		write_file(dir, name, r->headers, strlen(r->headers));
		snprintf(name, sizeof(name), "%zu.body", i);
		write_file(dir, name, r->body, r->body_len);
	}
	snprintf(line, sizeof(line), "%zu\n", count);
	write_file(dir, "count", line, strlen(line));
	mock_stop(m);
	for (i = 0; i < n; i++)
		free(owned[i]);
	write_file(dir, "done", "", 0);
	return 0;
}
