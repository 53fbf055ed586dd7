/*
 * test_bpe.c - the tiktoken-compatible BPE counters: known counts of o200k_base
 * and cl100k_base against the real tiktoken, invalid UTF-8, very long words,
 * repeatability and threads, small hand-made tables (both rank file forms),
 * and the fixture databases' compile token counts under the exact counter.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "bpe.h"
#include "internal.h"
#include "testutil.h"
#include "tract.h"

/* The lookups as expressions: the counter, or NULL when the call failed
 * (then *out is NULL too and the code is the last error's). */
static tract_tokenizer *checked(int rc, tract_tokenizer *tok)
{
	if (rc != 0) {
		assert_true(rc < 0);
		assert_int_equal(tract_error_last()->code, rc);
		assert_null(tok);
		return NULL;
	}
	assert_non_null(tok);
	return tok;
}

static tract_tokenizer *tok_bpe(const char *enc)
{
	tract_tokenizer *tok = NULL;
	int rc = tract_tokenizer_bpe(&tok, enc);

	return checked(rc, tok);
}

static tract_tokenizer *tok_get(const char *name)
{
	tract_tokenizer *tok = NULL;
	int rc = tract_tokenizer_get(&tok, name);

	return checked(rc, tok);
}

static tract_tokenizer *tok_for_model(const char *model)
{
	tract_tokenizer *tok = NULL;
	int rc = tract_tokenizer_for_model(&tok, model);

	return checked(rc, tok);
}

static tract_tokenizer *tok_default(void)
{
	tract_tokenizer *tok = NULL;

	assert_int_equal(tract_tokenizer_default(&tok), 0);
	assert_non_null(tok);
	return tok;
}

/* tract_tokenizer_model_encoding never fails. */
static const char *model_encoding(const char *model)
{
	const char *enc = NULL;

	assert_int_equal(tract_tokenizer_model_encoding(&enc, model), 0);
	assert_non_null(enc);
	return enc;
}

/* tract_tokenizer_count's count, or its negative code. */
static int64_t tok_count(tract_tokenizer *tok, const char *text, size_t len)
{
	int64_t n = -1;
	int rc = tract_tokenizer_count(&n, tok, text, len);

	return rc ? rc : n;
}

/* The real tables are part of the test's data: scripts/build.sh fetches
 * them into BUILDDIR/data/encodings. A test that cannot find one fails. */
static tract_tokenizer *need_table(const char *enc)
{
	tract_tokenizer *tok = tok_bpe(enc);

	if (!tok)
		fail_msg("%s table not available (%s); build with scripts/build.sh, or run "
		         "scripts/fetch-encodings.sh BUILDDIR/data/encodings",
		         enc, tract_error_last()->message);
	return tok;
}

/* ------------------------------------------------------------------ */
/* known counts                                                         */
/* ------------------------------------------------------------------ */

/*
 * Expected values produced with the real tiktoken from npm (not with this
 * code): `npm install tiktoken@1.0.22` in a scratch dir, then in node
 *   const {get_encoding} = require('tiktoken');
 *   get_encoding('o200k_base').encode_ordinary(text).length
 * (and the same with 'cl100k_base'), where text is the literal below
 * repeated `repeat` times.
 */
