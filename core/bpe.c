/*
 * bpe.c - tiktoken-compatible BPE token counting: the rank table (an open
 * addressing hash map from byte string to rank), the encoding's pat_str
 * pre-split through PCRE2 (JIT), and per-piece byte-pair merging with a
 * min-heap over a linked list of parts (O(n log n) per piece).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <pcre2.h>

#include "bpe.h"
#include "error.h"
#include "json.h"
#include "plugin.h"
#include "tract/tokenizer.h"

#ifndef TRACT_BUILD_ENCODINGS_DIR
#define TRACT_BUILD_ENCODINGS_DIR ""
#endif
#ifndef TRACT_DATA_ENCODINGS_DIR
#define TRACT_DATA_ENCODINGS_DIR ""
#endif

typedef struct {
	uint32_t off, len, rank;
} bpe_entry;

struct tract_bpe {
	unsigned char *arena; /* all token bytes back to back */
	size_t arena_len;
	bpe_entry *entries;
	size_t n;
	uint32_t *slots; /* entry index + 1, 0 = empty */
	size_t mask;
	size_t max_len;
	pcre2_code *re;
	char *pat;     /* pat_str as the table gives it (before rewriting) */
	void *map;     /* a mapped binary table: arena, entries, slots point in */
	size_t map_len;
};

/* ------------------------------------------------------------------ */
/* rank table                                                           */
/* ------------------------------------------------------------------ */

