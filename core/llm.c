/*
 * llm.c - the provider layer: providers opened by name or handed in as
 * in-process tables, the retry policy every provider gets (backoff with
 * jitter, Retry-After capped at 60 s, no retry on auth and other 4xx), the
 * fallback list, and the reply copied out into a tract_chat_result.
 * No store here: tract_generate() (generate.c) builds on this.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "error.h"
#include "llm.h"
#include "plugin.h"
#include "warning.h"

extern char **environ;

#define MAX_PROVIDERS 8
#define DEFAULT_MAX_RETRIES 2
#define DEFAULT_BACKOFF_BASE 1.0
#define DEFAULT_BACKOFF_MAX 30.0

struct llm_provider {
	tract_provider table; /* the adopted copy */
	tract_provider_client *client;
	char *model; /* the "model" option, else default_model (or NULL) */
};

struct tract_llm {
	struct llm_provider p[MAX_PROVIDERS];
	size_t n;
	tract_provider_option *options; /* a deep copy of the caller's */
	size_t n_options;
	int max_retries;
	double timeout;
	double backoff_base;
	double backoff_max;
	char names[MAX_PROVIDERS * 33];
};

struct tract_chat_result {
	char *text;
	tract_tool_call *calls;
	size_t n_calls;
	char *finish_reason;
	tract_chat_usage usage;
	char *model;
	char *provider;
	char *raw_json;
	unsigned int attempts;
};

/* ---- test hooks ------------------------------------------------------------ */

static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static tract_llm_sleep_fn hook_sleep;
static tract_llm_random_fn hook_random;
static void *hook_payload;

void tract_llm_test_hooks_set(tract_llm_sleep_fn sleep_fn, tract_llm_random_fn random_fn,
                              void *payload)
{
	pthread_mutex_lock(&hooks_lock);
	hook_sleep = sleep_fn;
	hook_random = random_fn;
	hook_payload = payload;
	pthread_mutex_unlock(&hooks_lock);
}

static void do_sleep(double seconds)
{
	tract_llm_sleep_fn fn;
	void *payload;
	struct timespec ts;

	pthread_mutex_lock(&hooks_lock);
	fn = hook_sleep;
	payload = hook_payload;
	pthread_mutex_unlock(&hooks_lock);
	if (fn) {
		fn(seconds, payload);
		return;
	}
	if (!(seconds > 0))
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double do_random(void)
{
	static __thread unsigned int seed;
	tract_llm_random_fn fn;
	void *payload;

	pthread_mutex_lock(&hooks_lock);
	fn = hook_random;
	payload = hook_payload;
	pthread_mutex_unlock(&hooks_lock);
	if (fn)
		return fn(payload);
	if (!seed)
		seed = (unsigned int)tract_time_now() ^ (unsigned int)(uintptr_t)&seed;
	return (double)rand_r(&seed) / ((double)RAND_MAX + 1.0);
}

/* ---- secrets ------------------------------------------------------------------ */

/* An option key naming a secret: api_key, key, secret, password,
 * credentials, token (but not max_tokens and the like). */
static int secret_name(const char *key)
{
	char low[64];
	size_t i, n = strlen(key);

	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)key[i]);
	low[n] = '\0';
	if (strstr(low, "key") || strstr(low, "secret") || strstr(low, "password") ||
	    strstr(low, "credential") || strstr(low, "auth"))
		return 1;
	return strstr(low, "token") && !strstr(low, "tokens");
}

static void mask_one(char *text, const char *secret)
{
	size_t n = strlen(secret);
	char *p;

	if (n < 4)
		return;
	while ((p = strstr(text, secret)) != NULL) {
		/* "***" then the rest moved up. */
		memcpy(p, "***", 3);
		memmove(p + 3, p + n, strlen(p + n) + 1);
	}
}

static int secret_env_name(const char *name, size_t len)
{
	char low[128];
	size_t i;

	if (len >= sizeof(low))
		len = sizeof(low) - 1;
	for (i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[len] = '\0';
	return strstr(low, "api_key") || strstr(low, "secret") || strstr(low, "password") ||
	       (len > 6 && strcmp(low + len - 6, "_token") == 0) ||
	       (len > 4 && strcmp(low + len - 4, "_key") == 0);
}

void tract_llm_mask_secrets(const tract_llm *llm, char *text, size_t size)
{
	char **e;
	size_t i;

	(void)size;
	if (!text || !*text)
		return;
	if (llm) {
		for (i = 0; i < llm->n_options; i++)
			if (llm->options[i].value && secret_name(llm->options[i].key))
				mask_one(text, llm->options[i].value);
	}
	for (e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (eq && strlen(eq + 1) >= 6 && secret_env_name(*e, (size_t)(eq - *e)))
			mask_one(text, eq + 1);
	}
}

/* ---- options and opening -------------------------------------------------------- */

int tract_llm_options_init(tract_llm_options *opts, unsigned int version)
{
	tract_llm_options defaults = TRACT_LLM_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_llm_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_LLM_OPTIONS_VERSION, "tract_llm_options") < 0)
		return TRACT_EINVAL;
	*opts = defaults;
	opts->version = version;
	return 0;
}