static const struct {
	const char *text;
	int repeat;
	int64_t o200k, cl100k;
} known[] = {
    /* clang-format off */
	{"", 1, 0, 0},
	{"hello world", 1, 2, 2},
	{"The quick brown fox jumps over the lazy dog.", 1, 10, 10},
	{"Hello, World! How are you doing today?", 1, 10, 10},
	{"It'S HE'LL we'RE they'VE I'M she'D don't", 1, 16, 16},
	{"'s 'll 're 've 'm 'd 'S 'LL 'RE", 1, 17, 17},
	{"<|endoftext|>", 1, 7, 7},
	{"Before <|endoftext|> after <|endofprompt|><|fim_prefix|>", 1, 21, 20},
	/* 你好，世界！今天天气很好。 */
	{"\344\275\240\345\245\275\357\274\214\344\270\226\347\225\214\357\274\201\344\273\212\345\244\251\345\244\251\346\260\224\345\276\210\345\245\275\343\200\202", 1, 9, 16},
	/* 日本語のテキストを数えます。カタカナとひらがな。 */
	{"\346\227\245\346\234\254\350\252\236\343\201\256\343\203\206\343\202\255\343\202\271\343\203\210\343\202\222\346\225\260\343\201\210\343\201\276\343\201\231\343\200\202\343\202\253\343\202\277\343\202\253\343\203\212\343\201\250\343\201\262\343\202\211\343\201\214\343\201\252\343\200\202", 1, 21, 24},
	/* 한국어 문장을 토큰으로 나눕니다. */
	{"\355\225\234\352\265\255\354\226\264 \353\254\270\354\236\245\354\235\204 \355\206\240\355\201\260\354\234\274\353\241\234 \353\202\230\353\210\225\353\213\210\353\213\244.", 1, 12, 19},
	/* مرحبا بالعالم، كيف حالك اليوم؟ */
	{"\331\205\330\261\330\255\330\250\330\247 \330\250\330\247\331\204\330\271\330\247\331\204\331\205\330\214 \331\203\331\212\331\201 \330\255\330\247\331\204\331\203 \330\247\331\204\331\212\331\210\331\205\330\237", 1, 10, 23},
	/* नमस्ते दुनिया, आप कैसे हैं? */
	{"\340\244\250\340\244\256\340\244\270\340\245\215\340\244\244\340\245\207 \340\244\246\340\245\201\340\244\250\340\244\277\340\244\257\340\244\276, \340\244\206\340\244\252 \340\244\225\340\245\210\340\244\270\340\245\207 \340\244\271\340\245\210\340\244\202?", 1, 10, 27},
	/* สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่างระหว่างคำ */
	{"\340\270\252\340\270\247\340\270\261\340\270\252\340\270\224\340\270\265\340\270\212\340\270\262\340\270\247\340\271\202\340\270\245\340\270\201 \340\270\240\340\270\262\340\270\251\340\270\262\340\271\204\340\270\227\340\270\242\340\271\204\340\270\241\340\271\210\340\270\241\340\270\265\340\270\212\340\271\210\340\270\255\340\270\207\340\270\247\340\271\210\340\270\262\340\270\207\340\270\243\340\270\260\340\270\253\340\270\247\340\271\210\340\270\262\340\270\207\340\270\204\340\270\263", 1, 16, 42},
	/* Привет, мир! Как дела? */
	{"\320\237\321\200\320\270\320\262\320\265\321\202, \320\274\320\270\321\200! \320\232\320\260\320\272 \320\264\320\265\320\273\320\260?", 1, 8, 12},
	/* Γειά σου Κόσμε */
	{"\316\223\316\265\316\271\316\254 \317\203\316\277\317\205 \316\232\317\214\317\203\316\274\316\265", 1, 8, 13},
	/* 👨<U+200D>👩<U+200D>👧<U+200D>👦 family 👍🏽 thumbs 🏳️<U+200D>🌈 flag 😀😃😄 */
	{"\360\237\221\250\342\200\215\360\237\221\251\342\200\215\360\237\221\247\342\200\215\360\237\221\246 family \360\237\221\215\360\237\217\275 thumbs \360\237\217\263\357\270\217\342\200\215\360\237\214\210 flag \360\237\230\200\360\237\230\203\360\237\230\204", 1, 29, 40},
	/* 👋🏻👋🏼👋🏽👋🏾👋🏿 */
	{"\360\237\221\213\360\237\217\273\360\237\221\213\360\237\217\274\360\237\221\213\360\237\217\275\360\237\221\213\360\237\217\276\360\237\221\213\360\237\217\277", 1, 18, 30},
	{"int main(void)\n{\n\treturn printf(\"%d\\n\", 42);\n}\n", 1, 15, 15},
	{"def f(x):\n    return [i**2 for i in range(x) if i % 2 == 0]\n", 1, 25, 25},
	{"{\"role\": \"user\", \"content\": \"hi\", \"n\": [1, 2.5, -3e10, null, true]}", 1, 32, 32},
	{"   leading and trailing   ", 1, 5, 5},
	{"a  b   c    d\t\te\n\n\nf \n \n g", 1, 13, 13},
	{"\n\n\n\n", 1, 1, 1},
	{"\r\n\r\nline\r\n", 1, 3, 3},
	{"                                ", 1, 1, 1},
	{"1234567890123 42 3.14159 1,000,000", 1, 18, 18},
	/* ٣٤٥٦ १२३४ ๑๒๓ */
	{"\331\243\331\244\331\245\331\246 \340\245\247\340\245\250\340\245\251\340\245\252 \340\271\221\340\271\222\340\271\223", 1, 13, 24},
	{"https://example.com/path/to/file.html?q=1&r=two#frag", 1, 16, 16},
	{"CamelCaseIdentifier snake_case_name SCREAMING_CASE", 1, 10, 11},
	/* ÀÉÎÕÜ àéîõü ß ﬁ ǅ */
	{"\303\200\303\211\303\216\303\225\303\234 \303\240\303\251\303\256\303\265\303\274 \303\237 \357\254\201 \307\205", 1, 16, 18},
	/* <U+00A0>nbsp<U+2003>em<U+3000>ideo<U+180E>mongol<U+200B>zwsp */
	{"\302\240nbsp\342\200\203em\343\200\200ideo\341\240\216mongol\342\200\213zwsp", 1, 14, 15},
	/* x<U+2028>y<U+2029>z<U+0085>w */
	{"x\342\200\250y\342\200\251z\302\205w", 1, 9, 10},
	{"!!!??? ... --- *** /// \\\\", 1, 7, 7},
	/* e<U+0301> n<U+0303> a<U+0308> */
	{"e\314\201 n\314\203 a\314\210", 1, 6, 8},
	/* 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕄𝕒𝕥𝕙 ∀x∈ℝ: x²≥0 */
	{"\360\235\224\230\360\235\224\253\360\235\224\246\360\235\224\240\360\235\224\254\360\235\224\241\360\235\224\242 \360\235\225\204\360\235\225\222\360\235\225\245\360\235\225\231 \342\210\200x\342\210\210\342\204\235: x\302\262\342\211\2450", 1, 46, 45},
	/* Mixed: English, 中文, العربية, हिन्दी, ไทย, 😀 and code `x = y + 1;` */
	{"Mixed: English, \344\270\255\346\226\207, \330\247\331\204\330\271\330\261\330\250\331\212\330\251, \340\244\271\340\244\277\340\244\250\340\245\215\340\244\246\340\245\200, \340\271\204\340\270\227\340\270\242, \360\237\230\200 and code `x = y + 1;`", 1, 24, 37},
	{"a", 10000, 1250, 1250},
	{"abc", 3334, 3334, 3334},
	{"ab ", 500, 501, 501},
	/* 一 */
	{"\344\270\200", 2000, 2000, 2000},
	{" ", 5000, 40, 40},
	{"9", 1000, 334, 334},
    /* clang-format on */
};

