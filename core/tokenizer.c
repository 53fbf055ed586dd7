/*
 * tokenizer.c - the token counter interface and the two counters built in
 * until the exact BPE tables land: a clearly labelled estimate and a null
 * counter. count_messages implements the per-message overhead formula.
 */
#include <string.h>

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

tract_tokenizer *tract_tokenizer_default(void)
{
	return &estimate_tokenizer;
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