static int finite_nonneg(double v)
{
	return isfinite(v) && v >= 0;
}

static int llm_new(tract_llm **out, const tract_llm_options *opts)
{
	tract_llm *llm;
	size_t i;

	*out = NULL;
	if (opts &&
	    tract_version_check(opts->version, TRACT_LLM_OPTIONS_VERSION, "tract_llm_options") < 0)
		return TRACT_EINVAL;
	if (opts && (opts->max_retries < -1 || opts->max_retries > 100))
		return tract_error_set(TRACT_EINVAL,
		                       "max_retries must be -1 (default) or 0 to 100, "
		                       "not %d",
		                       opts->max_retries);
	if (opts && (!finite_nonneg(opts->timeout_seconds) || !finite_nonneg(opts->backoff_base) ||
	             !finite_nonneg(opts->backoff_max)))
		return tract_error_set(TRACT_EINVAL, "timeout and backoff must be finite numbers "
		                                     ">= 0");
	if (opts && opts->n_options && !opts->options)
		return tract_error_set(TRACT_EINVAL, "n_options is %zu but options is NULL",
		                       opts->n_options);
	if (opts && opts->n_options > 256)
		return tract_error_set(TRACT_EINVAL, "too many provider options (%zu, at most 256)",
		                       opts->n_options);
	for (i = 0; opts && i < opts->n_options; i++) {
		const char *k = opts->options[i].key;
		if (!k || !*k || strlen(k) > 128 || !opts->options[i].value)
			return tract_error_set(TRACT_EINVAL,
			                       "provider option %zu: a key of 1 to 128 bytes and a "
			                       "value are required",
			                       i);
		if (strlen(opts->options[i].value) > 65536)
			return tract_error_set(TRACT_EINVAL,
			                       "provider option '%.64s': the value is longer than "
			                       "64 KiB",
			                       k);
	}
	llm = calloc(1, sizeof(*llm));
	if (!llm)
		return tract_error_oom();
	llm->max_retries = opts && opts->max_retries >= 0 ? opts->max_retries : DEFAULT_MAX_RETRIES;
	llm->timeout = opts ? opts->timeout_seconds : 0;
	llm->backoff_base =
	    opts && opts->backoff_base > 0 ? opts->backoff_base : DEFAULT_BACKOFF_BASE;
	llm->backoff_max = opts && opts->backoff_max > 0 ? opts->backoff_max : DEFAULT_BACKOFF_MAX;
	if (opts && opts->n_options) {
		llm->options = calloc(opts->n_options, sizeof(*llm->options));
		if (!llm->options) {
			free(llm);
			return tract_error_oom();
		}
		llm->n_options = opts->n_options;
		for (i = 0; i < opts->n_options; i++) {
			llm->options[i].key = strdup(opts->options[i].key);
			llm->options[i].value = strdup(opts->options[i].value);
			if (!llm->options[i].key || !llm->options[i].value) {
				tract_llm_free(llm);
				return tract_error_oom();
			}
		}
	}
	*out = llm;
	return 0;
}

/* The options of one provider: plain keys, and "NAME.KEY" as KEY. The
 * array borrows llm's strings. */
static int provider_options(tract_provider_option **out, size_t *n, const tract_llm *llm,
                            const char *name, const char **model)
{
	size_t i, k = 0, nl = strlen(name);
	tract_provider_option *o;

	*out = NULL;
	*n = 0;
	*model = NULL;
	if (!llm->n_options)
		return 0;
	o = calloc(llm->n_options, sizeof(*o));
	if (!o)
		return tract_error_oom();
	for (i = 0; i < llm->n_options; i++) {
		const char *key = llm->options[i].key, *dot = strchr(key, '.');
		if (dot) {
			if ((size_t)(dot - key) != nl || strncmp(key, name, nl) != 0)
				continue;
			key = dot + 1;
		}
		o[k].key = key;
		o[k].value = llm->options[i].value;
		if (strcmp(key, "model") == 0)
			*model = o[k].value;
		k++;
	}
	*out = o;
	*n = k;
	return 0;
}