static char *repeat_text(const char *unit, int times, size_t *len)
{
	size_t ul = strlen(unit), i;
	char *s = malloc(ul * (size_t)times + 1);

	assert_non_null(s);
	for (i = 0; i < (size_t)times; i++)
		memcpy(s + i * ul, unit, ul);
	*len = ul * (size_t)times;
	s[*len] = '\0';
	return s;
}

static void check_known(const char *enc, int o200k)
{
	tract_tokenizer *tok = need_table(enc);
	size_t i, len;
	int bad = 0;

	assert_string_equal(tok->source, o200k ? "tiktoken:o200k_base" : "tiktoken:cl100k_base");
	assert_true(tok->flags & TRACT_TOKENIZER_THREADSAFE);
	assert_int_equal(tok->version, TRACT_TOKENIZER_VERSION);
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		char *s = repeat_text(known[i].text, known[i].repeat, &len);
		int64_t want = o200k ? known[i].o200k : known[i].cl100k;
		int64_t got = tok->count(tok->self, s, len);
		if (got != want) {
			print_error("%s: entry %zu (%.40s x%d): got %lld, want %lld\n", enc, i,
			            known[i].text, known[i].repeat, (long long)got,
			            (long long)want);
			bad++;
		}
		/* through the public helper too */
		assert_int_equal(tok_count(tok, s, len), got);
		free(s);
	}
	assert_int_equal(bad, 0);
}

static void test_known_o200k(void **state)
{
	(void)state;
	check_known("o200k_base", 1);
}

static void test_known_cl100k(void **state)
{
	(void)state;
	check_known("cl100k_base", 0);
}

/* ------------------------------------------------------------------ */
/* invalid input, long words, repeatability                             */
/* ------------------------------------------------------------------ */

static void test_invalid_utf8(void **state)
{
	static const char *bad[] = {
	    "\xff",
	    "abc\x80",
	    "\xc0\xaf",
	    "\xe0\x80\xaf",
	    "\xed\xa0\x80",     /* surrogate */
	    "\xf4\x90\x80\x80", /* > U+10FFFF */
	    "ok \xe4\xbd",      /* truncated */
	    "\xc3",
	};
	tract_tokenizer *tok = need_table("o200k_base");
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tract_error_clear();
		assert_int_equal(tok->count(tok->self, bad[i], strlen(bad[i])), TRACT_EINVAL);
		assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
	}
	/* an embedded NUL is valid UTF-8: two pieces */
	assert_true(tok->count(tok->self, "a\0b", 3) > 0);
}

/* 100,000-character words (the pieces are one regex match each): counted
 * in reasonable time; expected values from tiktoken as above. */
static void test_long_words(void **state)
{
	static const char thai[] = "\340\270\252\340\270\247\340\270\261\340\270\252\340\270\224"
	                           "\340\270\265\340\270\212\340\270\262\340\270\247\340\271\202"
	                           "\340\270\245\340\270\201"; /* 12 chars, 36 bytes */
	const size_t n = 100000;
	char *s = malloc(3 * n + 1);
	tract_tokenizer *o = need_table("o200k_base");
	tract_tokenizer *c = need_table("cl100k_base");
	size_t i;

	(void)state;
	assert_non_null(s);
	/* "a" x 100000 */
	memset(s, 'a', n);
	assert_int_equal(o->count(o->self, s, n), 12500);
	assert_int_equal(c->count(c->self, s, n), 12500);
	/* letters ((i * 7919 + 13) % 26), no spaces */
	for (i = 0; i < n; i++)
		s[i] = (char)('a' + (i * 7919 + 13) % 26);
	assert_int_equal(o->count(o->self, s, n), 57693);
	assert_int_equal(c->count(c->self, s, n), 53846);
	/* 100000 Thai characters (300000 bytes), the cycle cut after 100000 */
	for (i = 0; i < 3 * n; i++)
		s[i] = thai[i % 36];
	assert_int_equal(o->count(o->self, s, 3 * n), 58334);
	assert_int_equal(c->count(c->self, s, 3 * n), 108333);
	free(s);
}

