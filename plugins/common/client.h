/*
 * client.h - what the two HTTP providers share above the wire format: the
 * client and its options, the request body's common members, and one
 * attempt of a call (POST, status classification, parse, whole or
 * streamed). Each plugin supplies a tp_wire: its URL path, headers, the
 * members only it adds, and its reply parsers.
 */
#ifndef TRACT_PLUGIN_COMMON_CLIENT_H
#define TRACT_PLUGIN_COMMON_CLIENT_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "reply.h"
#include "tract/sys/provider.h"

#define TP_DEFAULT_TIMEOUT 120.0
#define TP_DEFAULT_MAX_BYTES ((size_t)16 << 20)

typedef struct tp_wire tp_wire;

/* A client is read-only once made: calls on one client may run at the same
 * time from several threads (each call has its own curl handle). */
struct tract_provider_client {
	const char *who;          /* the provider's name */
	char *api_key;            /* NULL = none (a local server) */
	char *base_url;           /* without a trailing slash */
	char *model;
	double timeout;           /* seconds */
	size_t max_bytes;         /* bound of a response body */
	char *organization;       /* openai: OpenAI-Organization, NULL = none */
	char *anthropic_version;  /* anthropic: the anthropic-version header */
	int64_t max_tokens;       /* anthropic: max_tokens when the request gives none */
	const tp_wire *wire;      /* the spec's */
};
typedef struct tract_provider_client tp_client;

struct tp_wire {
	const char *path;  /* appended to base_url: "/chat/completions" */
	/* The request headers (tp_headers_json() and the provider's own:
	 * key, version...): NULL on OOM. */
	struct curl_slist *(*headers)(const tp_client *c, int stream);
	/* Add the provider's members (max_tokens, tools, tool_choice, stream
	 * options...) to root, which holds the model; they go into the body
	 * after the rendered messages. 0 or a negative code with err filled. */
	int (*body)(const tp_client *c, const tract_chat_request *rq, int stream, cJSON *root,
		    tract_provider_error *err);
	const tp_parser *parser;  /* the replies, whole and streamed */
};

/* Where a client's settings come from when the options leave them out. */
typedef struct {
	const char *who;
	const char *default_model;
	const char *default_base_url;
	const char *const *key_env;  /* NULL-terminated, first set one wins */
	const char *const *url_env;
	const tp_wire *wire;         /* what the client's calls send and read */
	/* A key only this provider takes: 0 = taken, 1 = not one of its
	 * keys, a negative code = a bad value (err filled). */
	int (*option)(tp_client *c, const char *key, const char *value, tract_provider_error *err);
} tp_client_spec;

/* Make a client: the options (api_key, base_url, model, timeout,
 * max_response_bytes, then the provider's own), then the environment.
 * Unknown keys and bad values: TRACT_EINVAL, kind REQUEST, a message that
 * names the key but never shows a value. */
int tp_client_create(tp_client **out, const tp_client_spec *spec,
		     const tract_provider_option *options, size_t n_options,
		     tract_provider_error *err);
void tp_client_free(tp_client *c);

/* Parse a positive integer option value (decimal, no sign) up to max. */
int tp_parse_count(const char *value, uint64_t max, uint64_t *out);
/* Replace a string member with a copy of value: 0 or TRACT_ENOMEM. */
int tp_set_string(char **dst, const char *value);



/* One attempt: chat() when stream is 0, chat_stream() otherwise. */
int tp_client_chat(tp_client *c, const tp_wire *w, const tract_chat_request *rq, int stream,
		   tract_chat_delta_cb cb, void *payload, tract_chat_reply *out,
		   tract_provider_error *err);

/* The provider table's members, the same for every HTTP provider (the
 * wire is the client's). */
int tp_chat(tract_provider_client *c, const tract_chat_request *rq, tract_chat_reply *out,
	    tract_provider_error *err);
int tp_chat_stream(tract_provider_client *c, const tract_chat_request *rq,
		   tract_chat_delta_cb cb, void *payload, tract_chat_reply *out,
		   tract_provider_error *err);
void tp_reply_clear(tract_provider_client *c, tract_chat_reply *reply);

/* The headers every JSON call sends (Content-Type, Accept for a whole or a
 * streamed reply, no Expect: 100-continue): NULL on OOM. */
struct curl_slist *tp_headers_json(int stream);
/* Append the header a+b to list; on OOM the list is freed and NULL
 * returned (a NULL list stays NULL). */
struct curl_slist *tp_header_add(struct curl_slist *list, const char *a, const char *b);
/* err: REQUEST, "WHO: out of memory"; returns TRACT_ENOMEM. */
int tp_err_oom(tract_provider_error *err, const char *who);

/* The request's tool_choice is one of "auto", "none", "required" (else
 * it names a tool). */
int tp_tool_choice_is_mode(const char *choice);

#endif