static int add_table(tract_llm *llm, const tract_provider *table, const char *what)
{
	struct llm_provider *p;
	tract_provider_option *o = NULL;
	tract_provider_error err;
	const char *model = NULL;
	char why[600];
	size_t n = 0;
	int rc;

	if (llm->n >= MAX_PROVIDERS)
		return tract_error_set(TRACT_EINVAL, "at most %d providers in a fallback list",
		                       MAX_PROVIDERS);
	p = &llm->p[llm->n];
	memset(p, 0, sizeof(*p));
	rc = tract_provider_adopt(&p->table, table, what, why, sizeof(why));
	if (rc < 0)
		return tract_error_set(rc, "%s", why);
	rc = provider_options(&o, &n, llm, p->table.name, &model);
	if (rc < 0)
		return rc;
	memset(&err, 0, sizeof(err));
	err.retry_after = -1;
	rc = p->table.client_create(&p->client, o, n, &err);
	free(o);
	if (rc >= 0 && !p->client)
		rc = TRACT_EPROVIDER, snprintf(err.message, sizeof(err.message), "no client made");
	if (rc < 0) {
		err.message[sizeof(err.message) - 1] = '\0';
		tract_llm_mask_secrets(llm, err.message, sizeof(err.message));
		p->client = NULL;
		if (rc > 0 || rc < TRACT_EUNMERGED)
			rc = TRACT_EPROVIDER;
		return tract_error_set(rc, "provider '%s': %s", p->table.name,
		                       err.message[0] ? err.message : "could not create a client");
	}
	p->model = model                    ? strdup(model)
	           : p->table.default_model ? strdup(p->table.default_model)
	                                    : NULL;
	if ((model || p->table.default_model) && !p->model) {
		p->table.client_free(p->client);
		return tract_error_oom();
	}
	if (llm->n)
		strcat(llm->names, ",");
	strcat(llm->names, p->table.name);
	llm->n++;
	return 0;
}