static const char mixed[] =
    "It's a test: \344\275\240\345\245\275 \331\205\330\261\330\255\330\250\330\247 "
    "\360\237\221\213\360\237\217\275 {\"k\": [1, 22, 333, 4444]}\n\n  trailing   ";

static void test_repeatable(void **state)
{
	tract_tokenizer *tok = need_table("o200k_base");
	int64_t a = tok->count(tok->self, mixed, strlen(mixed));

	(void)state;
	assert_true(a > 0);
	assert_int_equal(tok->count(tok->self, mixed, strlen(mixed)), a);
	/* the table is loaded once: the same counter comes back */
	assert_ptr_equal(tok_bpe("o200k_base"), tok);
}

typedef struct {
	tract_tokenizer *tok;
	int64_t want;
	int ok;
} thread_arg;

static void *count_thread(void *p)
{
	thread_arg *a = p;
	int i;

	a->ok = 1;
	for (i = 0; i < 200; i++)
		if (a->tok->count(a->tok->self, mixed, strlen(mixed)) != a->want)
			a->ok = 0;
	return NULL;
}

static void test_threads(void **state)
{
	tract_tokenizer *tok = need_table("o200k_base");
	pthread_t th[4];
	thread_arg args[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		args[i].tok = tok;
		args[i].want = tok->count(tok->self, mixed, strlen(mixed));
		assert_int_equal(pthread_create(&th[i], NULL, count_thread, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_true(args[i].ok);
	}
}

static void test_not_found(void **state)
{
	(void)state;
	tract_tokenizer *tok = tract_tokenizer_null();

	assert_int_equal(tract_tokenizer_bpe(&tok, "no_such_encoding"), TRACT_ENOTFOUND);
	assert_null(tok);
	assert_int_equal(tract_error_last()->code, TRACT_ENOTFOUND);
	tok = tract_tokenizer_null();
	assert_int_equal(tract_tokenizer_bpe(&tok, "../o200k_base"), TRACT_EINVAL);
	assert_null(tok);
	assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
	tok = tract_tokenizer_null();
	assert_int_equal(tract_tokenizer_bpe(&tok, NULL), TRACT_EINVAL);
	assert_null(tok);
}

/* ------------------------------------------------------------------ */
/* hand-made tables (no download needed)                                */
/* ------------------------------------------------------------------ */

static void b64(char *out, const char *bytes, size_t len)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)bytes, (int)len);
}

/* Bytes 0..255 at ranks 0..255, then extra tokens at 256, 257...; compact
 * ("! 0 ...") or line ("<b64> <rank>") form. */
static tract_bpe *small_table(const char *const *extra, size_t n_extra, int compact,
                              const char *pat)
{
	size_t cap = 65536, used = 0, i;
	char *ranks = malloc(cap), tok[64];
	cJSON *root = cJSON_CreateObject();
	char *json;
	tract_bpe *bpe = NULL;
	int rc;

	assert_non_null(ranks);
	if (compact)
		used += (size_t)snprintf(ranks, cap, "! 0");
	for (i = 0; i < 256 + n_extra; i++) {
		char byte = (char)i;
		if (i < 256)
			b64(tok, &byte, 1);
		else
			b64(tok, extra[i - 256], strlen(extra[i - 256]));
		if (compact)
			used += (size_t)snprintf(ranks + used, cap - used, " %s", tok);
		else
			used += (size_t)snprintf(ranks + used, cap - used, "%s %zu\n", tok, i);
	}
	cJSON_AddStringToObject(root, "pat_str", pat);
	cJSON_AddObjectToObject(root, "special_tokens");
	cJSON_AddStringToObject(root, "bpe_ranks", ranks);
	json = cJSON_PrintUnformatted(root);
	rc = tract_bpe_load_json(json, strlen(json), &bpe);
	if (rc != 0)
		fail_msg("load: %s", tract_error_last()->message);
	assert_int_equal(tract_bpe_size(bpe), 256 + n_extra);
	free(json);
	cJSON_Delete(root);
	free(ranks);
	return bpe;
}

static int64_t cnt(const tract_bpe *bpe, const char *s)
{
	return tract_bpe_count(bpe, s, strlen(s));
}

