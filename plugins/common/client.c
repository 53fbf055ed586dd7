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
	c->wire = spec->wire;
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

/* A strict scan of one JSON text (RFC 8259) that builds nothing: the
 * request body is the core's rendering of a whole conversation (1.4 MB for
 * 10,000 messages), which parsing into a tree and printing again cost
 * more than everything else a call does. */
typedef struct {
	const char *p, *end;
	int depth;
} scan;

#define SCAN_MAX_DEPTH 1000 /* cJSON's CJSON_NESTING_LIMIT */

static void skip_ws(scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex4(const char *p)
{
	int i;

	for (i = 0; i < 4; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
		      (p[i] >= 'A' && p[i] <= 'F')))
			return -1;
	return 0;
}

/* A string at s->p (its opening quote); s->p after its closing quote. */
static int scan_string(scan *s)
{
	const char *p = s->p + 1;

	for (;;) {
		const char *q = p;
		while (q < s->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
			q++;
		if (q >= s->end || (unsigned char)*q < 0x20)
			return -1;
		if (*q == '"') {
			s->p = q + 1;
			return 0;
		}
		/* a backslash */
		if (q + 1 >= s->end)
			return -1;
		switch (q[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p = q + 2;
			break;
		case 'u':
			if (s->end - q < 6 || hex4(q + 2) != 0)
				return -1;
			p = q + 6;
			break;
		default:
			return -1;
		}
	}
}

static int digits(scan *s)
{
	const char *p0 = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > p0 ? 0 : -1;
}

static int scan_number(scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (digits(s) != 0)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (digits(s) != 0)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (digits(s) != 0)
			return -1;
	}
	return 0;
}

static int scan_word(scan *s, const char *w, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int scan_value(scan *s);

/* An object or an array at s->p. For the outermost object (names != NULL)
 * *names collects each member's name span: names[2i] its first byte
 * (after the quote), names[2i+1] its closing quote. */
static int scan_container(scan *s, const char ***names, size_t *n_names)
{
	char close = *s->p == '{' ? '}' : ']';
	int object = close == '}';

	if (++s->depth > SCAN_MAX_DEPTH)
		return -1;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (object) {
			const char *name;
			if (s->p >= s->end || *s->p != '"')
				return -1;
			name = s->p + 1;
			if (scan_string(s) != 0)
				return -1;
			if (names) {
				const char **grown = realloc(*names, (*n_names + 2) * sizeof(**names));
				if (!grown)
					return -2;
				*names = grown;
				grown[(*n_names)++] = name;
				grown[(*n_names)++] = s->p - 1;
			}
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return -1;
			s->p++;
		}
		if (scan_value(s) != 0)
			return -1;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if (s->p < s->end && *s->p == close) {
			s->p++;
			s->depth--;
			return 0;
		}
		return -1;
	}
}

static int scan_value(scan *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
	case '[':
		return scan_container(s, NULL, NULL);
	case '"':
		return scan_string(s);
	case 't':
		return scan_word(s, "true", 4);
	case 'f':
		return scan_word(s, "false", 5);
	case 'n':
		return scan_word(s, "null", 4);
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return -1;
	}
}

/* text is exactly one JSON object: 0, *close the offset of its final '}',
 * *names its member names (spans, see scan_container; free()d by the
 * caller); -1 when it is not, -2 out of memory. */
static int scan_object(const char *text, size_t len, size_t *close, const char ***names,
		       size_t *n_names)
{
	scan s = {text, text + len, 0};
	int rc;

	*names = NULL;
	*n_names = 0;
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return -1;
	if ((rc = scan_container(&s, names, n_names)) != 0)
		return rc;
	*close = (size_t)(s.p - 1 - text);
	skip_ws(&s);
	return s.p == s.end ? 0 : -1;
}

/* A member name span of the body (escapes as written) equals key. A name
 * written with escapes never matches: then the slow path decides. */
static int name_is(const char *from, const char *to, const char *key)
{
	size_t n = (size_t)(to - from);

	return strlen(key) == n && memcmp(from, key, n) == 0;
}

static int has_escape(const char *from, const char *to)
{
	return memchr(from, '\\', (size_t)(to - from)) != NULL;
}

/* The members the client adds: the model, the provider's members, then
 * extra_json's members over both. */
static int build_extra(tp_client *c, const tp_wire *w, const tract_chat_request *rq, int stream,
		       cJSON **out, tract_provider_error *err)
{
	const char *model = rq->model && *rq->model ? rq->model : c->model;
	cJSON *root = cJSON_CreateObject(), *extra = NULL, *item;
	int rc;

	*out = NULL;
	if (!root || !cJSON_AddStringToObject(root, "model", model))
		goto oom;
	if ((rc = w->body(c, rq, stream, root, err)) != 0)
		goto fail;
	if (rq->extra_json) {
		if (!(extra = cJSON_Parse(rq->extra_json)) || !cJSON_IsObject(extra)) {
			tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
				   "%s: the request's extra_json is not a JSON object", c->who);
			rc = TRACT_EINVAL;
			goto fail;
		}
		while ((item = extra->child) != NULL) {
			cJSON_DetachItemViaPointer(extra, item);
			cJSON_DeleteItemFromObjectCaseSensitive(root, item->string);
			cJSON_AddItemToObject(root, item->string, item);
		}
		cJSON_Delete(extra);
	}
	*out = root;
	return 0;
oom:
	tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: out of memory", c->who);
	rc = TRACT_ENOMEM;
fail:
	cJSON_Delete(root);
	cJSON_Delete(extra);
	return rc;
}

/* The slow path, when a member of the rendered body is one the client
 * sets (or its name is written with escapes): parse, replace, print. */
