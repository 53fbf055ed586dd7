/*
 * bpe.h - tiktoken-compatible byte-pair-encoding token counter (internal):
 * loads an encoder JSON of the npm tiktoken package (pat_str + compact
 * bpe_ranks) and counts like tiktoken's encode_ordinary.
 */
#ifndef TRACT_CORE_BPE_H
#define TRACT_CORE_BPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tract_bpe tract_bpe;

/** Load an encoder JSON file. 0, or a TRACT_E* code (error set). */
int tract_bpe_load(const char *path, tract_bpe **out);
/** Load from a JSON text of len bytes. 0, or a TRACT_E* code (error set). */
int tract_bpe_load_json(const char *json, size_t len, tract_bpe **out);
void tract_bpe_free(tract_bpe *bpe);

/** Number of ranks in the table. */
size_t tract_bpe_size(const tract_bpe *bpe);
/** Rank of a byte string, or -1 when it is not a token. */
int64_t tract_bpe_rank(const tract_bpe *bpe, const void *bytes, size_t len);

/**
 * Count the tokens of text like tiktoken's encode_ordinary (special-token
 * text counts as ordinary text). >= 0, or TRACT_EINVAL for invalid UTF-8,
 * TRACT_ENOMEM, TRACT_ERROR (error set). Thread-safe: bpe is read-only.
 */
int64_t tract_bpe_count(const tract_bpe *bpe, const char *text, size_t len);

#endif