static uint64_t hash_bytes(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

int64_t tract_bpe_rank(const tract_bpe *bpe, const void *bytes, size_t len)
{
	size_t i;
	uint32_t s;

	if (len == 0 || len > bpe->max_len)
		return -1;
	i = (size_t)hash_bytes(bytes, len) & bpe->mask;
	while ((s = bpe->slots[i]) != 0) {
		const bpe_entry *e = &bpe->entries[s - 1];
		if (e->len == len && memcmp(bpe->arena + e->off, bytes, len) == 0)
			return e->rank;
		i = (i + 1) & bpe->mask;
	}
	return -1;
}

int tract_bpe_equal(const tract_bpe *a, const tract_bpe *b)
{
	size_t i;

	if (a->n != b->n || a->max_len != b->max_len || strcmp(a->pat, b->pat) != 0)
		return 0;
	for (i = 0; i < a->n; i++) {
		const bpe_entry *e = &a->entries[i];
		if (tract_bpe_rank(b, a->arena + e->off, e->len) != (int64_t)e->rank)
			return 0;
	}
	return 1;
}

size_t tract_bpe_size(const tract_bpe *bpe)
{
	return bpe->n;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode standard base64 (padding required, as the tables use) into out;
 * returns the byte count or -1. */
static long b64decode(const char *s, size_t len, unsigned char *out)
{
	size_t i, pad = 0;
	long n = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	for (i = 0; i < len; i += 4) {
		int v[4], k;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == len && k >= 4 - (int)pad)
				v[k] = 0;
			else if ((v[k] = b64val((unsigned char)s[i + k])) < 0)
				return -1;
		}
		out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (i + 4 < len || pad < 2)
			out[n++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (i + 4 < len || pad < 1)
			out[n++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return n;
}

static int table_add(tract_bpe *bpe, size_t *arena_used, const char *tok, size_t toklen,
                     uint64_t rank)
{
	long n;
	bpe_entry *e;
	size_t i;

	if (rank > UINT32_MAX - 1)
		return tract_error_set(TRACT_ECORRUPT, "bpe: rank %llu out of range",
		                       (unsigned long long)rank);
	n = b64decode(tok, toklen, bpe->arena + *arena_used);
	if (n <= 0)
		return tract_error_set(TRACT_ECORRUPT, "bpe: bad base64 token \"%.*s\"",
		                       (int)(toklen > 40 ? 40 : toklen), tok);
	if (tract_bpe_rank(bpe, bpe->arena + *arena_used, (size_t)n) >= 0)
		return tract_error_set(TRACT_ECORRUPT, "bpe: duplicate token at rank %llu",
		                       (unsigned long long)rank);
	e = &bpe->entries[bpe->n];
	e->off = (uint32_t)*arena_used;
	e->len = (uint32_t)n;
	e->rank = (uint32_t)rank;
	i = (size_t)hash_bytes(bpe->arena + e->off, e->len) & bpe->mask;
	while (bpe->slots[i])
		i = (i + 1) & bpe->mask;
	bpe->slots[i] = (uint32_t)(++bpe->n);
	*arena_used += (size_t)n;
	if ((size_t)n > bpe->max_len)
		bpe->max_len = (size_t)n;
	return 0;
}

/*
 * bpe_ranks comes in two forms (as the tiktoken package's loader reads it):
 * lines "<base64> <rank>", or, when the text starts with '!', the compact
 * form: lines "! <offset> <base64> <base64> ..." where the k-th token
 * (from 0) has rank offset + k.
 */
static int parse_ranks(tract_bpe *bpe, const char *s, size_t len)
{
	size_t ntok = 0, i, cap, used = 0;
	const char *p = s, *end = s + len;
	int rc;

	/* upper bound on tokens: fields separated by spaces/newlines */
	for (i = 0; i < len; i++)
		if (s[i] == ' ' || s[i] == '\n')
			ntok++;
	ntok++;
	for (cap = 1024; cap < ntok * 2; cap <<= 1)
		;
	bpe->entries = calloc(ntok, sizeof(*bpe->entries));
	bpe->slots = calloc(cap, sizeof(*bpe->slots));
	bpe->arena = malloc(len / 4 * 3 + 4);
	if (!bpe->entries || !bpe->slots || !bpe->arena)
		return tract_error_oom();
	bpe->mask = cap - 1;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *q, *f;
		if (!eol)
			eol = end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		if (eol == p) {
			p = (eol < end && *eol == '\r') ? eol + 2 : eol + 1;
			continue;
		}
		if (s[0] == '!') {
			unsigned long long off = 0, k = 0;
			q = memchr(p, ' ', (size_t)(eol - p));
			if (!q)
				return tract_error_set(TRACT_ECORRUPT, "bpe: bad compact line");
			for (f = ++q; q < eol && *q >= '0' && *q <= '9'; q++)
				off = off * 10 + (unsigned long long)(*q - '0');
			if (q == f || off > UINT32_MAX)
				return tract_error_set(TRACT_ECORRUPT, "bpe: bad compact offset");
			while (q < eol) {
				if (*q != ' ')
					return tract_error_set(TRACT_ECORRUPT,
					                       "bpe: bad compact line");
				f = ++q;
				while (q < eol && *q != ' ')
					q++;
				if ((rc = table_add(bpe, &used, f, (size_t)(q - f), off + k++)) < 0)
					return rc;
			}
		} else {
			unsigned long long rank = 0;
			const char *r;
			q = memchr(p, ' ', (size_t)(eol - p));
			if (!q || q + 1 == eol)
				return tract_error_set(TRACT_ECORRUPT, "bpe: bad rank line");
			for (r = q + 1; r < eol; r++) {
				if (*r < '0' || *r > '9' || rank > UINT32_MAX)
					return tract_error_set(TRACT_ECORRUPT, "bpe: bad rank");
				rank = rank * 10 + (unsigned long long)(*r - '0');
			}
			if ((rc = table_add(bpe, &used, p, (size_t)(q - p), rank)) < 0)
				return rc;
		}
		p = (eol < end && *eol == '\r') ? eol + 2 : eol + 1;
	}
	bpe->arena_len = used;
	if (bpe->n == 0)
		return tract_error_set(TRACT_ECORRUPT, "bpe: empty rank table");
	for (i = 0; i < 256; i++) {
		unsigned char b = (unsigned char)i;
		if (tract_bpe_rank(bpe, &b, 1) < 0)
			return tract_error_set(TRACT_ECORRUPT, "bpe: byte 0x%02zx has no rank", i);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* the pre-split pattern                                                */
/* ------------------------------------------------------------------ */

/* Unicode White_Space: what \s means in tiktoken's regex engine. PCRE2's
 * UCP \s also matches U+180E, so \s and \S are spelled out. */
#define WS_SET                                                                                     \
	"\\x{9}-\\x{d}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"                           \
	"\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

static char *rewrite_pattern(const char *pat)
{
	size_t len = strlen(pat), n = 0, i;
	char *out = malloc(len * (sizeof(WS_SET) + 4) + 1);
	int in_class = 0;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		char c = pat[i];
		if (c == '\\' && i + 1 < len) {
			char d = pat[++i];
			const char *add = NULL;
			char tmp[3] = {'\\', d, 0};
			if (d == 's')
				add = in_class ? WS_SET : "[" WS_SET "]";
			else if (d == 'S' && !in_class)
				add = "[^" WS_SET "]";
			else if (d == 'S') {
				free(out);
				errno = EINVAL;
				return NULL;
			} else
				add = tmp;
			memcpy(out + n, add, strlen(add));
			n += strlen(add);
			continue;
		}
		out[n++] = c;
		if (c == '[' && !in_class) {
			in_class = 1;
			if (i + 1 < len && pat[i + 1] == '^')
				out[n++] = pat[++i];
			if (i + 1 < len && pat[i + 1] == ']')
				out[n++] = pat[++i];
		} else if (c == ']' && in_class) {
			in_class = 0;
		}
	}
	out[n] = 0;
	return out;
}

static int compile_pattern(tract_bpe *bpe, const char *pat)
{
	char *p = rewrite_pattern(pat);
	int err;
	PCRE2_SIZE erroff;

	if (!p) {
		if (errno == EINVAL)
			return tract_error_set(TRACT_ECORRUPT,
			                       "bpe: \\S inside a class in pat_str");
		return tract_error_oom();
	}
	if (!(bpe->pat = strdup(pat))) {
		free(p);
		return tract_error_oom();
	}
	bpe->re = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
	                        &erroff, NULL);
	free(p);
	if (!bpe->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(err, msg, sizeof(msg));
		return tract_error_set(TRACT_ECORRUPT, "bpe: pat_str does not compile at %zu: %s",
		                       (size_t)erroff, (const char *)msg);
	}
	/* Without JIT pcre2_match interprets; same results, slower. */
	(void)pcre2_jit_compile(bpe->re, PCRE2_JIT_COMPLETE);
	return 0;
}

/*
 * The pre-split patterns of the encodings we know, for rank files in the
 * .tiktoken format (which carry no pattern). Same text as the pat_str of
 * the tiktoken package's encoder files.
 */
static const struct {
	const char *name;
	const char *pat;
} known_patterns[] = {
    {"o200k_base",
     "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
     "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+"
     "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
     "[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
    {"cl100k_base", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
};

const char *tract_bpe_known_pattern(const char *encoding)
{
	size_t i;

	for (i = 0; i < sizeof(known_patterns) / sizeof(known_patterns[0]); i++)
		if (strcmp(known_patterns[i].name, encoding) == 0)
			return known_patterns[i].pat;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* loading                                                              */
/* ------------------------------------------------------------------ */

void tract_bpe_free(tract_bpe *bpe)
{
	if (!bpe)
		return;
	if (bpe->map) {
		munmap(bpe->map, bpe->map_len);
	} else {
		free(bpe->arena);
		free(bpe->entries);
		free(bpe->slots);
	}
	free(bpe->pat);
	pcre2_code_free(bpe->re);
	free(bpe);
}

static int load_ranks(const char *ranks, size_t len, const char *pat, tract_bpe **out)
{
	tract_bpe *bpe = calloc(1, sizeof(*bpe));
	int rc;

	*out = NULL;
	if (!bpe)
		return tract_error_oom();
	rc = parse_ranks(bpe, ranks, len);
	if (rc == 0)
		rc = compile_pattern(bpe, pat);
	if (rc < 0) {
		tract_bpe_free(bpe);
		return rc;
	}
	*out = bpe;
	return 0;
}

int tract_bpe_load_json(const char *json, size_t len, tract_bpe **out)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *pat, *ranks;
	int rc;

	*out = NULL;
	if (!root)
		return tract_error_set(TRACT_ECORRUPT, "bpe: encoder file is not JSON");
	pat = cJSON_GetObjectItemCaseSensitive(root, "pat_str");
	ranks = cJSON_GetObjectItemCaseSensitive(root, "bpe_ranks");
	if (!cJSON_IsString(pat) || !cJSON_IsString(ranks)) {
		cJSON_Delete(root);
		return tract_error_set(TRACT_ECORRUPT, "bpe: encoder lacks pat_str or bpe_ranks");
	}
	rc = load_ranks(ranks->valuestring, strlen(ranks->valuestring), pat->valuestring, out);
	cJSON_Delete(root);
	return rc;
}

int tract_bpe_load_tiktoken(const char *text, size_t len, const char *pat, tract_bpe **out)
{
	*out = NULL;
	if (len > 0 && text[0] == '!')
		return tract_error_set(TRACT_ECORRUPT, "bpe: not a .tiktoken rank file");
	return load_ranks(text, len, pat, out);
}

/*
 * The binary table: what the loader builds, laid out to be mapped and used
 * in place (native byte order; a table from another byte order or another
 * layout version is refused). Built at setup time by tract-mkbpe from an
 * encoder file; loading it costs an mmap, a bounds check of every entry
 * and slot, and the pattern's compilation.
 *
 *   header (64 bytes), pat_str + NUL, entries[n], slots[cap], arena
 *   (each section starts on an 8-byte boundary)
 */
#define BIN_MAGIC "TRACTBPE"
#define BIN_VERSION 1u
#define BIN_ORDER 0x01020304u

typedef struct {
	char magic[8];
	uint32_t version, byte_order;
	uint32_t n, max_len;
	uint64_t cap, arena_len, pat_len, file_len;
	uint32_t entry_size, reserved;
} bin_header;

#define ALIGN8(x) (((x) + 7) & ~(uint64_t)7)

typedef struct {
	uint64_t pat, entries, slots, arena, end;
} bin_layout;

static int bin_layout_of(const bin_header *h, bin_layout *l)
{
	/* every size is bounded first, so no sum below can overflow */
	if (h->n == 0 || h->cap == 0 || h->cap > (UINT64_C(1) << 32) ||
	    (h->cap & (h->cap - 1)) != 0 || h->n >= h->cap || h->pat_len > (1u << 20) ||
	    h->arena_len > (UINT64_C(1) << 32) || h->max_len == 0 || h->max_len > h->arena_len)
		return -1;
	l->pat = ALIGN8(sizeof(bin_header));
	l->entries = ALIGN8(l->pat + h->pat_len + 1);
	l->slots = ALIGN8(l->entries + (uint64_t)h->n * sizeof(bpe_entry));
	l->arena = ALIGN8(l->slots + h->cap * sizeof(uint32_t));
	l->end = l->arena + h->arena_len;
	return 0;
}

int tract_bpe_save(const tract_bpe *bpe, const char *path)
{
	bin_header h;
	bin_layout l;
	char *tmp;
	FILE *f;
	int ok;
	static const char zeros[8];

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, BIN_MAGIC, 8);
	h.version = BIN_VERSION;
	h.byte_order = BIN_ORDER;
	h.n = (uint32_t)bpe->n;
	h.max_len = (uint32_t)bpe->max_len;
	h.cap = bpe->mask + 1;
	h.arena_len = bpe->arena_len;
	h.pat_len = strlen(bpe->pat);
	h.entry_size = sizeof(bpe_entry);
	if (bin_layout_of(&h, &l) < 0)
		return tract_error_set(TRACT_EINVAL, "bpe: table too large for the binary form");
	h.file_len = l.end;
	if (!(tmp = malloc(strlen(path) + 8)))
		return tract_error_oom();
	sprintf(tmp, "%s.tmp~", path);
	if (!(f = fopen(tmp, "wb"))) {
		tract_error_set(TRACT_ERROR, "bpe: cannot write %s: %s", tmp, strerror(errno));
		free(tmp);
		return TRACT_ERROR;
	}
#define PUT(ptr, len) ok = ok && fwrite((ptr), 1, (len), f) == (size_t)(len)
#define PAD_TO(off)                                                                                \
	do {                                                                                       \
		long pos_ = ftell(f);                                                              \
		ok = ok && pos_ >= 0 && (uint64_t)pos_ <= (off) && (off) - (uint64_t)pos_ < 8;     \
		PUT(zeros, ok ? (size_t)((off) - (uint64_t)pos_) : 0);                             \
	} while (0)
	ok = 1;
	PUT(&h, sizeof(h));
	PAD_TO(l.pat);
	PUT(bpe->pat, h.pat_len + 1);
	PAD_TO(l.entries);
	PUT(bpe->entries, (size_t)h.n * sizeof(bpe_entry));
	PAD_TO(l.slots);
	PUT(bpe->slots, (size_t)h.cap * sizeof(uint32_t));
	PAD_TO(l.arena);
	PUT(bpe->arena, (size_t)h.arena_len);
#undef PAD_TO
#undef PUT
	ok = (fflush(f) == 0) && ok;
	ok = (fsync(fileno(f)) == 0) && ok;
	ok = (fclose(f) == 0) && ok;
	/* write-then-rename: a reader never maps a partial table */
	if (!ok || rename(tmp, path) != 0) {
		tract_error_set(TRACT_ERROR, "bpe: cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return TRACT_ERROR;
	}
	free(tmp);
	return 0;
}

/* Check a mapped table so that a corrupt file gives an error, not a
 * crash: every entry inside the arena, every slot naming an entry, the
 * probe sequences ending (exactly n used slots < cap), every byte ranked. */
static int bin_check(tract_bpe *bpe)
{
	size_t i, used = 0;

	for (i = 0; i < bpe->n; i++) {
		const bpe_entry *e = &bpe->entries[i];
		if (e->len == 0 || e->len > bpe->max_len || e->off > bpe->arena_len ||
		    e->len > bpe->arena_len - e->off || e->rank == UINT32_MAX)
			return -1;
	}
	for (i = 0; i <= bpe->mask; i++) {
		if (bpe->slots[i] > bpe->n)
			return -1;
		used += bpe->slots[i] != 0;
	}
	if (used != bpe->n)
		return -1;
	for (i = 0; i < 256; i++) {
		unsigned char b = (unsigned char)i;
		if (tract_bpe_rank(bpe, &b, 1) < 0)
			return -1;
	}
	return 0;
}

static int load_binary(const char *path, tract_bpe **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	const bin_header *h;
	bin_layout l;
	tract_bpe *bpe;
	void *map;
	int rc;

	if (fd < 0)
		return tract_error_set(TRACT_ENOTFOUND, "bpe: cannot open %s: %s", path,
		                       strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(bin_header)) {
		close(fd);
		return tract_error_set(TRACT_ECORRUPT, "bpe: %s is not a binary table", path);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return tract_error_set(TRACT_ERROR, "bpe: cannot map %s: %s", path,
		                       strerror(errno));
	h = map;
	if (memcmp(h->magic, BIN_MAGIC, 8) != 0 || h->version != BIN_VERSION ||
	    h->byte_order != BIN_ORDER || h->entry_size != sizeof(bpe_entry) ||
	    bin_layout_of(h, &l) < 0 || h->file_len != l.end ||
	    (uint64_t)st.st_size != l.end || ((const char *)map)[l.pat + h->pat_len] != 0 ||
	    strlen((const char *)map + l.pat) != h->pat_len) {
		munmap(map, (size_t)st.st_size);
		return tract_error_set(TRACT_ECORRUPT,
		                       "bpe: %s is not a binary table of this version (rebuild "
		                       "it with tract-mkbpe or remove it)",
		                       path);
	}
	if (!(bpe = calloc(1, sizeof(*bpe)))) {
		munmap(map, (size_t)st.st_size);
		return tract_error_oom();
	}
	bpe->map = map;
	bpe->map_len = (size_t)st.st_size;
	bpe->n = h->n;
	bpe->max_len = h->max_len;
	bpe->mask = (size_t)h->cap - 1;
	bpe->arena_len = (size_t)h->arena_len;
	bpe->entries = (bpe_entry *)((char *)map + l.entries);
	bpe->slots = (uint32_t *)((char *)map + l.slots);
	bpe->arena = (unsigned char *)map + l.arena;
	if (bin_check(bpe) < 0) {
		tract_bpe_free(bpe);
		return tract_error_set(TRACT_ECORRUPT, "bpe: %s is corrupt (rebuild it with "
		                                       "tract-mkbpe or remove it)",
		                       path);
	}
	if ((rc = compile_pattern(bpe, (const char *)map + l.pat)) < 0) {
		tract_bpe_free(bpe);
		tract_error_prefix(path);
		return rc;
	}
	*out = bpe;
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The encoding named by a .tiktoken file: its base name without suffix. */
static const char *tiktoken_pattern_for(const char *path)
{
	const char *base = strrchr(path, '/');
	char name[64];
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base) - strlen(".tiktoken");
	if (n == 0 || n >= sizeof(name))
		return NULL;
	memcpy(name, base, n);
	name[n] = 0;
	return tract_bpe_known_pattern(name);
}

int tract_bpe_load(const char *path, tract_bpe **out)
{
	FILE *f;
	char *buf;
	const char *pat = NULL;
	long n;
	int rc;

	*out = NULL;
	if (ends_with(path, ".bin"))
		return load_binary(path, out);
	if (ends_with(path, ".tiktoken") && !(pat = tiktoken_pattern_for(path)))
		return tract_error_set(TRACT_EINVAL,
		                       "bpe: %s: no pre-split pattern known for this encoding "
		                       "(a .tiktoken file carries none; known: o200k_base, "
		                       "cl100k_base)",
		                       path);
	if (!(f = fopen(path, "rb")))
		return tract_error_set(TRACT_ENOTFOUND, "bpe: cannot open %s: %s", path,
		                       strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return tract_error_set(TRACT_ERROR, "bpe: cannot read %s", path);
	}
	buf = malloc((size_t)n + 1);
	if (!buf) {
		fclose(f);
		return tract_error_oom();
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return tract_error_set(TRACT_ERROR, "bpe: cannot read %s", path);
	}
	fclose(f);
	buf[n] = 0;
	if (pat)
		rc = tract_bpe_load_tiktoken(buf, (size_t)n, pat, out);
	else
		rc = tract_bpe_load_json(buf, (size_t)n, out);
	free(buf);
	if (rc < 0)
		tract_error_prefix(path);
	return rc;
}

/* ------------------------------------------------------------------ */
/* counting                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
	uint32_t rank, pos, len;
} heap_item;

static int heap_less(const heap_item *a, const heap_item *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(heap_item *h, size_t *n, heap_item it)
{
	size_t i = (*n)++;

	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(&it, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = it;
}

static heap_item heap_pop(heap_item *h, size_t *n)
{
	heap_item top = h[0], last = h[--*n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && heap_less(&h[c + 1], &h[c]))
			c++;
		if (!heap_less(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = last;
	return top;
}

static void push_pair(const tract_bpe *bpe, const unsigned char *s, heap_item *h, size_t *nh,
                      uint32_t pos, uint32_t len)
{
	int64_t r = tract_bpe_rank(bpe, s + pos, len);

	if (r >= 0) {
		heap_item it = {(uint32_t)r, pos, len};
		heap_push(h, nh, it);
	}
}

/*
 * Byte-pair merge of one piece (not itself a token): parts are a linked
 * list over byte positions (part i spans [i, next[i])); the heap holds
 * candidate adjacent pairs keyed by (rank, start), so the lowest rank,
 * leftmost first, merges first, as tiktoken does. A popped pair is stale
 * when its left part is gone or the pair no longer spans len bytes.
 */
static int64_t merge_count(const tract_bpe *bpe, const unsigned char *s, size_t n)
{
	uint32_t stack_next[128], stack_prev[128];
	heap_item stack_heap[384];
	uint32_t *next = stack_next, *prev = stack_prev;
	heap_item *h = stack_heap;
	unsigned char *dead;
	size_t nh = 0, i;
	int64_t count = (int64_t)n;

	if (n > UINT32_MAX / 4)
		return tract_error_set(TRACT_EINVAL, "bpe: piece too long");
	if (n > 128) {
		next = malloc(n * sizeof(*next));
		prev = malloc(n * sizeof(*prev));
		h = malloc(3 * n * sizeof(*h));
	}
	dead = calloc(n, 1);
	if (!next || !prev || !h || !dead) {
		count = tract_error_oom();
		goto out;
	}
	for (i = 0; i < n; i++) {
		next[i] = (uint32_t)(i + 1);
		prev[i] = (uint32_t)i - 1; /* UINT32_MAX for the first */
	}
	for (i = 0; i + 1 < n; i++)
		push_pair(bpe, s, h, &nh, (uint32_t)i, 2);
	while (nh > 0) {
		heap_item it = heap_pop(h, &nh);
		uint32_t a = it.pos, b;
		if (dead[a] || next[a] >= n)
			continue;
		b = next[a];
		if ((next[b] - a) != it.len)
			continue;
		next[a] = next[b];
		if (next[b] < n)
			prev[next[b]] = a;
		dead[b] = 1;
		count--;
		if (prev[a] != UINT32_MAX)
			push_pair(bpe, s, h, &nh, prev[a], next[a] - prev[a]);
		if (next[a] < n)
			push_pair(bpe, s, h, &nh, a, next[next[a]] - a);
	}
out:
	if (next != stack_next) {
		free(next);
		free(prev);
		free(h);
	}
	free(dead);
	return count;
}

/*
 * The same merge in less memory, for long pieces (a 10 MB run of one letter
 * is one piece): the parts are a bitmap of their start positions (a part
 * ends where the next live bit is; no part is longer than the longest
 * token, so the scans are short), and a heap item is one 64-bit key,
 * rank << 44 | pos << 12 | len, ordered as (rank, pos) like heap_item.
 * 1/8 + 8 bytes a byte of the piece against merge_count()'s 9 + 12 to 36.
 * Needs ranks < 2^20, pieces < 2^32 bytes and pairs < 2^12 bytes: the
 * caller checks, and uses merge_count() otherwise.
 */
#define LEAN_RANK_BITS 20
#define LEAN_LEN_BITS 12
#define LEAN_MIN 4096
#define LEAN_UNFIT INT64_MIN

static int lean_live(const uint64_t *live, size_t i)
{
	return (int)((live[i >> 6] >> (i & 63)) & 1);
}

/* The next live position after i (n when none). */
static size_t lean_next(const uint64_t *live, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		uint64_t w = live[i >> 6] >> (i & 63);
		if (w) {
			i += (size_t)__builtin_ctzll(w);
			return i < n ? i : n;
		}
		i |= 63;
	}
	return n;
}

/* The previous live position before i (SIZE_MAX when none). */
static size_t lean_prev(const uint64_t *live, size_t i)
{
	uint64_t w;

	while (i > 0) {
		i--;
		w = live[i >> 6] << (63 - (i & 63));
		if (w)
			return i - (size_t)__builtin_clzll(w);
		i &= ~(size_t)63;
	}
	return SIZE_MAX;
}

typedef struct {
	uint64_t *h;
	size_t n, cap;
	int oom, unfit; /* unfit: a rank >= 2^LEAN_RANK_BITS */
} lean_heap;

static void lean_push(lean_heap *hp, uint64_t key)
{
	size_t i;

	if (hp->n == hp->cap) {
		size_t ncap = hp->cap ? hp->cap + hp->cap / 2 : 1024;
		uint64_t *g = realloc(hp->h, ncap * sizeof(*g));
		if (!g) {
			hp->oom = 1;
			return;
		}
		hp->h = g;
		hp->cap = ncap;
	}
	i = hp->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (hp->h[p] <= key)
			break;
		hp->h[i] = hp->h[p];
		i = p;
	}
	hp->h[i] = key;
}

static uint64_t lean_pop(lean_heap *hp)
{
	uint64_t *h = hp->h, top = h[0], last = h[--hp->n];
	size_t i = 0, n = hp->n;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1] < h[c])
			c++;
		if (h[c] >= last)
			break;
		h[i] = h[c];
		i = c;
	}
	if (n > 0)
		h[i] = last;
	return top;
}

