/*
 * fuzz_bpe.c - libFuzzer target for the BPE counter (tract_bpe_count) over
 * the real o200k_base and cl100k_base tables.
 *
 * Every input is counted with both tables, as it is and made valid (each
 * byte of an invalid sequence read as the Latin-1 code point of the same
 * value, so every input also reaches the pre-split and the merge), and
 * checked against invariants:
 *   - invalid UTF-8 (by this file's own strict decoder: no overlong forms,
 *     no surrogates, nothing above U+10FFFF, no truncated sequence) returns
 *     TRACT_EINVAL, never a count and never a crash;
 *   - valid UTF-8 returns a count with 1 <= count <= bytes (0 for the empty
 *     text): every token is at least one byte, and a non-empty text is at
 *     least one token;
 *   - the same input counts the same twice.
 *
 * Build and run it with the other targets: scripts/fuzz.sh [SECONDS]
 * (build-fuzz/tests/fuzz_bpe; tests/fuzz/README.md). Longer runs:
 *
 *   build-fuzz/tests/fuzz_bpe CORPUS_DIR -max_len=4096 -max_total_time=300
 *
 * (seeds: tests/fuzz/corpus/bpe/, or `test_bpe_parity --seeds DIR`).
 * The tables are read from $TRACT_ENCODINGS_DIR, else the build tree's
 * data/encodings. A crash or a broken invariant aborts with the input saved
 * as crash-<sha1> by libFuzzer; rerun it with `fuzz_bpe crash-<sha1>`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "tract.h"

#ifndef TRACT_BUILD_ENCODINGS_DIR
#define TRACT_BUILD_ENCODINGS_DIR ""
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tract_bpe *tables[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const names[2] = {"o200k_base", "cl100k_base"};
	const char *dir = getenv("TRACT_ENCODINGS_DIR");
	char path[4096];
	int i;

	(void)argc;
	(void)argv;
	if (!dir || !*dir)
		dir = TRACT_BUILD_ENCODINGS_DIR;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
		if (tract_bpe_load(path, &tables[i]) < 0) {
			fprintf(stderr, "fuzz_bpe: %s (run scripts/fetch-encodings.sh)\n",
			        tract_error_last()->message);
			exit(1);
		}
	}
	return 0;
}

/* Strict UTF-8 (RFC 3629), written independently of the library's check. */
static int utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t k, j;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i - 1 < k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0. */
static size_t seq_len(const uint8_t *s, size_t n)
{
	size_t k;

	for (k = 1; k <= 4 && k <= n; k++)
		if (utf8_ok(s, k))
			return k;
	return 0;
}

/* The input made valid UTF-8 into out (room for 2 * size bytes). */
static size_t make_valid(const uint8_t *s, size_t size, uint8_t *out)
{
	size_t i = 0, o = 0, k;

	while (i < size) {
		if ((k = seq_len(s + i, size - i)) > 0) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			out[o++] = (uint8_t)(0xc0 | s[i] >> 6);
			out[o++] = (uint8_t)(0x80 | (s[i] & 0x3f));
			i++;
		}
	}
	return o;
}

static void fail(const char *what, int enc, size_t size, int64_t got)
{
	fprintf(stderr, "fuzz_bpe: %s (table %d, %zu bytes, result %lld)\n", what, enc, size,
	        (long long)got);
	abort();
}

static void check(const uint8_t *data, size_t size)
{
	int valid = utf8_ok(data, size), e;

	for (e = 0; e < 2; e++) {
		int64_t n = tract_bpe_count(tables[e], (const char *)data, size);
		if (!valid) {
			if (n != TRACT_EINVAL)
				fail("invalid UTF-8 not rejected with TRACT_EINVAL", e, size, n);
			continue;
		}
		if (n < 0)
			fail("valid UTF-8 not counted", e, size, n);
		if ((uint64_t)n > size)
			fail("more tokens than bytes", e, size, n);
		if (size > 0 && n == 0)
			fail("a non-empty text counted 0 tokens", e, size, n);
		if (tract_bpe_count(tables[e], (const char *)data, size) != n)
			fail("two counts of the same text differ", e, size, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *v;
	size_t n;

	check(data, size);
	if (!(v = malloc(2 * size + 1)))
		abort();
	n = make_valid(data, size, v);
	if (!utf8_ok(v, n))
		fail("make_valid produced invalid UTF-8", -1, n, 0);
	check(v, n);
	free(v);
	return 0;
}