static int merge_parsed(const char *body_json, cJSON *add, char **out)
{
	cJSON *root = cJSON_Parse(body_json), *item;

	if (!root)
		return TRACT_ENOMEM; /* the scan accepted the text: only OOM fails */
	while ((item = add->child) != NULL) {
		cJSON_DetachItemViaPointer(add, item);
		cJSON_DeleteItemFromObjectCaseSensitive(root, item->string);
		cJSON_AddItemToObject(root, item->string, item);
	}
	*out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return *out ? 0 : TRACT_ENOMEM;
}

/* The body: the rendered messages (body_json, a JSON object), then the
 * client's members (build_extra). body_json is checked to be one JSON
 * object and, when none of its members is one the client sets (the core's
 * renderings never have one), the client's members are spliced in before
 * its final '}' without parsing it. */
static int build_body(tp_client *c, const tp_wire *w, const tract_chat_request *rq, int stream,
		      char **out, tract_provider_error *err)
{
	const char **names = NULL;
	size_t len, close = 0, n_names = 0, i, k, add_len;
	cJSON *add = NULL, *item;
	char *add_text = NULL, *body;
	int rc, collide = 0, members;

	*out = NULL;
	if (!rq->body_json) {
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
			   "%s: the request has no body_json (the %s rendering of the messages)",
			   c->who, c->who);
		return TRACT_EINVAL;
	}
	len = strlen(rq->body_json);
	if ((rc = scan_object(rq->body_json, len, &close, &names, &n_names)) != 0) {
		free(names);
		if (rc == -2)
			goto oom;
		tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0,
			   "%s: the request's body_json is not a JSON object", c->who);
		return TRACT_EINVAL;
	}
	if ((rc = build_extra(c, w, rq, stream, &add, err)) != 0) {
		free(names);
		return rc;
	}
	for (i = 0; i < n_names && !collide; i += 2) {
		if (has_escape(names[i], names[i + 1])) {
			collide = 1;
			break;
		}
		cJSON_ArrayForEach(item, add)
		{
			if (name_is(names[i], names[i + 1], item->string)) {
				collide = 1;
				break;
			}
		}
	}
	members = n_names > 0;
	free(names);
	if (collide) {
		rc = merge_parsed(rq->body_json, add, out);
		cJSON_Delete(add);
		if (rc)
			goto oom;
		return 0;
	}
	add_text = cJSON_PrintUnformatted(add);
	cJSON_Delete(add);
	if (!add_text)
		goto oom;
	/* add_text is "{...}": its members go in without the braces */
	add_len = strlen(add_text);
	k = add_len > 2 ? add_len - 2 : 0;
	if (!(body = malloc(close + 1 + k + 2))) {
		free(add_text);
		goto oom;
	}
	memcpy(body, rq->body_json, close);
	i = close;
	if (k) {
		if (members)
			body[i++] = ',';
		memcpy(body + i, add_text + 1, k);
		i += k;
	}
	body[i++] = '}';
	body[i] = '\0';
	free(add_text);
	*out = body;
	return 0;
oom:
	tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: out of memory", c->who);
	return TRACT_ENOMEM;
}

typedef struct {
	const tp_wire *w;
	void *state;
} sink_ctx;

static int sink(void *payload, const char *data, size_t n)
{
	sink_ctx *s = payload;

	return s->w->parser->stream_feed(s->state, data, n);
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
	    (stream && !(state = calloc(1, w->parser->stream_size)))) {
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
		w->parser->stream_init(state, c->max_bytes, cb, payload, err);
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
		if ((rc = w->parser->stream_end(state)) == 0)
			rc = finish(c, w->parser->stream_reply(state), out, err);
		goto done;
	}
	/* a whole body, also when a streamed call got one (a server that
	 * does not stream): handed to the callback in one piece */
	if ((rc = w->parser->parse(&whole, rs.body.ptr ? rs.body.ptr : "", rs.body.len, err)) != 0)
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
		w->parser->stream_dispose(state);
		free(state);
	}
	tp_reply_dispose(&whole);
	tp_http_response_dispose(&rs);
	curl_slist_free_all(headers);
	free(url);
	free(body);
	return rc;
}

int tp_chat(tract_provider_client *c, const tract_chat_request *rq, tract_chat_reply *out,
	    tract_provider_error *err)
{
	return tp_client_chat(c, c ? c->wire : NULL, rq, 0, NULL, NULL, out, err);
}

int tp_chat_stream(tract_provider_client *c, const tract_chat_request *rq,
		   tract_chat_delta_cb cb, void *payload, tract_chat_reply *out,
		   tract_provider_error *err)
{
	return tp_client_chat(c, c ? c->wire : NULL, rq, 1, cb, payload, out, err);
}

void tp_reply_clear(tract_provider_client *c, tract_chat_reply *reply)
{
	(void)c;
	tp_reply_release(reply);
}

struct curl_slist *tp_header_add(struct curl_slist *list, const char *a, const char *b)
{
	struct curl_slist *l;
	char *h;

	if (!list)
		return NULL;
	if (!(h = malloc(strlen(a) + strlen(b) + 1))) {
		curl_slist_free_all(list);
		return NULL;
	}
	strcpy(h, a);
	strcat(h, b);
	l = curl_slist_append(list, h);
	free(h);
	if (!l)
		curl_slist_free_all(list);
	return l;
}

struct curl_slist *tp_headers_json(int stream)
{
	struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");

	l = tp_header_add(l, "Accept: ", stream ? "text/event-stream" : "application/json");
	return tp_header_add(l, "Expect:", "");
}

int tp_err_oom(tract_provider_error *err, const char *who)
{
	tp_err_set(err, TRACT_PROVIDER_ERR_REQUEST, 0, "%s: out of memory", who);
	return TRACT_ENOMEM;
}