static void test_small_tables(void **state)
{
	/* "bc" outranks "ab": "abcde" merges b+c first (a|bc|d|e); merging
	 * a+b first would give ab|cd|e, then abcd|e */
	static const char *const ex1[] = {"bc", "ab", "cd", "abcd"};
	/* ties: "aa" merges leftmost first: "aaa" -> aa|a, then "aaa" */
	static const char *const ex2[] = {"aa", "aaa"};
	int compact;

	(void)state;
	for (compact = 0; compact <= 1; compact++) {
		tract_bpe *b1 = small_table(ex1, 4, compact, "\\S+|\\s+");
		tract_bpe *b2 = small_table(ex2, 2, compact, "[^\\s]+|\\s+");

		assert_int_equal(tract_bpe_rank(b1, "bc", 2), 256);
		assert_int_equal(tract_bpe_rank(b1, "abcd", 4), 259);
		assert_int_equal(tract_bpe_rank(b1, "cb", 2), -1);
		assert_int_equal(cnt(b1, "abcd"), 1);  /* the piece is a token */
		assert_int_equal(cnt(b1, "abcde"), 4); /* a|bc|d|e */
		assert_int_equal(cnt(b1, "cdab"), 2);  /* cd|ab */
		assert_int_equal(cnt(b1, "ab x"), 3);  /* ab|" "|x */
		assert_int_equal(cnt(b1, ""), 0);
		assert_int_equal(cnt(b2, "aaaa"), 2);    /* aa|aa */
		assert_int_equal(cnt(b2, "aaaaa"), 2);   /* aa|aa|a, then aa|aaa */
		assert_int_equal(cnt(b2, "aaa aaa"), 3); /* aaa|" "|aaa */
		tract_bpe_free(b1);
		tract_bpe_free(b2);
	}
}

static void test_bad_tables(void **state)
{
	static const char *const bad[] = {
	    "not json",
	    "{\"pat_str\": \"\\\\S+\"}",
	    "{\"pat_str\": \"\\\\S+\", \"bpe_ranks\": \"! 0 YQ== Yg==\"}", /* bytes missing */
	    "{\"pat_str\": \"\\\\S+\", \"bpe_ranks\": \"! x YQ==\"}",
	    "{\"pat_str\": \"\\\\S+\", \"bpe_ranks\": \"YQ== 0\\nY!== 1\"}",
	    "{\"pat_str\": \"\\\\S+\", \"bpe_ranks\": \"\"}",
	};
	size_t i;
	tract_bpe *bpe = (tract_bpe *)1;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tract_bpe_load_json(bad[i], strlen(bad[i]), &bpe), TRACT_ECORRUPT);
		assert_null(bpe);
	}
	assert_int_equal(tract_bpe_load("/nonexistent/x.json", &bpe), TRACT_ENOTFOUND);
}

/* ------------------------------------------------------------------ */
/* the binary table, .tiktoken files                                     */
/* ------------------------------------------------------------------ */

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Counts of a few texts under a table, to compare two loads of it. */
static void assert_same_counts(const tract_bpe *a, const tract_bpe *b)
{
	static const char *const texts[] = {
	    "abcde cdab", "aaaa aaaaa", "hello world, it's 12345 o'clock\r\n\t  x", "",
	    "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd"};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(cnt(a, texts[i]), cnt(b, texts[i]));
}

