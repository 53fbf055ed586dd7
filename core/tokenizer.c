/*
 * tokenizer.c - the token counter interface: the default counter (exact
 * o200k_base when its table is found, else the labelled estimate with one
 * warning), counters by name and by model, the estimate and null
 * counters, and the per-message overhead formula of count_messages.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "warning.h"
#include "tokenizer.h"

static int64_t estimate_count(void *self, const char *text, size_t len)
{
	(void)self;
	(void)text;
	return (int64_t)((len + 3) / 4);
}

static int64_t null_count(void *self, const char *text, size_t len)
{
	(void)self;
	(void)text;
	(void)len;
	return 0;
}

static tract_tokenizer estimate_tokenizer = {TRACT_TOKENIZER_VERSION, "estimate:bytes/4",
					     estimate_count, NULL, TRACT_TOKENIZER_THREADSAFE};
static tract_tokenizer null_tokenizer = {TRACT_TOKENIZER_VERSION, "", null_count, NULL,
					 TRACT_TOKENIZER_THREADSAFE};

tract_tokenizer *tract_tokenizer_estimate(void)
{
	return &estimate_tokenizer;
}

tract_tokenizer *tract_tokenizer_null(void)
{
	return &null_tokenizer;
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static tract_tokenizer *default_tokenizer;

static void default_init(void)
{
	/* Looking the table up must not disturb the caller's last error. */
	int code = tract_error_last()->code;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", tract_error_last()->message);
	if (tract_tokenizer_bpe(&default_tokenizer, "o200k_base") < 0) {
		tract_warn("%s: token counts are estimates (estimate:bytes/4)",
		           tract_error_last()->message);
		default_tokenizer = &estimate_tokenizer;
	}
	if (code != TRACT_OK)
		tract_error_set(code, "%s", msg);
	else
		tract_error_clear();
}

tract_tokenizer *tract_tokenizer_default_get(void)
{
	pthread_once(&default_once, default_init);
	return default_tokenizer;
}

int tract_tokenizer_default(tract_tokenizer **out)
{
	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_tokenizer_default: out is NULL");
	*out = tract_tokenizer_default_get();
	return 0;
}

int tract_tokenizer_get(tract_tokenizer **out, const char *name)
{
	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_tokenizer_get: out is NULL");
	*out = NULL;
	if (!name)
		return tract_error_set(TRACT_EINVAL, "tokenizer: NULL name");
	if (strcmp(name, "estimate") == 0 || strcmp(name, estimate_tokenizer.source) == 0) {
		*out = &estimate_tokenizer;
		return 0;
	}
	if (strcmp(name, "null") == 0) {
		*out = &null_tokenizer;
		return 0;
	}
	if (strncmp(name, "tiktoken:", 9) == 0)
		name += 9;
	if (strcmp(name, "o200k_base") != 0 && strcmp(name, "cl100k_base") != 0)
		return tract_error_set(TRACT_EINVAL,
		                       "unknown encoding \"%.64s\" (known: o200k_base, "
		                       "cl100k_base, estimate, null)",
		                       name);
	return tract_tokenizer_bpe(out, name);
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static const char *model_encoding(const char *model)
{
	/* tiktoken's model table: the GPT-4 and GPT-3.5 generations and the
	 * embedding/base models of their time use cl100k_base; GPT-4o,
	 * GPT-4.1, GPT-4.5, GPT-5 and the o1/o3/o4 reasoning families use
	 * o200k_base, as does anything newer or unknown. */
	static const char *const cl100k_exact[] = {"gpt-4", "gpt-3.5", "gpt-3.5-turbo",
	                                           "gpt-35-turbo", "davinci-002",
	                                           "babbage-002", "text-embedding-ada-002"};
	static const char *const cl100k_prefix[] = {"gpt-4-", "gpt-3.5-", "gpt-35-",
	                                            "text-embedding-3-", "davinci-002:",
	                                            "babbage-002:", "gpt-4:", "gpt-3.5-turbo:"};
	const char *slash;
	size_t i;

	if (!model)
		return "o200k_base";
	/* "openai/gpt-4" (a router's provider prefix), "ft:gpt-4-0613:org::id" */
	if ((slash = strrchr(model, '/')))
		model = slash + 1;
	if (has_prefix(model, "ft:"))
		model += 3;
	for (i = 0; i < sizeof(cl100k_exact) / sizeof(cl100k_exact[0]); i++)
		if (strcasecmp(model, cl100k_exact[i]) == 0)
			return "cl100k_base";
	for (i = 0; i < sizeof(cl100k_prefix) / sizeof(cl100k_prefix[0]); i++)
		if (has_prefix(model, cl100k_prefix[i]))
			return "cl100k_base";
	return "o200k_base";
}

int tract_tokenizer_model_encoding(const char **out, const char *model)
{
	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_tokenizer_model_encoding: out is NULL");
	*out = model_encoding(model);
	return 0;
}

int tract_tokenizer_for_model(tract_tokenizer **out, const char *model)
{
	return tract_tokenizer_get(out, model_encoding(model));
}

int tract_tokenizer_check(const tract_tokenizer *tok)
{
	if (tok->version < 1 || tok->version > TRACT_TOKENIZER_VERSION)
		return tract_error_set(TRACT_EINVAL,
		                       "tokenizer version %u is not one this library knows (1 to "
		                       "%d)",
		                       tok->version, TRACT_TOKENIZER_VERSION);
	if (!tok->count || !tok->source)
		return tract_error_set(TRACT_EINVAL, "tokenizer without count() or source");
	return 0;
}

int64_t tract_tokenizer_count_raw(tract_tokenizer *tok, const char *text, size_t len)
{
	int64_t n;

	if (!tok)
		tok = tract_tokenizer_default_get();
	if (!text || len == 0)
		return 0;
	n = tok->count(tok->self, text, len);
	if (n < 0 && tract_error_last()->code != (int)n)
		tract_error_set((int)n, "token counter %s failed on a text of %zu bytes",
		                tok->source ? tok->source : "?", len);
	return n;
}

int tract_tokenizer_count(int64_t *out, tract_tokenizer *tok, const char *text, size_t len)
{
	int64_t n;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_tokenizer_count: out is NULL");
	*out = 0;
	if (tok && (rc = tract_tokenizer_check(tok)) < 0)
		return rc;
	n = tract_tokenizer_count_raw(tok, text, len);
	if (n < 0)
		return (int)n;
	*out = n;
	return 0;
}

int tract_tokenizer_count_messages(int64_t *out, tract_tokenizer *tok, size_t n,
				   const char *const *roles, const char *const *contents,
				   const char *const *names)
{
	int64_t total = 3, c;
	size_t i;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_tokenizer_count_messages: out is NULL");
	*out = 0;
	if (n == 0)
		return 0;
	if (!roles || !contents)
		return tract_error_set(TRACT_EINVAL, "tract_tokenizer_count_messages: no messages");
	for (i = 0; i < n; i++) {
		total += 3;
		rc = tract_tokenizer_count(&c, tok, roles[i], strlen(roles[i]));
		if (rc == 0)
			total += c;
		if (rc == 0)
			rc = tract_tokenizer_count(&c, tok, contents[i], strlen(contents[i]));
		if (rc == 0)
			total += c;
		if (rc == 0 && names && names[i]) {
			rc = tract_tokenizer_count(&c, tok, names[i], strlen(names[i]));
			total += c + 1;
		}
		if (rc < 0)
			return rc;
	}
	*out = total;
	return 0;
}
