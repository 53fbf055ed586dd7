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

/** Load a table file by its suffix: ".bin" (the binary form, mapped),
 *  ".tiktoken" (rank file; the encoding is the file's base name), anything
 *  else an encoder JSON. 0, or a TRACT_E* code (error set). */
int tract_bpe_load(const char *path, tract_bpe **out);
/** Load from a JSON text of len bytes. 0, or a TRACT_E* code (error set). */
int tract_bpe_load_json(const char *json, size_t len, tract_bpe **out);
/** Load a rank file in the .tiktoken format ("<base64> <rank>" lines)
 *  with the given pre-split pattern. */
int tract_bpe_load_tiktoken(const char *text, size_t len, const char *pat, tract_bpe **out);
/** Write the table in the binary form that tract_bpe_load maps from a
 *  ".bin" path (write-then-rename). 0, or a TRACT_E* code. */
int tract_bpe_save(const tract_bpe *bpe, const char *path);
void tract_bpe_free(tract_bpe *bpe);

/** The pre-split pattern of a known encoding (o200k_base, cl100k_base),
 *  or NULL. */
const char *tract_bpe_known_pattern(const char *encoding);
/** The table directories in lookup order (i = 0, 1, 2): $TRACT_ENCODINGS_DIR,
 *  the build tree (when libtract runs from it), the installed data
 *  directory. NULL when a place does not apply. */
const char *tract_bpe_search_dirs(int i);

/** 1 when both tables hold the same tokens with the same ranks and the
 *  same pattern, 0 otherwise. */
int tract_bpe_equal(const tract_bpe *a, const tract_bpe *b);
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
/** Tests: the merge count of one piece (not itself a token) by one of the
 *  merges: 0 the heap over a linked list, 1 the lean heap, 2 the layers;
 *  INT64_MIN when the lean merges do not apply to the piece. */
int64_t tract_bpe_merge_test(const tract_bpe *bpe, const void *piece, size_t n, int how);

#endif
