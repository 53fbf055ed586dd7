/*
 * tokenizer.h - the core's side of the token counters (internal): the
 * default counter without the out-parameter, the version check of a
 * user's counter and a count that reports failures in the last error.
 */
#ifndef TRACT_CORE_TOKENIZER_H
#define TRACT_CORE_TOKENIZER_H

#include "tract/tokenizer.h"

/** The default counter (never NULL). */
tract_tokenizer *tract_tokenizer_default_get(void);
/** 0 when the core can use tok (a version it knows, count and source set),
 *  TRACT_EINVAL otherwise (error set). */
int tract_tokenizer_check(const tract_tokenizer *tok);
/** Count with tok (NULL = default): >= 0, or a negative code with the
 *  error set. */
int64_t tract_tokenizer_count_raw(tract_tokenizer *tok, const char *text, size_t len);

#endif
