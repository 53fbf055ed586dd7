/*
 * tokenizer.h - the token counter interface and the built-in counters.
 *
 * The core counts text through a tract_tokenizer. Built in for now: an
 * estimate (clearly labelled, token_source "estimate:bytes/4") and a null
 * counter (always 0, token_source ""), and the exact tiktoken-compatible
 * BPE counters (tract_tokenizer_bpe) over the tables of the npm package.
 */
#ifndef TRACT_TOKENIZER_H
#define TRACT_TOKENIZER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRACT_TOKENIZER_VERSION 1

struct tract_tokenizer {
	unsigned int version;
	/**
	 * What compiled contexts report as token_source: "tiktoken:<enc>" for
	 * an exact BPE counter, "" for none. Also recorded in the store to
	 * tell which counter wrote the per-commit counts.
	 */
	const char *source;
	/** Count the tokens of text (len bytes of valid UTF-8). >= 0, or a
	 *  negative TRACT_E* code. */
	int64_t (*count)(void *self, const char *text, size_t len);
	void *self;
	/** TRACT_TOKENIZER_* flags. */
	unsigned int flags;
};

/** count() may be called from several threads at once (the core then
 *  counts long histories in parallel). */
#define TRACT_TOKENIZER_THREADSAFE 1u

/** The default counter (the estimate until exact tables are installed). */
TRACT_EXTERN(tract_tokenizer *) tract_tokenizer_default(void);
/** The estimate counter: ceil(UTF-8 bytes / 4); source "estimate:bytes/4". */
TRACT_EXTERN(tract_tokenizer *) tract_tokenizer_estimate(void);
/** The null counter: every count is 0; source "". */
TRACT_EXTERN(tract_tokenizer *) tract_tokenizer_null(void);

/**
 * The exact BPE counter of a tiktoken encoding ("o200k_base",
 * "cl100k_base"), counting like tiktoken's encode_ordinary (special-token
 * text counts as ordinary text); source "tiktoken:<encoding>", thread-safe.
 * The table <encoding>.json is looked up in $TRACT_ENCODINGS_DIR, the build
 * tree's data/encodings, then <datadir>/tract/encodings; it is loaded once
 * per process and shared. NULL when it cannot be found or loaded (see
 * tract_error_last()). Invalid UTF-8 counts as TRACT_EINVAL.
 */
TRACT_EXTERN(tract_tokenizer *) tract_tokenizer_bpe(const char *encoding);

/** Count a text with a counter (NULL = default). */
TRACT_EXTERN(int64_t) tract_tokenizer_count(tract_tokenizer *tok, const char *text, size_t len);

/**
 * Count a list of messages: 3 + Σ(3 + tok(role) + tok(content)
 * [+ tok(name) + 1]); 0 for no messages. names may be NULL.
 */
TRACT_EXTERN(int64_t) tract_tokenizer_count_messages(tract_tokenizer *tok, size_t n,
						     const char *const *roles,
						     const char *const *contents,
						     const char *const *names);

#ifdef __cplusplus
}
#endif
#endif
