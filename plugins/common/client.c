/*
 * client.c - the HTTP providers' client, options and call (client.h).
 */
#include "client.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int tp_set_string(char **dst, const char *value)
{
	char *p = strdup(value);

	if (!p)
		return TRACT_ENOMEM;
	free(*dst);
	*dst = p;
	return 0;
}

int tp_parse_count(const char *value, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!value || *value < '0' || *value > '9')
		return -1;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno || *end || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int bad_option(tract_provider_error *err, const char *who, const char *key,
		      const char *why)
{
	tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: option %s: %s", who, key, why);
	return TRACT_EINVAL;
}

static int http_url(const char *v)
{
	return strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
}

static int set_base_url(tp_client *c, const char *v)
{
	size_t n;

	if (tp_set_string(&c->base_url, v) != 0)
		return TRACT_ENOMEM;
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	return 0;
}

static int common_option(tp_client *c, const char *key, const char *value,
			 tract_provider_error *err)
{
	if (strcmp(key, "api_key") == 0)
		return *value ? tp_set_string(&c->api_key, value) : 0;
	if (strcmp(key, "base_url") == 0) {
		if (!http_url(value))
			return bad_option(err, c->who, key, "not an http:// or https:// URL");
		return set_base_url(c, value);
	}
	if (strcmp(key, "model") == 0) {
		if (!*value)
			return bad_option(err, c->who, key, "empty");
		return tp_set_string(&c->model, value);
	}
	if (strcmp(key, "timeout") == 0) {
		char *end;
		double t = strtod(value, &end);
		if (end == value || *end || !isfinite(t) || t <= 0 || t > 86400)
			return bad_option(err, c->who, key,
					  "not a number of seconds above 0 (at most 86400)");
		c->timeout = t;
		return 0;
	}
	if (strcmp(key, "max_response_bytes") == 0) {
		uint64_t v;
		if (tp_parse_count(value, (uint64_t)1 << 40, &v) != 0 || v < 1024)
			return bad_option(err, c->who, key, "not a byte count from 1024 to 2^40");
		c->max_bytes = (size_t)v;
		return 0;
	}
	return 1;
}

void tp_client_free(tp_client *c)
{
	if (!c)
		return;
	free(c->api_key);
	free(c->base_url);
	free(c->model);
	free(c->organization);
	free(c->anthropic_version);
	free(c);
}

static const char *first_env(const char *const *names, const char **which)
{
	for (; names && *names; names++) {
		const char *v = getenv(*names);
		if (v && *v) {
			*which = *names;
			return v;
		}
	}
	return NULL;
}

int tp_client_create(tp_client **out, const tp_client_spec *spec,
		     const tract_provider_option *options, size_t n_options,
		     tract_provider_error *err)
{
	tp_client *c;
	const char *v, *which = NULL;
	size_t i;
	int rc = 0;

	if (!out) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: client_create: out is NULL",
			   spec->who);
		return TRACT_EINVAL;
	}
	*out = NULL;
	if (n_options && !options) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: options is NULL", spec->who);
		return TRACT_EINVAL;
	}
	if (tp_http_global_init() != 0) {
		tp_err_set(err, TRACT_PROVIDER_ERR_TRANSPORT, 0, "%s: libcurl failed to start",
			   spec->who);
		return TRACT_EPROVIDER;
	}
	if (!(c = calloc(1, sizeof(*c))))
		goto oom;
	c->who = spec->who;
	c->timeout = TP_DEFAULT_TIMEOUT;
	c->max_bytes = TP_DEFAULT_MAX_BYTES;
	for (i = 0; i < n_options; i++) {
		const char *key = options[i].key, *value = options[i].value;
		if (!key || !value) {
			rc = bad_option(err, spec->who, key ? key : "(null)", "no key or no value");
			goto fail;
		}
		rc = common_option(c, key, value, err);
		if (rc == 1)
			rc = spec->option ? spec->option(c, key, value, err) : 1;
		if (rc == 1) {
			tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: unknown option '%.64s'",
				   spec->who, key);
			rc = TRACT_EINVAL;
			goto fail;
		}
		if (rc == TRACT_ENOMEM)
			goto oom;
		if (rc)
			goto fail;
	}
	if (!c->api_key && (v = first_env(spec->key_env, &which)) && tp_set_string(&c->api_key, v))
		goto oom;
	if (!c->base_url) {
		if ((v = first_env(spec->url_env, &which)) != NULL) {
			if (!http_url(v)) {
				tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
					   "%s: %s is not an http:// or https:// URL", spec->who,
					   which);
				rc = TRACT_EINVAL;
				goto fail;
			}
		} else {
			v = spec->default_base_url;
		}
		if (set_base_url(c, v) != 0)
			goto oom;
	}
	if (!c->model && tp_set_string(&c->model, spec->default_model) != 0)
		goto oom;
	*out = c;
	return 0;
oom:
	tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: out of memory", spec->who);
	rc = TRACT_ENOMEM;
fail:
	tp_client_free(c);
	return rc;
}

int tp_tool_choice_is_mode(const char *choice)
{
	return strcmp(choice, "auto") == 0 || strcmp(choice, "none") == 0 ||
	       strcmp(choice, "required") == 0;
}

/* The body: the rendered messages, the model, the provider's members,
 * then extra_json's members over all of them. */