static void test_binary_table(void **state)
{
	static const char *const ex1[] = {"bc", "ab", "cd", "abcd"};
	char dir[] = "/tmp/tract-bpebin-XXXXXX", path[256], bad[256];
	tract_bpe *src, *back = NULL, *again = NULL;
	unsigned char *data;
	size_t len = 0, i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	src = small_table(ex1, 4, 1, "\\S+|\\s+");
	snprintf(path, sizeof(path), "%s/small.bin", dir);
	assert_int_equal(tract_bpe_save(src, path), 0);
	assert_int_equal(tract_bpe_load(path, &back), 0);
	assert_int_equal(tract_bpe_equal(src, back), 1);
	assert_int_equal(tract_bpe_size(back), 260);
	assert_int_equal(tract_bpe_rank(back, "abcd", 4), 259);
	assert_int_equal(cnt(back, "abcde"), 4);
	assert_same_counts(src, back);
	/* a table saved from a mapped table is the same file */
	snprintf(bad, sizeof(bad), "%s/again.bin", dir);
	assert_int_equal(tract_bpe_save(back, bad), 0);
	assert_int_equal(tract_bpe_load(bad, &again), 0);
	assert_int_equal(tract_bpe_equal(src, again), 1);
	tract_bpe_free(again);

	/* Corruptions: every one is refused with ECORRUPT, none crashes. */
	data = (unsigned char *)tu_read_file(path, &len);
	assert_non_null(data);
	snprintf(bad, sizeof(bad), "%s/bad.bin", dir);
	{
		struct {
			size_t off;   /* byte to change (SIZE_MAX: truncate instead) */
			unsigned char val;
			size_t trunc; /* bytes to keep when truncating */
		} cases[] = {
		    {0, 'X', 0},            /* magic */
		    {8, 2, 0},              /* version */
		    {12, 0xff, 0},          /* byte order */
		    {16, 0xff, 0},          /* n: more entries than the file holds */
		    {20, 0, 0},             /* max_len 0 */
		    {24, 3, 0},             /* cap not a power of two */
		    {SIZE_MAX, 0, 40},      /* shorter than the header */
		    {SIZE_MAX, 0, 0},       /* truncated by one byte (set below) */
		};
		cases[7].trunc = len - 1;
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			tract_bpe *b = (tract_bpe *)1;
			unsigned char keep = 0;
			if (cases[i].off == SIZE_MAX) {
				write_bytes(bad, data, cases[i].trunc);
			} else {
				keep = data[cases[i].off];
				data[cases[i].off] = cases[i].val;
				write_bytes(bad, data, len);
				data[cases[i].off] = keep;
			}
			assert_int_equal(tract_bpe_load(bad, &b), TRACT_ECORRUPT);
			assert_null(b);
			assert_non_null(strstr(tract_error_last()->message, bad));
		}
	}
	/* Entries and slots pointing outside their arrays: found by the
	 * bounds check. Entries start after the header and the pattern. */
	{
		size_t entries = (64 + strlen("\\S+|\\s+") + 1 + 7) & ~(size_t)7;
		uint32_t v;
		tract_bpe *b = (tract_bpe *)1;

		memcpy(&v, data + entries, 4);          /* entry 0: off */
		v = 0x7fffffff;
		memcpy(data + entries, &v, 4);
		write_bytes(bad, data, len);
		assert_int_equal(tract_bpe_load(bad, &b), TRACT_ECORRUPT);
		assert_null(b);
		free(data);
		data = (unsigned char *)tu_read_file(path, &len);
		/* a slot naming entry n+1: the slots follow the 260 entries */
		{
			size_t slots = (entries + 260 * 12 + 7) & ~(size_t)7, k;
			for (k = slots; k < slots + 4 * 1024; k += 4) {
				memcpy(&v, data + k, 4);
				if (v != 0)
					break;
			}
			v = 261;
			memcpy(data + k, &v, 4);
			write_bytes(bad, data, len);
			assert_int_equal(tract_bpe_load(bad, &b), TRACT_ECORRUPT);
			assert_null(b);
		}
	}
	free(data);

	/* .tiktoken rank files: the pattern of a known encoding is built in;
	 * an unknown one is refused with a clear message. */
	{
		char tk[256], line[64], tok[16];
		FILE *f;
		tract_bpe *b = NULL;
		snprintf(tk, sizeof(tk), "%s/cl100k_base.tiktoken", dir);
		f = fopen(tk, "w");
		assert_non_null(f);
		for (i = 0; i < 256; i++) {
			char byte = (char)i;
			b64(tok, &byte, 1);
			snprintf(line, sizeof(line), "%s %zu\n", tok, i);
			fputs(line, f);
		}
		b64(tok, "ab", 2);
		fprintf(f, "%s 256\n", tok);
		fclose(f);
		assert_int_equal(tract_bpe_load(tk, &b), 0);
		assert_int_equal(tract_bpe_size(b), 257);
		assert_int_equal(cnt(b, "abab's"), 4); /* ab|ab, then '|s */
		tract_bpe_free(b);
		snprintf(bad, sizeof(bad), "%s/p50k_base.tiktoken", dir);
		assert_int_equal(rename(tk, bad), 0);
		assert_int_equal(tract_bpe_load(bad, &b), TRACT_EINVAL);
		assert_non_null(strstr(tract_error_last()->message, "no pre-split pattern"));
		unlink(bad);
	}
	tract_bpe_free(back);
	tract_bpe_free(src);
	unlink(path);
	snprintf(path, sizeof(path), "%s/again.bin", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/bad.bin", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

/* The real tables: the binary form counts exactly like the JSON, and the
 * lookup prefers it. */
static void test_binary_real(void **state)
{
	const char *encs[] = {"o200k_base", "cl100k_base"};
	char dir[] = "/tmp/tract-bpereal-XXXXXX", bin[256], json[1024];
	size_t i, k;

	(void)state;
	need_table("o200k_base");
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < 2; i++) {
		tract_bpe *a = NULL, *b = NULL;
		const char *d;
		int found = 0;
		for (k = 0; k < 3 && !found; k++) {
			if (!(d = tract_bpe_search_dirs((int)k)) || !*d)
				continue;
			snprintf(json, sizeof(json), "%s/%s.json", d, encs[i]);
			found = access(json, R_OK) == 0;
		}
		if (!found)
			fail_msg("%s.json is in none of the table directories; run "
			         "scripts/fetch-encodings.sh BUILDDIR/data/encodings",
			         encs[i]);
		assert_int_equal(tract_bpe_load(json, &a), 0);
		snprintf(bin, sizeof(bin), "%s/%s.bin", dir, encs[i]);
		assert_int_equal(tract_bpe_save(a, bin), 0);
		assert_int_equal(tract_bpe_load(bin, &b), 0);
		assert_int_equal(tract_bpe_equal(a, b), 1);
		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
			size_t n = strlen(known[k].text) * (size_t)known[k].repeat, j;
			char *t = malloc(n + 1);
			assert_non_null(t);
			for (j = 0; j < (size_t)known[k].repeat; j++)
				memcpy(t + j * strlen(known[k].text), known[k].text,
				       strlen(known[k].text));
			t[n] = 0;
			assert_int_equal(tract_bpe_count(b, t, n),
			                 i == 0 ? known[k].o200k : known[k].cl100k);
			free(t);
		}
		tract_bpe_free(a);
		tract_bpe_free(b);
		unlink(bin);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* The lean merges of long pieces count as the heap merge: random pieces of
 * few letters (the layers) and of many (the lean heap), both tables. */
static void test_long_piece_merges(void **state)
{
	const char *encs[] = {"o200k_base", "cl100k_base"};
	const char *alphabets[] = {"a", "ab", "abcdefghij", "thequickbrownfx", "xyz"};
	unsigned seed = 7;
	size_t i, k;

	(void)state;
	need_table("o200k_base");
	for (i = 0; i < 2; i++) {
		tract_bpe *bpe = NULL;
		char json[1024];
		const char *d;
		size_t layered = 0;
		int found = 0;
		for (k = 0; k < 3 && !found; k++) {
			if (!(d = tract_bpe_search_dirs((int)k)) || !*d)
				continue;
			snprintf(json, sizeof(json), "%s/%s.json", d, encs[i]);
			found = access(json, R_OK) == 0;
		}
		assert_true(found);
		assert_int_equal(tract_bpe_load(json, &bpe), 0);
		for (k = 0; k < 60; k++) {
			const char *al = alphabets[k % 5];
			size_t n = 4096 + (size_t)(rand_r(&seed) % 20000), j;
			unsigned char *p = malloc(n);
			int64_t heap, lean, layers;
			assert_non_null(p);
			for (j = 0; j < n; j++)
				p[j] = (unsigned char)al[(size_t)rand_r(&seed) % strlen(al)];
			heap = tract_bpe_merge_test(bpe, p, n, 0);
			lean = tract_bpe_merge_test(bpe, p, n, 1);
			layers = tract_bpe_merge_test(bpe, p, n, 2);
			assert_true(heap > 0);
			assert_int_equal(lean, heap);
			if (layers != INT64_MIN) {
				assert_int_equal(layers, heap);
				layered++;
			}
			free(p);
		}
		assert_true(layered >= 12); /* every run of one letter at least */
		tract_bpe_free(bpe);
	}
}

static void test_names_and_models(void **state)
{
	static const struct {
		const char *model, *enc;
	} models[] = {
	    {"gpt-4o", "o200k_base"},         {"gpt-4o-mini-2024-07-18", "o200k_base"},
	    {"chatgpt-4o-latest", "o200k_base"}, {"gpt-4.1", "o200k_base"},
	    {"gpt-4.1-nano", "o200k_base"},   {"gpt-4.5-preview", "o200k_base"},
	    {"o1", "o200k_base"},             {"o1-mini", "o200k_base"},
	    {"o3", "o200k_base"},             {"o3-mini-high", "o200k_base"},
	    {"o4-mini", "o200k_base"},        {"gpt-5", "o200k_base"},
	    {"ft:gpt-4o-mini:org::abc", "o200k_base"}, {"openai/gpt-4o", "o200k_base"},
	    {"llama-3-70b", "o200k_base"},    {"", "o200k_base"},
	    {"gpt-4", "cl100k_base"},         {"GPT-4", "cl100k_base"},
	    {"gpt-4-turbo", "cl100k_base"},   {"gpt-4-0613", "cl100k_base"},
	    {"gpt-4-32k", "cl100k_base"},     {"gpt-3.5-turbo", "cl100k_base"},
	    {"gpt-3.5-turbo-16k-0613", "cl100k_base"}, {"gpt-35-turbo", "cl100k_base"},
	    {"ft:gpt-3.5-turbo-0613:org::id", "cl100k_base"}, {"openai/gpt-4", "cl100k_base"},
	    {"text-embedding-3-small", "cl100k_base"}, {"text-embedding-ada-002", "cl100k_base"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		if (strcmp(model_encoding(models[i].model), models[i].enc) != 0)
			fail_msg("model %s: got %s, want %s", models[i].model,
			         model_encoding(models[i].model), models[i].enc);
	assert_string_equal(model_encoding(NULL), "o200k_base");

	assert_ptr_equal(tok_get("estimate"), tract_tokenizer_estimate());
	assert_ptr_equal(tok_get("estimate:bytes/4"), tract_tokenizer_estimate());
	assert_ptr_equal(tok_get("null"), tract_tokenizer_null());
	{
		tract_tokenizer *tok = tract_tokenizer_null();

		assert_int_equal(tract_tokenizer_get(&tok, "p50k_base"), TRACT_EINVAL);
		assert_null(tok);
		assert_int_equal(tract_error_last()->code, TRACT_EINVAL);
		assert_non_null(strstr(tract_error_last()->message, "unknown encoding"));
		tok = tract_tokenizer_null();
		assert_true(tract_tokenizer_get(&tok, "../o200k_base") < 0);
		assert_null(tok);
		tok = tract_tokenizer_null();
		assert_true(tract_tokenizer_get(&tok, NULL) < 0);
		assert_null(tok);
	}
	if (tok_bpe("o200k_base")) {
		assert_ptr_equal(tok_get("o200k_base"), tok_bpe("o200k_base"));
		assert_ptr_equal(tok_get("tiktoken:o200k_base"), tok_bpe("o200k_base"));
		assert_ptr_equal(tok_for_model("gpt-4o"), tok_bpe("o200k_base"));
		/* the default counter is the exact one whenever the table is found */
		assert_ptr_equal(tok_default(), tok_bpe("o200k_base"));
		assert_string_equal(tok_default()->source, "tiktoken:o200k_base");
		assert_true(tok_default()->flags & TRACT_TOKENIZER_THREADSAFE);
	}
	if (tok_bpe("cl100k_base")) {
		assert_ptr_equal(tok_for_model("gpt-3.5-turbo"), tok_bpe("cl100k_base"));
		assert_int_equal(tok_count(tok_for_model("gpt-4"), "<|endoftext|>", 13), 7);
	}
}

/* ------------------------------------------------------------------ */
/* fixtures: compile token counts under the exact counter               */
/* ------------------------------------------------------------------ */

static void check_fixture(const char *root, const char *name, tract_tokenizer *tok)
{
	char src[1024], exp_path[1024], dir[] = "/tmp/tract-bpe-XXXXXX", db[1100], uri[1200];
	char *data, *json;
	size_t len = 0;
	cJSON *exp, *tr;
	tract_store *s = NULL;
	FILE *f;

	snprintf(src, sizeof(src), "%s/%s.db", root, name);
	snprintf(exp_path, sizeof(exp_path), "%s/%s.expected.json", root, name);
	data = tu_read_file(src, &len);
	json = tu_read_file(exp_path, NULL);
	if (!data || !json)
		fail_msg("fixture %s cannot be read (in %s): TRACT_FIXTURES must name "
		         "tests/fixtures/py-tract",
		         name, root);
	exp = cJSON_Parse(json);
	free(json);
	assert_non_null(exp);
	/* never open the original: opening migrates */
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/%s.db", dir, name);
	snprintf(uri, sizeof(uri), "sqlite:%s", db);
	f = fopen(db, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(data);

	if (tract_store_open(&s, uri, 0) != 0)
		fail_msg("%s: open: %s", name, tract_error_last()->message);
	cJSON_ArrayForEach(tr, cJSON_GetObjectItemCaseSensitive(exp, "tracts"))
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(tr, "tract_id");
		const cJSON *head = cJSON_GetObjectItemCaseSensitive(tr, "head_result");
		const cJSON *want = cJSON_GetObjectItemCaseSensitive(head, "compile");
		const cJSON *wtc = cJSON_GetObjectItemCaseSensitive(want, "token_count");
		tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
		tract_compile_options co = TRACT_COMPILE_OPTIONS_INIT;
		tract_context *ctx = NULL;
		tract *t = NULL;

		assert_true(cJSON_IsString(id) && cJSON_IsNumber(wtc));
		o.tokenizer = tok;
		if (tract_open(&t, s, id->valuestring, &o) != 0)
			fail_msg("%s: tract_open: %s", name, tract_error_last()->message);
		/* head_result.compile is the reference's own compile: merge messages */
		co.merge_messages = 1;
		if (tract_context_compile(&ctx, t, &co) != 0)
			fail_msg("%s: compile: %s", name, tract_error_last()->message);
		if (tract_context_token_count(ctx) != (int64_t)wtc->valuedouble)
			fail_msg("%s %s: token_count %lld, want %g", name, id->valuestring,
			         (long long)tract_context_token_count(ctx), wtc->valuedouble);
		assert_string_equal(tract_context_token_source(ctx), "tiktoken:o200k_base");
		tract_context_free(ctx);
		tract_free(t);
	}
	tract_store_free(s);
	cJSON_Delete(exp);
	tu_remove_dir(dir); /* the copy and its WAL side files */
}

static void test_fixture_counts(void **state)
{
	static const char *const names[] = {"v1_basic", "v2_basic", "v3_basic", "v4_basic"};
	const char *root = getenv("TRACT_FIXTURES");
	tract_tokenizer *tok = need_table("o200k_base");
	size_t i;

	(void)state;
	if (!root || !*root)
		fail_msg("TRACT_FIXTURES is unset: it must name tests/fixtures/py-tract "
		         "(meson test sets it)");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_fixture(root, names[i], tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_o200k),  cmocka_unit_test(test_known_cl100k),
	    cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_long_words),
	    cmocka_unit_test(test_repeatable),   cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_not_found),    cmocka_unit_test(test_small_tables),
	    cmocka_unit_test(test_bad_tables),   cmocka_unit_test(test_binary_table),
	    cmocka_unit_test(test_binary_real),  cmocka_unit_test(test_names_and_models),
	    cmocka_unit_test(test_fixture_counts), cmocka_unit_test(test_long_piece_merges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