static void lean_pair(const tract_bpe *bpe, const unsigned char *s, lean_heap *hp, size_t pos,
		      size_t len)
{
	int64_t r = tract_bpe_rank(bpe, s + pos, len);

	if (r >= ((int64_t)1 << LEAN_RANK_BITS))
		hp->unfit = 1;
	else if (r >= 0)
		lean_push(hp, (uint64_t)r << 44 | (uint64_t)pos << LEAN_LEN_BITS | len);
}

static int64_t merge_count_lean(const tract_bpe *bpe, const unsigned char *s, size_t n)
{
	lean_heap hp = {NULL, 0, 0, 0, 0};
	uint64_t *live = malloc(((n + 63) / 64) * sizeof(*live));
	int64_t count = (int64_t)n;
	size_t i;

	if (!live)
		return tract_error_oom();
	memset(live, 0xff, ((n + 63) / 64) * sizeof(*live));
	for (i = 0; i + 1 < n; i++)
		lean_pair(bpe, s, &hp, i, 2);
	while (hp.n > 0 && !hp.oom && !hp.unfit) {
		uint64_t key = lean_pop(&hp);
		size_t a = (size_t)(key >> LEAN_LEN_BITS) & 0xffffffffu;
		size_t len = (size_t)(key & ((1u << LEAN_LEN_BITS) - 1));
		size_t b, e, p;
		if (!lean_live(live, a))
			continue;
		b = lean_next(live, a, n);
		if (b >= n)
			continue;
		e = lean_next(live, b, n);
		if (e - a != len)
			continue;
		live[b >> 6] &= ~((uint64_t)1 << (b & 63));
		count--;
		p = lean_prev(live, a);
		if (p != SIZE_MAX)
			lean_pair(bpe, s, &hp, p, e - p);
		if (e < n)
			lean_pair(bpe, s, &hp, a, lean_next(live, e, n) - a);
	}
	if (hp.unfit)
		count = LEAN_UNFIT;
	else if (hp.oom)
		count = tract_error_oom();
	free(hp.h);
	free(live);
	return count;
}