int tract_llm_open(tract_llm **out, const char *names, const tract_llm_options *opts)
{
	tract_llm *llm = NULL;
	char name[64];
	const char *p;
	size_t index = 0;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_llm_open: out is NULL");
	*out = NULL;
	if (!names || !*names)
		return tract_error_set(TRACT_EINVAL, "no provider named");
	/* Validate the whole list before loading anything. */
	for (p = names;;) {
		size_t len = strcspn(p, ",");
		size_t count = 0;
		const char *q;
		for (q = names; *q; q++)
			count += *q == ',';
		if (count >= MAX_PROVIDERS)
			return tract_error_set(
			    TRACT_EINVAL, "at most %d providers in a fallback list", MAX_PROVIDERS);
		/* The text is not repeated: it may be anything (a key
		 * pasted in the wrong place). */
		if (len == 0 || len >= sizeof(name))
			return tract_error_set(TRACT_EINVAL,
			                       "invalid provider list: name %zu is empty or longer "
			                       "than 31 bytes",
			                       index + 1);
		memcpy(name, p, len);
		name[len] = '\0';
		if (!tract_plugin_name_valid(name))
			return tract_error_set(TRACT_EINVAL,
			                       "invalid provider name %zu of the list (1 to 31 "
			                       "letters, digits, '_' or '-')",
			                       index + 1);
		index++;
		if (!p[len])
			break;
		p += len + 1;
	}
	rc = llm_new(&llm, opts);
	if (rc < 0)
		return rc;
	for (p = names;;) {
		size_t len = strcspn(p, ",");
		const tract_provider *table;
		char what[96];
		memcpy(name, p, len);
		name[len] = '\0';
		rc = tract_plugin_provider(&table, name);
		if (rc < 0) {
			/* The name may be a key pasted in the wrong place. */
			char msg[2048];
			snprintf(msg, sizeof(msg), "%s", tract_error_last()->message);
			tract_llm_mask_secrets(llm, msg, sizeof(msg));
			rc = tract_error_set(rc, "%s", msg);
		}
		if (rc == 0) {
			snprintf(what, sizeof(what), "provider plugin '%s'", name);
			rc = add_table(llm, table, what);
		}
		if (rc < 0) {
			tract_llm_free(llm);
			return rc;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	*out = llm;
	return 0;
}

int tract_llm_open_provider(tract_llm **out, const tract_provider *table,
                            const tract_llm_options *opts)
{
	tract_llm *llm = NULL;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_llm_open_provider: out is NULL");
	*out = NULL;
	if (!table)
		return tract_error_set(TRACT_EINVAL, "tract_llm_open_provider: table is NULL");
	rc = llm_new(&llm, opts);
	if (rc < 0)
		return rc;
	rc = add_table(llm, table, "in-process provider");
	if (rc < 0) {
		tract_llm_free(llm);
		return rc;
	}
	*out = llm;
	return 0;
}

int tract_llm_add_provider(tract_llm *llm, const tract_provider *table)
{
	if (!llm || !table)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_llm_add_provider: llm or table is NULL");
	return add_table(llm, table, "in-process provider");
}

void tract_llm_free(tract_llm *llm)
{
	size_t i;

	if (!llm)
		return;
	for (i = 0; i < llm->n; i++) {
		if (llm->p[i].client)
			llm->p[i].table.client_free(llm->p[i].client);
		free(llm->p[i].model);
	}
	for (i = 0; i < llm->n_options; i++) {
		free((char *)llm->options[i].key);
		free((char *)llm->options[i].value);
	}
	free(llm->options);
	free(llm);
}

size_t tract_llm_provider_count(const tract_llm *llm)
{
	return llm ? llm->n : 0;
}

const char *tract_llm_provider_name(const tract_llm *llm, size_t i)
{
	return llm && i < llm->n ? llm->p[i].table.name : NULL;
}

const char *tract_llm_provider_model(const tract_llm *llm, size_t i)
{
	return llm && i < llm->n ? llm->p[i].model : NULL;
}

const char *tract_llm_names(const tract_llm *llm)
{
	return llm ? llm->names : "";
}

/* ---- results ------------------------------------------------------------------------ */

void tract_chat_result_free(tract_chat_result *r)
{
	size_t i;

	if (!r)
		return;
	free(r->text);
	for (i = 0; i < r->n_calls; i++) {
		free((char *)r->calls[i].id);
		free((char *)r->calls[i].name);
		free((char *)r->calls[i].arguments_json);
	}
	free(r->calls);
	free(r->finish_reason);
	free(r->model);
	free(r->provider);
	free(r->raw_json);
	free(r);
}

const char *tract_chat_result_text(const tract_chat_result *r)
{
	return r ? r->text : NULL;
}

size_t tract_chat_result_tool_call_count(const tract_chat_result *r)
{
	return r ? r->n_calls : 0;
}

const tract_tool_call *tract_chat_result_tool_call(const tract_chat_result *r, size_t i)
{
	return r && i < r->n_calls ? &r->calls[i] : NULL;
}

const char *tract_chat_result_finish_reason(const tract_chat_result *r)
{
	return r ? r->finish_reason : NULL;
}

const tract_chat_usage *tract_chat_result_usage(const tract_chat_result *r)
{
	return r ? &r->usage : NULL;
}

const char *tract_chat_result_model(const tract_chat_result *r)
{
	return r ? r->model : NULL;
}

const char *tract_chat_result_provider(const tract_chat_result *r)
{
	return r ? r->provider : NULL;
}

const char *tract_chat_result_raw_json(const tract_chat_result *r)
{
	return r ? r->raw_json : NULL;
}

unsigned int tract_chat_result_attempts(const tract_chat_result *r)
{
	return r ? r->attempts : 0;
}

static int dup_or_null(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

/* Copy a provider's reply. TRACT_EPROVIDER (err filled) for a reply that
 * breaks the ABI's contract, TRACT_ENOMEM. */
static int result_copy(tract_chat_result **out, const tract_llm *llm, const struct llm_provider *p,
                       const tract_chat_request *req, const tract_chat_reply *reply,
                       tract_provider_error *err)
{
	tract_chat_result *r;
	const char *model;
	size_t i;
	int bad = 0;

	*out = NULL;
	if (reply->n_tool_calls && !reply->tool_calls)
		bad = 1;
	for (i = 0; !bad && i < reply->n_tool_calls; i++)
		if (!reply->tool_calls[i].name || !*reply->tool_calls[i].name)
			bad = 1;
	if (bad || reply->n_tool_calls > 4096) {
		err->kind = TRACT_PROVIDER_ERR_BAD_RESPONSE;
		snprintf(err->message, sizeof(err->message),
		         "the reply holds a tool call without a name");
		return TRACT_EPROVIDER;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return TRACT_ENOMEM;
	model = reply->model ? reply->model : req->model ? req->model : p->model;
	if (dup_or_null(&r->text, reply->text) ||
	    dup_or_null(&r->finish_reason, reply->finish_reason) || dup_or_null(&r->model, model) ||
	    dup_or_null(&r->provider, p->table.name) || dup_or_null(&r->raw_json, reply->raw_json))
		goto oom;
	if (reply->n_tool_calls) {
		r->calls = calloc(reply->n_tool_calls, sizeof(*r->calls));
		if (!r->calls)
			goto oom;
		for (i = 0; i < reply->n_tool_calls; i++) {
			const tract_tool_call *c = &reply->tool_calls[i];
			char id[40];
			r->n_calls++;
			if (!c->id || !*c->id)
				snprintf(id, sizeof(id), "call_%zu", i);
			if (dup_or_null((char **)&r->calls[i].id, c->id && *c->id ? c->id : id) ||
			    dup_or_null((char **)&r->calls[i].name, c->name) ||
			    dup_or_null((char **)&r->calls[i].arguments_json,
			                c->arguments_json && *c->arguments_json ? c->arguments_json
			                                                        : "{}"))
				goto oom;
		}
	}
	r->usage = reply->usage;
	if (r->raw_json)
		tract_llm_mask_secrets(llm, r->raw_json, strlen(r->raw_json) + 1);
	if (r->model)
		tract_llm_mask_secrets(llm, r->model, strlen(r->model) + 1);
	*out = r;
	return 0;
oom:
	tract_chat_result_free(r);
	return TRACT_ENOMEM;
}

/* ---- the call ------------------------------------------------------------------------- */

static const char *kind_name(tract_provider_error_kind k)
{
	switch (k) {
	case TRACT_PROVIDER_ERR_AUTH:
		return "authentication failed";
	case TRACT_PROVIDER_ERR_RATE_LIMIT:
		return "rate limited";
	case TRACT_PROVIDER_ERR_SERVER:
		return "server error";
	case TRACT_PROVIDER_ERR_TIMEOUT:
		return "timed out";
	case TRACT_PROVIDER_ERR_TRANSPORT:
		return "transport failure";
	case TRACT_PROVIDER_ERR_BAD_RESPONSE:
		return "bad response";
	case TRACT_PROVIDER_ERR_REQUEST:
		return "request refused";
	case TRACT_PROVIDER_ERR_CANCELLED:
		return "cancelled";
	default:
		return "failed";
	}
}

/* The kind of a failure the provider did not classify, from its code. */
static tract_provider_error_kind kind_of_code(int rc)
{
	switch (rc) {
	case TRACT_EAUTH:
		return TRACT_PROVIDER_ERR_AUTH;
	case TRACT_ERATELIMIT:
		return TRACT_PROVIDER_ERR_RATE_LIMIT;
	case TRACT_ETIMEOUT:
		return TRACT_PROVIDER_ERR_TIMEOUT;
	case TRACT_EABORTED:
		return TRACT_PROVIDER_ERR_CANCELLED;
	default:
		/* In doubt, not retried: a repeated request may cost money. */
		return TRACT_PROVIDER_ERR_REQUEST;
	}
}

/* The library error code of a failure kind. */
static int code_of_kind(tract_provider_error_kind k, int rc)
{
	switch (k) {
	case TRACT_PROVIDER_ERR_AUTH:
		return TRACT_EAUTH;
	case TRACT_PROVIDER_ERR_RATE_LIMIT:
		return TRACT_ERATELIMIT;
	case TRACT_PROVIDER_ERR_TIMEOUT:
		return TRACT_ETIMEOUT;
	case TRACT_PROVIDER_ERR_CANCELLED:
		return TRACT_EABORTED;
	case TRACT_PROVIDER_ERR_REQUEST:
		return rc == TRACT_EINVAL ? TRACT_EINVAL : TRACT_EPROVIDER;
	default:
		return TRACT_EPROVIDER;
	}
}

static int retryable(tract_provider_error_kind k)
{
	return k == TRACT_PROVIDER_ERR_RATE_LIMIT || k == TRACT_PROVIDER_ERR_SERVER ||
	       k == TRACT_PROVIDER_ERR_TIMEOUT || k == TRACT_PROVIDER_ERR_TRANSPORT;
}

/* The wait before the retry that follows failed attempt n (from 1). */
static double backoff_wait(const tract_llm *llm, unsigned int n, double retry_after)
{
	double d;

	if (retry_after >= 0 && isfinite(retry_after))
		return retry_after < TRACT_LLM_RETRY_AFTER_MAX ? retry_after
		                                               : TRACT_LLM_RETRY_AFTER_MAX;
	d = llm->backoff_base * pow(2.0, (double)(n - 1));
	if (d > llm->backoff_max)
		d = llm->backoff_max;
	return d + do_random() * d / 2;
}

typedef struct {
	tract_chat_delta_cb cb;
	void *payload;
	size_t delivered;
	int stopped;
} stream_state;

static int stream_relay(const tract_chat_delta *d, void *payload)
{
	stream_state *st = payload;
	int rc;

	st->delivered++;
	rc = st->cb(d, st->payload);
	if (rc)
		st->stopped = 1;
	return rc;
}

/* A provider without chat_stream: the whole reply as deltas. */
static int replay_as_deltas(stream_state *st, const tract_chat_reply *reply)
{
	tract_chat_delta d;
	size_t i;

	if (reply->text) {
		memset(&d, 0, sizeof(d));
		d.tool_call_index = -1;
		d.text = reply->text;
		if (stream_relay(&d, st))
			return 1;
	}
	for (i = 0; i < reply->n_tool_calls && reply->tool_calls; i++) {
		memset(&d, 0, sizeof(d));
		d.tool_call_index = (int)i;
		d.tool_call_id = reply->tool_calls[i].id;
		d.tool_name = reply->tool_calls[i].name;
		d.arguments_fragment = reply->tool_calls[i].arguments_json;
		if (stream_relay(&d, st))
			return 1;
	}
	return 0;
}

static int check_request(const tract_chat_request *req)
{
	if (!req)
		return tract_error_set(TRACT_EINVAL, "no chat request");
	if (tract_version_check(req->version, TRACT_CHAT_REQUEST_VERSION, "tract_chat_request") < 0)
		return TRACT_EINVAL;
	if (req->n_messages && !req->messages)
		return tract_error_set(TRACT_EINVAL, "n_messages is %zu but messages is NULL",
		                       req->n_messages);
	if (!req->n_messages && !req->body_json)
		return tract_error_set(TRACT_EINVAL, "a chat request needs at least one message");
	for (size_t i = 0; i < req->n_messages; i++)
		if (!req->messages[i].role)
			return tract_error_set(TRACT_EINVAL, "message %zu has no role", i);
	if (req->has_temperature && !(isfinite(req->temperature) && req->temperature >= 0))
		return tract_error_set(TRACT_EINVAL, "temperature must be a finite number >= 0");
	if (req->max_tokens < 0)
		return tract_error_set(TRACT_EINVAL, "max_tokens must be >= 0");
	if (!isfinite(req->timeout_seconds) || req->timeout_seconds < 0)
		return tract_error_set(TRACT_EINVAL,
		                       "timeout_seconds must be a finite number >= 0");
	return 0;
}

int tract_llm_chat_with_body(tract_chat_result **out, tract_llm *llm, const tract_chat_request *req,
                             tract_llm_body_fn body, void *body_payload, tract_chat_delta_cb cb,
                             void *payload)
{
	tract_buf failures = TRACT_BUF_INIT;
	unsigned int attempts = 0;
	int last_code = TRACT_EPROVIDER;
	size_t i;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_llm_chat: out is NULL");
	*out = NULL;
	if (!llm || !llm->n)
		return tract_error_set(TRACT_EINVAL, "tract_llm_chat: no provider");
	rc = check_request(req);
	if (rc < 0)
		return rc;

	for (i = 0; i < llm->n; i++) {
		struct llm_provider *p = &llm->p[i];
		unsigned int n, max_attempts = (unsigned int)llm->max_retries + 1;
		tract_chat_request r = *req;
		tract_provider_error err;
		char line[700] = "";

		if (!r.timeout_seconds)
			r.timeout_seconds = llm->timeout;
		if (body && p->table.wire_format) {
			r.body_json = body(p->table.wire_format, body_payload);
			if (!r.body_json) {
				tract_buf_dispose(&failures);
				return tract_error_last()->code ? tract_error_last()->code
				                                : TRACT_ERROR;
			}
		} else if (body) {
			r.body_json = NULL;
		}
		for (n = 1; n <= max_attempts; n++) {
			tract_chat_reply reply;
			stream_state st = {cb, payload, 0, 0};
			tract_chat_result *res = NULL;

			memset(&reply, 0, sizeof(reply));
			memset(&err, 0, sizeof(err));
			err.retry_after = -1;
			attempts++;
			tract_debug("llm: provider '%s' attempt %u/%u (model %s, %zu messages%s)",
			            p->table.name, n, max_attempts,
			            r.model    ? r.model
			            : p->model ? p->model
			                       : "default",
			            r.n_messages, cb ? ", streamed" : "");
			if (cb && p->table.chat_stream)
				rc = p->table.chat_stream(p->client, &r, stream_relay, &st, &reply,
				                          &err);
			else
				rc = p->table.chat(p->client, &r, &reply, &err);
			if (rc == 0 && st.stopped) {
				/* The callback said stop; the provider went on. */
				rc = TRACT_EABORTED;
				err.kind = TRACT_PROVIDER_ERR_CANCELLED;
			}
			if (rc == 0 && cb && !p->table.chat_stream &&
			    replay_as_deltas(&st, &reply)) {
				rc = TRACT_EABORTED;
				err.kind = TRACT_PROVIDER_ERR_CANCELLED;
				snprintf(err.message, sizeof(err.message),
				         "the delta callback stopped the call");
			}
			if (rc == 0) {
				rc = result_copy(&res, llm, p, &r, &reply, &err);
				p->table.reply_clear(p->client, &reply);
				if (rc == TRACT_ENOMEM) {
					tract_buf_dispose(&failures);
					return tract_error_oom();
				}
			} else {
				p->table.reply_clear(p->client, &reply);
			}
			if (rc == 0) {
				res->attempts = attempts;
				tract_debug("llm: provider '%s' answered on attempt %u "
				            "(finish %s, %zu tool calls)",
				            p->table.name, n,
				            res->finish_reason ? res->finish_reason : "unknown",
				            res->n_calls);
				tract_buf_dispose(&failures);
				*out = res;
				return 0;
			}
			/* A failed attempt. */
			if (rc > 0 || rc < TRACT_EUNMERGED)
				rc = TRACT_EPROVIDER;
			if (rc == TRACT_ENOMEM) {
				tract_buf_dispose(&failures);
				return tract_error_oom();
			}
			if (err.kind == TRACT_PROVIDER_ERR_NONE)
				err.kind = kind_of_code(rc);
			if (st.stopped)
				err.kind = TRACT_PROVIDER_ERR_CANCELLED;
			err.message[sizeof(err.message) - 1] = '\0';
			tract_llm_mask_secrets(llm, err.message, sizeof(err.message));
			if (err.http_status)
				snprintf(line, sizeof(line), "%s (HTTP %d)%s%s",
				         kind_name(err.kind), err.http_status,
				         err.message[0] ? ": " : "", err.message);
			else
				snprintf(line, sizeof(line), "%s%s%s", kind_name(err.kind),
				         err.message[0] ? ": " : "", err.message);
			last_code = code_of_kind(err.kind, rc);
			if (err.kind == TRACT_PROVIDER_ERR_CANCELLED) {
				tract_debug("llm: provider '%s' attempt %u: %s", p->table.name, n,
				            line);
				tract_buf_dispose(&failures);
				return tract_error_set(TRACT_EABORTED, "provider '%s': %s",
				                       p->table.name, line);
			}
			if (st.delivered) {
				/* Part of the reply was seen: not repeated. */
				tract_debug("llm: provider '%s' attempt %u failed mid-stream: %s",
				            p->table.name, n, line);
				tract_buf_dispose(&failures);
				return tract_error_set(last_code,
				                       "provider '%s': %s (after part of the reply "
				                       "was streamed)",
				                       p->table.name, line);
			}
			if (!retryable(err.kind) || n == max_attempts) {
				tract_debug("llm: provider '%s' attempt %u/%u failed: %s%s",
				            p->table.name, n, max_attempts, line,
				            retryable(err.kind) ? " (no attempt left)"
				                                : " (not retried)");
				break;
			}
			{
				double wait = backoff_wait(llm, n, err.retry_after);
				tract_debug(
				    "llm: provider '%s' attempt %u/%u failed: %s; retrying in "
				    "%.2f s",
				    p->table.name, n, max_attempts, line, wait);
				do_sleep(wait);
			}
		}
		if (n > max_attempts)
			n = max_attempts;
		if (failures.len)
			tract_buf_puts(&failures, "; ");
		tract_buf_printf(&failures, "provider '%s': %s", p->table.name, line);
		if (n > 1)
			tract_buf_printf(&failures, " (after %u attempts)", n);
		if (i + 1 < llm->n)
			tract_debug("llm: provider '%s' failed; falling back to '%s'",
			            p->table.name, llm->p[i + 1].table.name);
	}
	rc =
	    tract_error_set(last_code, "%s", failures.ptr ? failures.ptr : "every provider failed");
	tract_buf_dispose(&failures);
	return rc;
}

int tract_llm_chat(tract_chat_result **out, tract_llm *llm, const tract_chat_request *req)
{
	return tract_llm_chat_with_body(out, llm, req, NULL, NULL, NULL, NULL);
}

int tract_llm_chat_stream(tract_chat_result **out, tract_llm *llm, const tract_chat_request *req,
                          tract_chat_delta_cb cb, void *payload)
{
	if (!cb) {
		if (out)
			*out = NULL;
		return tract_error_set(TRACT_EINVAL, "tract_llm_chat_stream: no callback");
	}
	return tract_llm_chat_with_body(out, llm, req, NULL, NULL, cb, payload);
}

/* ---- the core's own requests: plain text messages in each wire format ------------ */

typedef struct {
	const tract_chat_request *req;
	char *openai, *anthropic; /* rendered once each */
} messages_body;

/* {"messages": [{role, content}...]} (openai), or {"system": the system
 * messages joined by a blank line, "messages": [the others]} (anthropic). */
static char *render_messages(const tract_chat_request *req, int anthropic)
{
	cJSON *o = cJSON_CreateObject(), *msgs = NULL, *m;
	tract_buf sys = TRACT_BUF_INIT;
	char *out = NULL;
	int ok = o != NULL, has_sys = 0;

	ok = ok && (msgs = cJSON_AddArrayToObject(o, "messages")) != NULL;
	for (size_t i = 0; ok && i < req->n_messages; i++) {
		const tract_chat_message *x = &req->messages[i];
		const char *text = x->content ? x->content : "";

		if (anthropic && strcmp(x->role, "system") == 0) {
			ok = !(has_sys && tract_buf_puts(&sys, "\n\n")) &&
			     !tract_buf_puts(&sys, text);
			has_sys = 1;
			continue;
		}
		ok = (m = cJSON_CreateObject()) && cJSON_AddItemToArray(msgs, m) &&
		     cJSON_AddStringToObject(m, "role", x->role) &&
		     cJSON_AddStringToObject(m, "content", text);
	}
	if (ok && has_sys)
		ok = cJSON_AddStringToObject(o, "system", sys.ptr ? sys.ptr : "") != NULL;
	if (ok)
		out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	tract_buf_dispose(&sys);
	if (!out)
		tract_error_oom();
	return out;
}

static const char *messages_body_fn(const char *wire_format, void *payload)
{
	messages_body *b = payload;
	int anthropic = strcmp(wire_format, "anthropic") == 0;
	char **slot = anthropic ? &b->anthropic : &b->openai;

	if (!anthropic && strcmp(wire_format, "openai") != 0) {
		tract_error_set(TRACT_EINVAL, "unknown wire format '%s'", wire_format);
		return NULL;
	}
	if (!*slot)
		*slot = render_messages(b->req, anthropic);
	return *slot;
}

int tract_llm_chat_messages(tract_chat_result **out, tract_llm *llm, const tract_chat_request *req)
{
	messages_body b = {req, NULL, NULL};
	int rc;

	if (out)
		*out = NULL;
	rc = check_request(req);
	if (rc < 0)
		return rc;
	if (req->body_json || req->tools_json)
		return tract_error_set(TRACT_EINVAL, "tract_llm_chat_messages: the request carries "
		                                     "its own body or tools");
	for (size_t i = 0; i < req->n_messages; i++) {
		const tract_chat_message *x = &req->messages[i];

		if (strcmp(x->role, "system") && strcmp(x->role, "user") &&
		    strcmp(x->role, "assistant"))
			return tract_error_set(TRACT_EINVAL,
			                       "tract_llm_chat_messages: message %zu has role '%s' "
			                       "(system, user or assistant only)",
			                       i, x->role);
		if (x->n_tool_calls || x->tool_call_id)
			return tract_error_set(TRACT_EINVAL,
			                       "tract_llm_chat_messages: message %zu carries a tool "
			                       "call (text messages only)",
			                       i);
	}
	rc = tract_llm_chat_with_body(out, llm, req, messages_body_fn, &b, NULL, NULL);
	free(b.openai);
	free(b.anthropic);
	return rc;
}
