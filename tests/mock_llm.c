/*
 * mock_llm.c - the scripted loopback HTTP server of the provider tests
 * (mock_llm.h). Waits (delays, pauses, stalls) poll a pipe that
 * mock_stop() closes, so stopping never waits for a stall to end.
 */
#define _GNU_SOURCE
#include "mock_llm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 256
#define MAX_SCRIPT 64
#define MAX_REQ 256

struct mock_llm {
	int listen_fd;
	int wake[2]; /* closed by mock_stop: every wait ends */
	char url[64];
	pthread_t acceptor;
	pthread_mutex_t lock;
	pthread_t conns[MAX_CONN];
	size_t n_conns;
	mock_response script[MAX_SCRIPT];
	size_t n_script, next;
	mock_request reqs[MAX_REQ];
	size_t n_reqs;
	int stopping;
	double served_ms; /* time spent serving since the last mock_script */
};

typedef struct {
	mock_llm *m;
	int fd;
} conn_arg;

/* Sleep ms, or less when the server stops; 1 when stopping. */
static int nap(mock_llm *m, int ms)
{
	struct pollfd p = {m->wake[0], POLLIN, 0};

	if (ms <= 0)
		return 0;
	return poll(&p, 1, ms) != 0;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

/* Read one request; 0 and r filled, or -1. */
static int read_request(int fd, mock_request *r)
{
	size_t cap = 65536, len = 0, head_len, body_len = 0;
	char *buf = malloc(cap), *end, *p, *line;
	const char *cl;

	memset(r, 0, sizeof(*r));
	if (!buf)
		return -1;
	for (;;) {
		ssize_t k;
		if (len + 1 >= cap) {
			char *q = realloc(buf, cap *= 2);
			if (!q)
				goto fail;
			buf = q;
		}
		k = recv(fd, buf + len, cap - len - 1, 0);
		if (k <= 0)
			goto fail;
		len += (size_t)k;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	head_len = (size_t)(end - buf) + 4;
	if (sscanf(buf, "%15s %511s", r->method, r->path) != 2)
		goto fail;
	line = strstr(buf, "\r\n") + 2;
	if (!(r->headers = strndup(line, (size_t)(end + 2 - line))))
		goto fail;
	for (p = r->headers; (cl = strcasestr(p, "content-length:")) != NULL; p = (char *)cl + 1) {
		if (cl == r->headers || cl[-1] == '\n') {
			body_len = strtoul(cl + 15, NULL, 10);
			break;
		}
	}
	if (strcasestr(r->headers, "expect: 100-continue"))
		send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	if (!(r->body = malloc(body_len + 1)))
		goto fail;
	r->body_len = len - head_len < body_len ? len - head_len : body_len;
	memcpy(r->body, buf + head_len, r->body_len);
	while (r->body_len < body_len) {
		ssize_t k = recv(fd, r->body + r->body_len, body_len - r->body_len, 0);
		if (k <= 0)
			goto fail;
		r->body_len += (size_t)k;
	}
	r->body[r->body_len] = '\0';
	free(buf);
	return 0;
fail:
	free(buf);
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
	return -1;
}

/* Body bytes [from, to) of the response, chunked or not. */
static int send_body(mock_llm *m, int fd, const mock_response *rs, const char *body,
		     size_t from, size_t to)
{
	size_t piece = rs->chunk_size ? rs->chunk_size : (to - from ? to - from : 1);

	while (from < to) {
		size_t n = to - from < piece ? to - from : piece;
		if (rs->chunked) {
			char head[32];
			snprintf(head, sizeof(head), "%zx\r\n", n);
			if (send_all(fd, head, strlen(head)) || send_all(fd, body + from, n) ||
			    send_all(fd, "\r\n", 2))
				return -1;
		} else if (send_all(fd, body + from, n)) {
			return -1;
		}
		from += n;
		if (from < to && rs->chunked && nap(m, rs->chunk_pause_ms))
			return -1;
	}
	return 0;
}

static void respond(mock_llm *m, int fd, const mock_response *rs)
{
	char head[4096];
	char *filled = NULL;
	const char *body = rs->body ? rs->body : "";
	size_t len = rs->fill ? rs->fill : rs->body_len ? rs->body_len : strlen(body);
	int status = rs->status ? rs->status : 200;

	if (nap(m, rs->delay_ms))
		return;
	if (rs->fill) {
		if (!(filled = malloc(len)))
			return;
		memset(filled, 'x', len);
		body = filled;
	}
	snprintf(head, sizeof(head),
	         "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sConnection: close\r\n", status,
	         reason(status), rs->content_type ? rs->content_type : "application/json",
	         rs->headers ? rs->headers : "");
	if (rs->chunked)
		strcat(head, "Transfer-Encoding: chunked\r\n\r\n");
	else
		snprintf(head + strlen(head), sizeof(head) - strlen(head),
		         "Content-Length: %zu\r\n\r\n", len);
	if (send_all(fd, head, strlen(head)))
		goto done;
	if (rs->stall_after) {
		size_t cut = rs->stall_after < len ? rs->stall_after : len;
		if (send_body(m, fd, rs, body, 0, cut) == 0)
			nap(m, rs->stall_ms);
		goto done;
	}
	if (send_body(m, fd, rs, body, 0, len) == 0 && rs->chunked)
		send_all(fd, "0\r\n\r\n", 5);
done:
	free(filled);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *serve(void *p)
{
	conn_arg *a = p;
	mock_llm *m = a->m;
	mock_request r;
	mock_response rs;
	int have = 0;
	double t0 = mono_ms();

	if (read_request(a->fd, &r) == 0) {
		pthread_mutex_lock(&m->lock);
		if (m->n_reqs < MAX_REQ)
			m->reqs[m->n_reqs++] = r;
		else {
			free(r.headers);
			free(r.body);
		}
		if (m->next < m->n_script) {
			rs = m->script[m->next++];
			have = 1;
		}
		pthread_mutex_unlock(&m->lock);
		if (!have) {
			memset(&rs, 0, sizeof(rs));
			rs.status = 500;
			rs.body = "{\"error\":{\"message\":\"mock: no response scripted\"}}";
		}
		respond(m, a->fd, &rs);
		pthread_mutex_lock(&m->lock);
		m->served_ms += mono_ms() - t0;
		pthread_mutex_unlock(&m->lock);
	}
	shutdown(a->fd, SHUT_RDWR);
	close(a->fd);
	free(a);
	return NULL;
}

static void *acceptor(void *p)
{
	mock_llm *m = p;

	for (;;) {
		struct pollfd fds[2] = {{m->listen_fd, POLLIN, 0}, {m->wake[0], POLLIN, 0}};
		conn_arg *a;
		int fd;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		if ((fd = accept(m->listen_fd, NULL, NULL)) < 0)
			continue;
		pthread_mutex_lock(&m->lock);
		if (m->n_conns == MAX_CONN || !(a = malloc(sizeof(*a)))) {
			pthread_mutex_unlock(&m->lock);
			close(fd);
			continue;
		}
		a->m = m;
		a->fd = fd;
		if (pthread_create(&m->conns[m->n_conns], NULL, serve, a) == 0)
			m->n_conns++;
		else {
			close(fd);
			free(a);
		}
		pthread_mutex_unlock(&m->lock);
	}
	return NULL;
}

mock_llm *mock_start(void)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	mock_llm *m = calloc(1, sizeof(*m));
	int one = 1;

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	if (pipe(m->wake) != 0) {
		free(m);
		return NULL;
	}
	m->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (m->listen_fd < 0 || bind(m->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(m->listen_fd, 64) != 0 ||
	    getsockname(m->listen_fd, (struct sockaddr *)&addr, &alen) != 0 ||
	    pthread_create(&m->acceptor, NULL, acceptor, m) != 0) {
		if (m->listen_fd >= 0)
			close(m->listen_fd);
		close(m->wake[0]);
		close(m->wake[1]);
		free(m);
		return NULL;
	}
	snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%d", ntohs(addr.sin_port));
	return m;
}

static void forget_requests(mock_llm *m)
{
	size_t i;

	for (i = 0; i < m->n_reqs; i++) {
		free(m->reqs[i].headers);
		free(m->reqs[i].body);
	}
	m->n_reqs = 0;
}

void mock_stop(mock_llm *m)
{
	size_t i;

	if (!m)
		return;
	close(m->wake[1]); /* wake[0] now reads EOF: every poll returns */
	pthread_join(m->acceptor, NULL);
	for (i = 0; i < m->n_conns; i++)
		pthread_join(m->conns[i], NULL);
	close(m->listen_fd);
	close(m->wake[0]);
	forget_requests(m);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

const char *mock_url(const mock_llm *m)
{
	return m->url;
}

void mock_script(mock_llm *m, const mock_response *responses, size_t n)
{
	pthread_mutex_lock(&m->lock);
	if (n > MAX_SCRIPT)
		n = MAX_SCRIPT;
	memcpy(m->script, responses, n * sizeof(*responses));
	m->n_script = n;
	m->next = 0;
	m->served_ms = 0;
	forget_requests(m);
	pthread_mutex_unlock(&m->lock);
}

double mock_served_ms(mock_llm *m)
{
	double v;

	pthread_mutex_lock(&m->lock);
	v = m->served_ms;
	pthread_mutex_unlock(&m->lock);
	return v;
}

size_t mock_request_count(mock_llm *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n_reqs;
	pthread_mutex_unlock(&m->lock);
	return n;
}

const mock_request *mock_request_get(mock_llm *m, size_t i)
{
	const mock_request *r = NULL;

	pthread_mutex_lock(&m->lock);
	if (i < m->n_reqs)
		r = &m->reqs[i];
	pthread_mutex_unlock(&m->lock);
	return r;
}

int mock_header(const mock_request *r, const char *name, char *out, size_t n)
{
	size_t len = strlen(name);
	const char *p = r->headers;

	while (p && *p) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			break;
		if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
			const char *v = p + len + 1;
			size_t k;
			while (*v == ' ')
				v++;
			k = (size_t)(eol - v);
			if (k >= n)
				k = n - 1;
			memcpy(out, v, k);
			out[k] = '\0';
			return 0;
		}
		p = eol + 2;
	}
	return -1;
}

int mock_free_port(void)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &alen) == 0)
		port = ntohs(addr.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}