/*
 * The merge in layers, in no memory but the bitmap, for long pieces made of
 * few distinct pairs (a run of one letter): each layer finds the lowest
 * rank r among the current pairs and merges its pairs left to right. The
 * heap would do the same, in the same order: a merge makes a part longer
 * than token r, so it never makes a new pair of rank r; and a new pair of a
 * lower rank (which the heap would merge first) ends the attempt, as does
 * a piece that needs more than LAYERS_MAX layers: LEAN_UNFIT, and the
 * caller merges with the heap.
 */
#define LAYERS_MAX 24

static int64_t pair_rank(const tract_bpe *bpe, const unsigned char *s, const uint64_t *live,
			 size_t a, size_t n, size_t *b_out)
{
	size_t b = lean_next(live, a, n);

	*b_out = b;
	if (b >= n)
		return -1;
	return tract_bpe_rank(bpe, s + a, lean_next(live, b, n) - a);
}

static int64_t merge_count_layers(const tract_bpe *bpe, const unsigned char *s, size_t n)
{
	uint64_t *live = malloc(((n + 63) / 64) * sizeof(*live));
	int64_t count = (int64_t)n;
	int layers;

	if (!live)
		return tract_error_oom();
	memset(live, 0xff, ((n + 63) / 64) * sizeof(*live));
	for (layers = 0;; layers++) {
		int64_t r = -1, rk;
		size_t a, b;

		for (a = 0; a < n; a = b) {
			rk = pair_rank(bpe, s, live, a, n, &b);
			if (rk >= 0 && (r < 0 || rk < r))
				r = rk;
		}
		if (r < 0)
			break; /* no pair left to merge */
		if (layers == LAYERS_MAX) {
			count = LEAN_UNFIT;
			break;
		}
		for (a = 0; a < n; a = b) {
			size_t p, e;
			rk = pair_rank(bpe, s, live, a, n, &b);
			if (rk != r)
				continue;
			/* merge [a, b) and [b, e): then a's new pairs */
			live[b >> 6] &= ~((uint64_t)1 << (b & 63));
			count--;
			p = lean_prev(live, a);
			if (p != SIZE_MAX) {
				rk = pair_rank(bpe, s, live, p, n, &e);
				if (rk >= 0 && rk < r)
					break;
			}
			if ((rk = pair_rank(bpe, s, live, a, n, &e)) >= 0 && rk < r)
				break;
			b = e; /* the part after the merged one */
		}
		if (a < n) {
			count = LEAN_UNFIT; /* a lower rank appeared */
			break;
		}
	}
	free(live);
	return count;
}

