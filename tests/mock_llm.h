/*
 * mock_llm.h - a scripted HTTP/1.1 server on 127.0.0.1 (an ephemeral
 * port) for the provider tests: plain sockets, a thread per connection,
 * one request per connection. Each request takes the next response of the
 * script (a 500 when the script is used up) and is recorded (method, path,
 * headers, body) so a test asserts exactly what a plugin sent.
 */
#ifndef TRACT_TEST_MOCK_LLM_H
#define TRACT_TEST_MOCK_LLM_H

#include <stddef.h>

typedef struct {
	int status;                /* 0 = 200 */
	const char *content_type;  /* NULL = application/json */
	const char *headers;       /* more header lines, each ending in "\r\n" */
	const char *body;          /* NULL = empty */
	size_t body_len;           /* 0 = strlen(body) */
	size_t fill;               /* > 0: the body is this many 'x' bytes instead */
	int delay_ms;              /* wait before the status line */
	/* Chunked transfer encoding: the body in pieces of chunk_size bytes
	 * (0 = one piece) with chunk_pause_ms between them (an SSE stream
	 * arriving over time). */
	int chunked;
	size_t chunk_size;
	int chunk_pause_ms;
	/* > 0: after this many body bytes, wait stall_ms then close the
	 * connection without sending the rest. */
	size_t stall_after;
	int stall_ms;
} mock_response;

typedef struct {
	char method[16];
	char path[512];
	char *headers;    /* the header lines as received ("Name: value\r\n"...) */
	char *body;       /* NUL-terminated */
	size_t body_len;
} mock_request;

typedef struct mock_llm mock_llm;

/* Start a server (NULL on failure). */
mock_llm *mock_start(void);
/* Stop it: wakes stalled connections, joins every thread, frees all. */
void mock_stop(mock_llm *m);
/* "http://127.0.0.1:PORT" */
const char *mock_url(const mock_llm *m);
/* Replace the script (responses are copied; their strings must live until
 * the server has sent them) and forget the recorded requests. */
void mock_script(mock_llm *m, const mock_response *responses, size_t n);
/* Requests received so far (a request is recorded once read whole). */
size_t mock_request_count(mock_llm *m);
/* The i-th request (valid until the next mock_script or mock_stop). */
const mock_request *mock_request_get(mock_llm *m, size_t i);
/* The value of header name (case-insensitive) in r, copied into out;
 * 0 when found, -1 otherwise. */
int mock_header(const mock_request *r, const char *name, char *out, size_t n);
/* Milliseconds the server spent on connections since the last
 * mock_script (from the connection's first read to its response sent),
 * summed: "the server's own time" of a benchmark. */
double mock_served_ms(mock_llm *m);
/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
int mock_free_port(void);

#endif
