/*
 * seqmatch.h - the Ratcliff-Obershelp sequence matcher of spec/history.md
 * §11.3 (the procedure of Python's difflib.SequenceMatcher, without a junk
 * function, with its "popularity" rule), the hunk grouping of §11.5, and
 * the interning that turns byte strings into the integer elements the
 * matcher compares (infrastructure, internal).
 */
#ifndef TRACT_CORE_SEQMATCH_H
#define TRACT_CORE_SEQMATCH_H

#include <stddef.h>
#include <stdint.h>

/** Opcode tags, in difflib's words. */
typedef enum {
	TRACT_SEQ_EQUAL = 0,
	TRACT_SEQ_REPLACE = 1,
	TRACT_SEQ_DELETE = 2,
	TRACT_SEQ_INSERT = 3,
} tract_seq_tag;

/** a[i1:i2] becomes b[j1:j2]. */
typedef struct {
	tract_seq_tag tag;
	size_t i1, i2, j1, j2;
} tract_seq_op;

/** A growable list of opcodes. */
typedef struct {
	tract_seq_op *ops;
	size_t count, cap;
} tract_seq_ops;

void tract_seq_ops_dispose(tract_seq_ops *o);

/**
 * Opcodes turning a[0:na] into b[0:nb] (elements compared by value):
 * matching blocks by the longest-match recursion, adjacent blocks merged,
 * then replace/delete/insert/equal runs. Elements are small integers
 * (< nsym, as tract_seq_intern() numbers them). Returns 0 or TRACT_ENOMEM
 * (the last error is set).
 */
int tract_seq_opcodes(tract_seq_ops *out, const uint32_t *a, size_t na, const uint32_t *b,
		      size_t nb, uint32_t nsym);

/**
 * Hunks of a unified diff (difflib's get_grouped_opcodes with n context
 * lines): groups[k] is ops[starts[k]] .. ops[starts[k + 1] - 1] of out.
 * Fills out with the trimmed opcodes and starts with ngroups + 1 offsets.
 */
int tract_seq_group(tract_seq_ops *out, size_t **starts, size_t *ngroups,
		    const tract_seq_ops *ops, size_t n);

/** A byte string to intern. */
typedef struct {
	const char *ptr;
	size_t len;
} tract_seq_str;

/**
 * Number the strings of a (na) and b (nb) so that equal byte strings get
 * equal numbers: ids_a, ids_b (malloc'd, na and nb entries) and the count
 * of distinct strings in *nsym.
 */
int tract_seq_intern(uint32_t **ids_a, uint32_t **ids_b, uint32_t *nsym, const tract_seq_str *a,
		     size_t na, const tract_seq_str *b, size_t nb);

/**
 * Split text into lines as Python's str.splitlines(keepends=True): after
 * "\n", "\r\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", U+0085, U+2028
 * and U+2029. lines[i] includes its terminator; *term_lens[i] is the
 * terminator's length. An empty text has no lines.
 */
int tract_seq_splitlines(tract_seq_str **lines, size_t **term_lens, size_t *count,
			 const char *text, size_t len);

#endif
