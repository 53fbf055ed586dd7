/*
 * corpus.h - deterministic (seeded) test texts for the BPE counters: the
 * parity test's corpus (texts in categories, each valid UTF-8, written to a
 * file the reference side, tiktoken_counts.js, reads byte for byte), and
 * the prose / code / JSON generators the benchmark (bench/bench_bpe.c)
 * builds its large corpus from.
 */
#ifndef TRACT_PARITY_CORPUS_H
#define TRACT_PARITY_CORPUS_H

#include <stddef.h>
#include <stdint.h>

/* ---- growable byte buffer (aborts on out of memory: test code) ---- */

typedef struct {
	char *p;
	size_t len, cap;
} pc_buf;

void pc_buf_add(pc_buf *b, const void *s, size_t n);
void pc_buf_adds(pc_buf *b, const char *s);
void pc_buf_addc(pc_buf *b, char ch);
/* Append code point cp as UTF-8 (cp must be a Unicode scalar value). */
void pc_buf_addcp(pc_buf *b, uint32_t cp);
void pc_buf_addf(pc_buf *b, const char *fmt, ...);

/* ---- PRNG (splitmix64) ---- */

typedef struct {
	uint64_t s;
} pc_rng;

uint64_t pc_rand(pc_rng *r);
/* Uniform in [0, n), n > 0. */
size_t pc_below(pc_rng *r, size_t n);

/* ---- generators shared with the benchmark ---- */

/* Append about `bytes` bytes (whole paragraphs) of prose, drawn from the
 * sample sentences of all languages (many scripts). */
void pc_gen_prose(pc_rng *r, pc_buf *b, size_t bytes);
/* Append about `bytes` bytes of source code (C, Python, JS, Rust, Go,
 * shell, SQL, HTML/CSS, diffs). */
void pc_gen_code(pc_rng *r, pc_buf *b, size_t bytes);
/* Append about `bytes` bytes of JSON documents (pretty and minified). */
void pc_gen_json(pc_rng *r, pc_buf *b, size_t bytes);

/* ---- the parity corpus ---- */

/* A text of the "newer Unicode" check: it uses characters from Unicode
 * versions after 14, so a difference is reported, not failed, when the
 * installed PCRE2 does not know them. */
#define PC_NEWER 1u

typedef struct {
	const char *cat; /* category name (static) */
	unsigned int flags;
	char *bytes;
	size_t len;
	int has_unassigned; /* PCRE2 sees a \p{Cn} code point in it */
} pc_text;

typedef struct {
	pc_text *v;
	size_t n, cap;
	char unicode_version[32]; /* what the installed PCRE2 reports */
} pc_corpus;

/* The seed and size of the corpus the test uses. */
#define PC_SEED 0x7472616374ull /* "tract" */
#define PC_RANDOM 150

/* Build the whole corpus: the fixed texts, the texts the seed draws, and
 * n_random random code point texts (plus n_random / 2 of random words).
 * 0, or -1 with a message on stderr (a hand-written text outside PCRE2's
 * Unicode version, or PCRE2 failing). */
int pc_build(pc_corpus *c, uint64_t seed, size_t n_random);
void pc_free(pc_corpus *c);
/* Write the corpus file ("TRPC" format, see tiktoken_counts.js). 0 or -1. */
int pc_write(const pc_corpus *c, const char *path);
/* A short printable excerpt of a text: printable ASCII as is, the rest as
 * \n \r \t or \u{...}; "..." when cut. out has room for max bytes. */
void pc_excerpt(const char *s, size_t len, char *out, size_t max);

#endif