/* The merge for a piece of n bytes: the lean one when it fits and pays. */
static int64_t merge_piece(const tract_bpe *bpe, const unsigned char *s, size_t n)
{
	int64_t c;

	if (n >= LEAN_MIN) {
		c = merge_count_layers(bpe, s, n);
		if (c != LEAN_UNFIT)
			return c;
	}
	if (n >= LEAN_MIN && n <= UINT32_MAX && 2 * bpe->max_len < ((size_t)1 << LEAN_LEN_BITS)) {
		c = merge_count_lean(bpe, s, n);
		if (c != LEAN_UNFIT)
			return c;
	}
	return merge_count(bpe, s, n);
}

int64_t tract_bpe_merge_test(const tract_bpe *bpe, const void *piece, size_t n, int how)
{
	if (how == 1)
		return n <= UINT32_MAX && 2 * bpe->max_len < ((size_t)1 << LEAN_LEN_BITS)
			   ? merge_count_lean(bpe, piece, n)
			   : LEAN_UNFIT;
	if (how == 2)
		return merge_count_layers(bpe, piece, n);
	return merge_count(bpe, piece, n);
}

int64_t tract_bpe_count(const tract_bpe *bpe, const char *text, size_t len)
{
	pcre2_match_data *md;
	pcre2_match_context *mctx = NULL;
	pcre2_jit_stack *jstack = NULL;
	PCRE2_SIZE off = 0;
	int64_t total = 0;

	if (len == 0)
		return 0;
	if (!tract_utf8_valid(text, len))
		return tract_error_set(TRACT_EINVAL, "token count: text is not valid UTF-8");
	md = pcre2_match_data_create_from_pattern(bpe->re, NULL);
	if (!md)
		return tract_error_oom();
	while (off < len) {
		PCRE2_SIZE *ov, s, e;
		int rc =
		    pcre2_match(bpe->re, (PCRE2_SPTR)text, len, off, PCRE2_NO_UTF_CHECK, md, mctx);
		if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !jstack) {
			mctx = pcre2_match_context_create(NULL);
			jstack = pcre2_jit_stack_create(64 * 1024, 256 * 1024 * 1024, NULL);
			if (!mctx || !jstack) {
				total = tract_error_oom();
				break;
			}
			pcre2_jit_stack_assign(mctx, NULL, jstack);
			continue;
		}
		if (rc == PCRE2_ERROR_NOMATCH)
			break; /* cannot happen with tiktoken's patterns */
		if (rc < 0) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(rc, msg, sizeof(msg));
			total = tract_error_set(TRACT_ERROR, "token count: pattern match: %s",
			                        (const char *)msg);
			break;
		}
		ov = pcre2_get_ovector_pointer(md);
		s = ov[0];
		e = ov[1];
		if (e <= s) {
			/* empty match: step over one character */
			off = s + 1;
			while (off < len && ((unsigned char)text[off] & 0xc0) == 0x80)
				off++;
			continue;
		}
		if (tract_bpe_rank(bpe, text + s, e - s) >= 0) {
			total++;
		} else {
			int64_t c = merge_piece(bpe, (const unsigned char *)text + s, e - s);
			if (c < 0) {
				total = c;
				break;
			}
			total += c;
		}
		off = e;
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	pcre2_jit_stack_free(jstack);
	return total;
}