static int build_body(tp_client *c, const tp_wire *w, const tract_chat_request *rq, int stream,
		      char **out, tract_provider_error *err)
{
	cJSON *root = NULL, *extra = NULL, *item;
	const char *model = rq->model && *rq->model ? rq->model : c->model;
	int rc = 0;

	*out = NULL;
	if (!rq->body_json) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
			   "%s: the request has no body_json (the %s rendering of the messages)",
			   c->who, c->who);
		return TRACT_EINVAL;
	}
	if (!(root = cJSON_Parse(rq->body_json)) || !cJSON_IsObject(root)) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
			   "%s: the request's body_json is not a JSON object", c->who);
		rc = TRACT_EINVAL;
		goto done;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, "model");
	if (!cJSON_AddStringToObject(root, "model", model))
		goto oom;
	if ((rc = w->body(c, rq, stream, root, err)) != 0)
		goto done;
	if (rq->extra_json) {
		if (!(extra = cJSON_Parse(rq->extra_json)) || !cJSON_IsObject(extra)) {
			tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
				   "%s: the request's extra_json is not a JSON object", c->who);
			rc = TRACT_EINVAL;
			goto done;
		}
		while ((item = extra->child) != NULL) {
			cJSON_DetachItemViaPointer(extra, item);
			cJSON_DeleteItemFromObjectCaseSensitive(root, item->string);
			cJSON_AddItemToObject(root, item->string, item);
		}
	}
	if (!(*out = cJSON_PrintUnformatted(root)))
		goto oom;
	goto done;
oom:
	tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: out of memory", c->who);
	rc = TRACT_ENOMEM;
done:
	cJSON_Delete(root);
	cJSON_Delete(extra);
	return rc;
}

typedef struct {
	const tp_wire *w;
	void *state;
} sink_ctx;

static int sink(void *payload, const char *data, size_t n)
{
	sink_ctx *s = payload;

	return s->w->stream_feed(s->state, data, n);
}

static int finish(tp_client *c, tp_reply *r, tract_chat_reply *out, tract_provider_error *err)
{
	tp_scrub(r->raw, c->api_key);
	if (tp_reply_hand_over(r, out) != 0) {
		tp_err_set(err, TRACT_PROVIDER_ERR_BAD_RESPONSE, 200, "%s: out of memory", c->who);
		return TRACT_ENOMEM;
	}
	return 0;
}

int tp_client_chat(tp_client *c, const tp_wire *w, const tract_chat_request *rq, int stream,
		   tract_chat_delta_cb cb, void *payload, tract_chat_reply *out,
		   tract_provider_error *err)
{
	tp_http_request hr;
	tp_http_response rs;
	struct curl_slist *headers = NULL;
	char *body = NULL, *url = NULL;
	void *state = NULL;
	sink_ctx sc;
	tp_reply whole;
	int rc;

	tp_reply_init(&whole, c ? c->max_bytes : 0);
	memset(&rs, 0, sizeof(rs));
	if (err) {
		memset(err, 0, sizeof(*err));
		err->retry_after = -1;
	}
	if (!c || !rq || !out) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "provider call: NULL argument");
		return TRACT_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (rq->version < 1) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: request version %u unknown",
			   c->who, rq->version);
		return TRACT_EINVAL;
	}
	if (rq->timeout_seconds < 0 || !isfinite(rq->timeout_seconds)) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: bad timeout_seconds", c->who);
		return TRACT_EINVAL;
	}
	if ((rc = build_body(c, w, rq, stream, &body, err)) != 0)
		goto done;
	if (!(url = malloc(strlen(c->base_url) + strlen(w->path) + 1)) ||
	    !(headers = w->headers(c, stream)) ||
	    (stream && !(state = calloc(1, w->stream_size)))) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: out of memory", c->who);
		rc = TRACT_ENOMEM;
		goto done;
	}
	strcpy(url, c->base_url);
	strcat(url, w->path);
	memset(&hr, 0, sizeof(hr));
	hr.who = c->who;
	hr.url = url;
	hr.headers = headers;
	hr.body = body;
	hr.body_len = strlen(body);
	hr.timeout = rq->timeout_seconds > 0 ? rq->timeout_seconds : c->timeout;
	hr.max_bytes = c->max_bytes;
	if (stream) {
		w->stream_init(state, c->max_bytes, cb, payload, err);
		sc.w = w;
		sc.state = state;
		hr.stream = 1;
		hr.sink = sink;
		hr.payload = &sc;
	}
	if ((rc = tp_http_post(&hr, &rs, err)) != 0)
		goto done;
	if (rs.status < 200 || rs.status >= 300) {
		rc = tp_http_status_error(&rs, err, c->who);
		goto done;
	}
	if (rs.streamed) {
		if ((rc = w->stream_end(state)) == 0)
			rc = finish(c, w->stream_reply(state), out, err);
		goto done;
	}
	/* a whole body, also when a streamed call got one (a server that
	 * does not stream): handed to the callback in one piece */
	if ((rc = w->parse(&whole, rs.body.ptr ? rs.body.ptr : "", rs.body.len, err)) != 0)
		goto done;
	if (stream && (rc = tp_emit_reply(cb, payload, &whole, err, c->who)) != 0)
		goto done;
	rc = finish(c, &whole, out, err);
done:
	if (rc && err) {
		if (err->kind == TRACT_PROVIDER_ERR_NONE)
			tp_err_set(err, TRACT_PROVIDER_ERR_SERVER, (int)rs.status,
			           "%s: call failed", c->who);
		if (err->http_status == 0)
			err->http_status = (int)rs.status;
		tp_scrub(err->message, c->api_key);
	}
	if (state) {
		w->stream_dispose(state);
		free(state);
	}
	tp_reply_dispose(&whole);
	tp_http_response_dispose(&rs);
	curl_slist_free_all(headers);
	free(url);
	free(body);
	return rc;
}
