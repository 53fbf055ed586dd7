/*
 * tokenizer.h - the token counter interface and the built-in counters.
 *
 * The core counts text through a tract_tokenizer. Built in: the exact
 * tiktoken-compatible BPE counters (tract_tokenizer_bpe: o200k_base, the
 * default, and cl100k_base), a clearly labelled estimate (token_source
 * "estimate:bytes/4", used only when no table is installed) and a null
 * counter (always 0, token_source ""). Users can plug in their own.
 */
#ifndef TRACT_TOKENIZER_H
#define TRACT_TOKENIZER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRACT_TOKENIZER_VERSION 1

/**
 * A token counter. Versioned: set version to TRACT_TOKENIZER_VERSION (the
 * library accepts 0 < version <= TRACT_TOKENIZER_VERSION and reads only
 * the members the version has: flags came with version 1).
 */
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

/** count() may be called from several threads at once. A promise the
 *  core may rely on; compile today counts on the calling thread. */
#define TRACT_TOKENIZER_THREADSAFE 1u

/**
 * The default counter: exact o200k_base when its table is found (see
 * tract_tokenizer_bpe), otherwise the estimate, after one warning through
 * the warning hook (tract_warning_hook_set) saying where the table was
 * looked for and how to install it. Decided once per process; never
 * fails (returns 0).
 */
TRACT_EXTERN(int) tract_tokenizer_default(tract_tokenizer **out);
/**
 * A counter by name: "o200k_base", "cl100k_base" (also with a "tiktoken:"
 * prefix, as token_source spells them), "estimate" (or
 * "estimate:bytes/4"), "null". TRACT_EINVAL for an unknown name and
 * TRACT_ENOTFOUND when an encoding's table is not installed.
 */
TRACT_EXTERN(int) tract_tokenizer_get(tract_tokenizer **out, const char *name);
/**
 * The encoding a model's tokens are counted with, as tiktoken maps them:
 * gpt-4o, gpt-4.1, gpt-4.5, gpt-5 and the o1/o3/o4 families give
 * "o200k_base"; gpt-4 (gpt-4-turbo, gpt-4-32k...), gpt-3.5 and the
 * embedding/base models of that time give "cl100k_base"; "ft:" and
 * "provider/" prefixes are looked through; unknown or NULL models give
 * "o200k_base". Case-insensitive. Never fails (returns 0).
 */
TRACT_EXTERN(int) tract_tokenizer_model_encoding(const char **out, const char *model);
/** tract_tokenizer_get() of tract_tokenizer_model_encoding(model). */
TRACT_EXTERN(int) tract_tokenizer_for_model(tract_tokenizer **out, const char *model);
/** The estimate counter: ceil(UTF-8 bytes / 4); source "estimate:bytes/4". */
TRACT_EXTERN(tract_tokenizer *) tract_tokenizer_estimate(void);
/** The null counter: every count is 0; source "". */
TRACT_EXTERN(tract_tokenizer *) tract_tokenizer_null(void);

/**
 * The exact BPE counter of a tiktoken encoding ("o200k_base",
 * "cl100k_base"), counting like tiktoken's encode_ordinary (special-token
 * text counts as ordinary text); source "tiktoken:<encoding>", thread-safe.
 * The table is looked up in $TRACT_ENCODINGS_DIR, the build tree's
 * data/encodings (only when libtract runs from the build tree), then
 * <datadir>/tract/encodings; in each, <encoding>.bin (the binary form that
 * tract-mkbpe builds at setup, mapped from disk), <encoding>.json (the
 * tiktoken npm package's encoder file) and <encoding>.tiktoken (a rank
 * file) are tried in that order. It is loaded once per process and shared
 * by every handle and thread. TRACT_ENOTFOUND when it cannot be found,
 * TRACT_ECORRUPT when it cannot be read.
 */
TRACT_EXTERN(int) tract_tokenizer_bpe(tract_tokenizer **out, const char *encoding);

/**
 * Count len bytes of text (valid UTF-8; U+0000 counts like any character)
 * with a counter (NULL = the default). TRACT_EINVAL for invalid UTF-8 or
 * a counter whose version this library does not know.
 */
TRACT_EXTERN(int) tract_tokenizer_count(int64_t *out, tract_tokenizer *tok, const char *text,
					size_t len);

/**
 * Count a list of messages: 3 + Σ(3 + tok(role) + tok(content)
 * [+ tok(name) + 1]); 0 for no messages. names may be NULL.
 */
TRACT_EXTERN(int) tract_tokenizer_count_messages(int64_t *out, tract_tokenizer *tok, size_t n,
						 const char *const *roles,
						 const char *const *contents,
						 const char *const *names);

#ifdef __cplusplus
}
#endif
#endif
