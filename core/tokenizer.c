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
#include "log.h"
#include "tract/tokenizer.h"

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
	default_tokenizer = tract_tokenizer_bpe("o200k_base");
	if (!default_tokenizer) {
		tract_warn("%s: token counts are estimates (estimate:bytes/4)",
		           tract_error_last()->message);
		default_tokenizer = &estimate_tokenizer;
	}
	if (code != TRACT_OK)
		tract_error_set(code, "%s", msg);
	else
		tract_error_clear();
}

tract_tokenizer *tract_tokenizer_default(void)
{
	pthread_once(&default_once, default_init);
	return default_tokenizer;
}

tract_tokenizer *tract_tokenizer_get(const char *name)
{
	if (!name) {
		tract_error_set(TRACT_EINVAL, "tokenizer: NULL name");
		return NULL;
	}
	if (strcmp(name, "estimate") == 0 || strcmp(name, estimate_tokenizer.source) == 0)
		return &estimate_tokenizer;
	if (strcmp(name, "null") == 0)
		return &null_tokenizer;
	if (strncmp(name, "tiktoken:", 9) == 0)
		name += 9;
	if (strcmp(name, "o200k_base") != 0 && strcmp(name, "cl100k_base") != 0) {
		tract_error_set(TRACT_EINVAL,
		                "unknown encoding \"%.64s\" (known: o200k_base, cl100k_base, "
		                "estimate, null)",
		                name);
		return NULL;
	}
	return tract_tokenizer_bpe(name);
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

const char *tract_encoding_for_model(const char *model)
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

tract_tokenizer *tract_tokenizer_for_model(const char *model)
{
	return tract_tokenizer_get(tract_encoding_for_model(model));
}

int64_t tract_tokenizer_count(tract_tokenizer *tok, const char *text, size_t len)
{
	if (!tok)
		tok = tract_tokenizer_default();
	if (!text || len == 0)
		return 0;
	return tok->count(tok->self, text, len);
}

int64_t tract_tokenizer_count_messages(tract_tokenizer *tok, size_t n, const char *const *roles,
				       const char *const *contents, const char *const *names)
{
	int64_t total = 3, c;
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		total += 3;
		c = tract_tokenizer_count(tok, roles[i], strlen(roles[i]));
		if (c < 0)
			return c;
		total += c;
		c = tract_tokenizer_count(tok, contents[i], strlen(contents[i]));
		if (c < 0)
			return c;
		total += c;
		if (names && names[i]) {
			c = tract_tokenizer_count(tok, names[i], strlen(names[i]));
			if (c < 0)
				return c;
			total += c + 1;
		}
	}
	return total;
}
