/*
 * http.h - one HTTP POST through libcurl for the provider plugins, and the
 * classification of what went wrong.
 *
 * Every call: a fresh easy handle, http and https only, no redirects
 * followed, no signals (CURLOPT_NOSIGNAL), proxies taken from the
 * environment as curl does (http_proxy, https_proxy, no_proxy...), a
 * connect timeout of min(timeout, 30 s), compressed bodies accepted (the
 * size bound counts the decompressed bytes). Nothing is logged and no
 * request header ever appears in a message.
 *
 * Timeouts: a whole call that is not streamed gets `timeout` seconds; a
 * streamed one fails when `timeout` seconds (rounded up) pass without a
 * byte from the server, however long the reply goes on.
 */
#ifndef TRACT_PLUGIN_COMMON_HTTP_H
#define TRACT_PLUGIN_COMMON_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "buf.h"
#include "tract/sys/provider.h"

/* The bytes of a streamed 2xx body, as they arrive. Return 0 to go on, or
 * a negative TRACT_E* code with err (the request's) filled to stop. */
typedef int (*tp_http_sink_fn)(void *payload, const char *data, size_t n);

typedef struct {
	const char *who;                  /* "openai": the start of every message */
	const char *url;
	const struct curl_slist *headers;
	const char *body;
	size_t body_len;
	double timeout;                   /* seconds, > 0 */
	size_t max_bytes;                 /* the body's bound */
	int stream;                       /* a 2xx text/event-stream body goes to sink */
	tp_http_sink_fn sink;
	void *payload;
} tp_http_request;

typedef struct {
	long status;          /* 0 = no HTTP answer */
	int streamed;         /* the body went to the sink, not to body */
	tp_buf body;
	double retry_after;   /* Retry-After (or retry-after-ms) in seconds, -1 = none */
} tp_http_response;

/* curl_global_init, once per process (the plugins never clean up). */
int tp_http_global_init(void);

/*
 * POST the request. 0 when an HTTP answer came whole (any status: see
 * tp_http_status_error); otherwise a negative TRACT_E* code with err
 * filled: TIMEOUT, TRANSPORT (refused, reset, DNS, TLS), BAD_RESPONSE (a
 * body past max_bytes), REQUEST (a URL curl refuses), or the sink's own
 * failure as the sink reported it. Dispose rs with tp_http_response_dispose.
 */
int tp_http_post(const tp_http_request *rq, tp_http_response *rs, tract_provider_error *err);
void tp_http_response_dispose(tp_http_response *rs);

/*
 * For a non-2xx answer: fill err (kind by status: 401/403 AUTH, 429
 * RATE_LIMIT with the server's Retry-After, 408 TIMEOUT, 5xx and 529
 * SERVER, other 4xx REQUEST; an OpenAI "insufficient_quota" is REQUEST, no
 * wait will help) with the server's own error message when the body holds
 * one ({"error": {"message": ...}}, {"error": "..."}, {"message": ...}).
 * Returns the TRACT_E* code.
 */
int tp_http_status_error(const tp_http_response *rs, tract_provider_error *err, const char *who);

/* The error message and type inside an error body (NULL when none):
 * allocated strings the caller frees. */
void tp_error_body(const char *body, size_t len, char **message, char **type);

/* Seconds a Retry-After value asks for (delta-seconds or an HTTP-date,
 * relative to now), -1 when it is neither. */
double tp_retry_after_parse(const char *value);

#endif