/* ------------------------------------------------------------------ */
/* the tokenizer: one shared table per encoding per process            */
/* ------------------------------------------------------------------ */

typedef struct bpe_slot {
	struct bpe_slot *next;
	char name[64];
	char source[80];
	tract_bpe *bpe;
	tract_tokenizer tok;
} bpe_slot;

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static bpe_slot *slots_head;

static int64_t bpe_tok_count(void *self, const char *text, size_t len)
{
	return tract_bpe_count(self, text, len);
}

static int name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= 64)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/*
 * Try dir/<name>.bin (the mapped binary table), then .json (the tiktoken
 * package's encoder file), then .tiktoken (a rank file; the pattern is
 * known for our encodings). 0 and *out on success, TRACT_ENOTFOUND when
 * none is there, another code when one is present but bad (a bad table is
 * an error, not a reason to go on looking).
 */
static int try_dir(const char *dir, const char *name, tract_bpe **out)
{
	static const char *const suffixes[] = {".bin", ".json", ".tiktoken"};
	char path[4096];
	size_t i;

	if (!dir || !*dir)
		return TRACT_ENOTFOUND;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, name, suffixes[i]) >=
		    sizeof(path))
			return TRACT_ENOTFOUND;
		if (access(path, F_OK) == 0)
			return tract_bpe_load(path, out);
	}
	return TRACT_ENOTFOUND;
}

const char *tract_bpe_search_dirs(int i)
{
	switch (i) {
	case 0:
		return getenv("TRACT_ENCODINGS_DIR");
	case 1:
		/* like plugins: the build tree only for a libtract running from it */
		return tract_running_from_build_tree() ? TRACT_BUILD_ENCODINGS_DIR : NULL;
	case 2:
		return TRACT_DATA_ENCODINGS_DIR;
	default:
		return NULL;
	}
}

int tract_tokenizer_bpe(tract_tokenizer **out, const char *encoding)
{
	bpe_slot *sl;
	tract_bpe *bpe = NULL;
	int rc = TRACT_ENOTFOUND;
	int i;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_tokenizer_bpe: out is NULL");
	*out = NULL;
	if (!encoding || !name_ok(encoding))
		return tract_error_set(TRACT_EINVAL, "bpe: bad encoding name");
	pthread_mutex_lock(&slots_lock);
	for (sl = slots_head; sl; sl = sl->next) {
		if (strcmp(sl->name, encoding) == 0) {
			pthread_mutex_unlock(&slots_lock);
			*out = &sl->tok;
			return 0;
		}
	}
	for (i = 0; i < 3 && rc == TRACT_ENOTFOUND; i++)
		rc = try_dir(tract_bpe_search_dirs(i), encoding, &bpe);
	if (rc < 0) {
		if (rc == TRACT_ENOTFOUND) {
			const char *env = tract_bpe_search_dirs(0), *build = tract_bpe_search_dirs(1);
			tract_error_set(TRACT_ENOTFOUND,
			                "no %s token table (looked in %s%s%s%s%s; install it with "
			                "scripts/fetch-encodings.sh or set TRACT_ENCODINGS_DIR)",
			                encoding, env && *env ? env : "",
			                env && *env ? ", " : "", build ? build : "",
			                build ? ", " : "", TRACT_DATA_ENCODINGS_DIR);
		}
		pthread_mutex_unlock(&slots_lock);
		return rc;
	}
	sl = calloc(1, sizeof(*sl));
	if (!sl) {
		tract_bpe_free(bpe);
		pthread_mutex_unlock(&slots_lock);
		return tract_error_oom();
	}
	snprintf(sl->name, sizeof(sl->name), "%s", encoding);
	snprintf(sl->source, sizeof(sl->source), "tiktoken:%s", encoding);
	sl->bpe = bpe;
	sl->tok.version = TRACT_TOKENIZER_VERSION;
	sl->tok.source = sl->source;
	sl->tok.count = bpe_tok_count;
	sl->tok.self = bpe;
	sl->tok.flags = TRACT_TOKENIZER_THREADSAFE;
	sl->next = slots_head;
	slots_head = sl;
	pthread_mutex_unlock(&slots_lock);
	*out = &sl->tok;
	return 0;
}
