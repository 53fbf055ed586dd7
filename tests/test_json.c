/*
 * test_json.c - core/json.c: strict parsing with literal-preserving numbers,
 * the six byte-exact renderings of spec/core.md §2.1, the §2.5 canonical
 * strings, escaping, sorting, equality and every parse rejection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "content.h"
#include "json.h"
#include "tract/common.h"

/* ------------------------------------------------------------------ */
/* helpers (report the caller's line)                                  */
/* ------------------------------------------------------------------ */

static cJSON *parse_at(const char *file, int line, const char *in, size_t len, unsigned flags)
{
	char err[256] = "";
	cJSON *j = NULL;
	int rc = tract_json_parse(&j, in, len, flags, err, sizeof(err));

	if (rc != 0 || !j) {
		print_error("%s:%d: parse of '%s' failed (%d): %s\n", file, line, in, rc, err);
		_fail(file, line);
	}
	return j;
}

#define parse_ok(in) parse_at(__FILE__, __LINE__, (in), strlen(in), 0)
#define parse_flags(in, fl) parse_at(__FILE__, __LINE__, (in), strlen(in), (fl))

static void expect_str_at(const char *file, int line, const char *what, char *got, const char *exp)
{
	if (!got || strcmp(got, exp) != 0) {
		print_error("%s:%d: %s\n   got: %s\n  want: %s\n", file, line, what,
		            got ? got : "(null)", exp);
		free(got);
		_fail(file, line);
	}
	free(got);
}

static void render_at(const char *file, int line, const char *in, unsigned flags,
                      tract_json_style st, const char *exp)
{
	cJSON *j = parse_at(file, line, in, strlen(in), flags);
	char *s = tract_json_render_str(j, st);

	cJSON_Delete(j);
	expect_str_at(file, line, in, s, exp);
}

#define check_render(in, st, exp) render_at(__FILE__, __LINE__, (in), 0, (st), (exp))
#define check_canon(in, exp) render_at(__FILE__, __LINE__, (in), 0, TRACT_JSON_CANON, (exp))

static void reject_at(const char *file, int line, const char *in, size_t len, unsigned flags,
                      const char *msg)
{
	char err[256] = "";
	cJSON *j = (cJSON *)1;
	int rc = tract_json_parse(&j, in, len, flags, err, sizeof(err));

	if (rc != TRACT_EINVAL || j != NULL || strstr(err, msg) == NULL) {
		print_error("%s:%d: input '%.*s': rc %d, err '%s', want TRACT_EINVAL and '%s'\n",
		            file, line, (int)len, in, rc, err, msg);
		if (rc == 0)
			cJSON_Delete(j);
		_fail(file, line);
	}
}

#define check_reject(in, msg) reject_at(__FILE__, __LINE__, (in), strlen(in), 0, (msg))
#define check_reject_len(in, len, msg) reject_at(__FILE__, __LINE__, (in), (len), 0, (msg))

static void repr_at(const char *file, int line, double d, const char *exp)
{
	char out[48];

	tract_json_float_repr(out, sizeof(out), d);
	expect_str_at(file, line, exp, strdup(out), exp);
}

#define check_repr(d, exp) repr_at(__FILE__, __LINE__, (d), (exp))

static char *esc(const char *s, size_t len, int ascii)
{
	tract_buf b = TRACT_BUF_INIT;

	assert_int_equal(tract_json_escape(&b, s, len, ascii), 0);
	return tract_buf_detach(&b);
}

#define check_escape(s, ascii, exp)                                                                \
	expect_str_at(__FILE__, __LINE__, "escape", esc((s), sizeof(s) - 1, (ascii)), (exp))

/* A string of depth nested arrays: "[[[...]]]". */
static char *nested(int depth)
{
	char *s = malloc((size_t)depth * 2 + 1);
	int i;

	assert_non_null(s);
	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[2 * depth - 1 - i] = ']';
	}
	s[2 * depth] = '\0';
	return s;
}

/* depth nested objects: {"a":{"a":...1}} */
static char *nested_obj(int depth)
{
	size_t n = (size_t)depth, k = 0, i;
	char *s = malloc(n * 6 + 2);

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		memcpy(s + k, "{\"a\":", 5);
		k += 5;
	}
	s[k++] = '1';
	memset(s + k, '}', n);
	k += n;
	s[k] = '\0';
	return s;
}

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */
/* ------------------------------------------------------------------ */

static void test_utf8_valid(void **state)
{
	(void)state;
	assert_true(tract_utf8_valid("", 0));
	assert_true(tract_utf8_valid("plain ascii", 11));
	assert_true(tract_utf8_valid("\0", 1));
	assert_true(tract_utf8_valid("\xC2\x80", 2));         /* U+0080 */
	assert_true(tract_utf8_valid("\xC3\xA9", 2));         /* é */
	assert_true(tract_utf8_valid("\xE0\xA0\x80", 3));     /* U+0800 */
	assert_true(tract_utf8_valid("\xED\x9F\xBF", 3));     /* U+D7FF */
	assert_true(tract_utf8_valid("\xEE\x80\x80", 3));     /* U+E000 */
	assert_true(tract_utf8_valid("\xEF\xBF\xBF", 3));     /* U+FFFF */
	assert_true(tract_utf8_valid("\xF0\x90\x80\x80", 4)); /* U+10000 */
	assert_true(tract_utf8_valid("\xF4\x8F\xBF\xBF", 4)); /* U+10FFFF */

	assert_false(tract_utf8_valid("\x80", 1));             /* stray continuation */
	assert_false(tract_utf8_valid("\xC0\xAF", 2));         /* overlong '/' */
	assert_false(tract_utf8_valid("\xC1\xBF", 2));         /* overlong */
	assert_false(tract_utf8_valid("\xE0\x80\xAF", 3));     /* overlong */
	assert_false(tract_utf8_valid("\xE0\x9F\xBF", 3));     /* overlong U+07FF */
	assert_false(tract_utf8_valid("\xF0\x8F\xBF\xBF", 4)); /* overlong U+FFFF */
	assert_false(tract_utf8_valid("\xED\xA0\x80", 3));     /* U+D800 */
	assert_false(tract_utf8_valid("\xED\xBF\xBF", 3));     /* U+DFFF */
	assert_false(tract_utf8_valid("\xF4\x90\x80\x80", 4)); /* U+110000 */
	assert_false(tract_utf8_valid("\xF5\x80\x80\x80", 4));
	assert_false(tract_utf8_valid("\xFE", 1));
	assert_false(tract_utf8_valid("\xFF", 1));
	assert_false(tract_utf8_valid("\xE2\x82", 2));          /* truncated */
	assert_false(tract_utf8_valid("\xF0\x9F\x98", 3));      /* truncated */
	assert_false(tract_utf8_valid("\xE2\x82\xAC", 2));      /* cut by len */
	assert_false(tract_utf8_valid("a\xF0\x9F\x98\x80", 4)); /* cut by len */
	assert_false(tract_utf8_valid("\xC3(", 2));             /* bad continuation */
	assert_false(tract_utf8_valid("ok\xE2\x82\xACok\xC3", 9));
	/* the length is honoured: the bad byte lies beyond it */
	assert_true(tract_utf8_valid("ab\xFF", 2));
}

static void test_reject_invalid_utf8(void **state)
{
	(void)state;
	check_reject("\"ab\xC0\xAF\"", "invalid UTF-8 at byte 3");
	check_reject("\"\xE0\x80\xAF\"", "invalid UTF-8 at byte 1");
	check_reject("[\"\xED\xA0\x80\"]", "invalid UTF-8 at byte 2");
	check_reject("\"\xF4\x90\x80\x80\"", "invalid UTF-8 at byte 1");
	check_reject("\"\xE2\x82\"", "invalid UTF-8 at byte 1");
	check_reject("\"abc\xE2\x82", "invalid UTF-8 at byte 4");
	check_reject("{\"k\xFF\":1}", "invalid UTF-8 at byte 3");
	check_reject("\"\x80\"", "invalid UTF-8 at byte 1");
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */
/* ------------------------------------------------------------------ */

static void test_float_repr(void **state)
{
	(void)state;
	check_repr(0.5, "0.5");
	check_repr(100.0, "100.0");
	check_repr(0.0001, "0.0001");
	check_repr(-0.0, "-0.0");
	check_repr(0.0, "0.0");
	check_repr(1e-05, "1e-05");
	check_repr(1.5e-07, "1.5e-07");
	check_repr(1e16, "1e+16");
	check_repr(1.2345678901234568e+17, "1.2345678901234568e+17");
	check_repr(1234567890123456.0, "1234567890123456.0"); /* x = 15: fixed */
	check_repr(9999999999999998.0, "9999999999999998.0");
	check_repr(0.1, "0.1");
	check_repr(0.1 + 0.2, "0.30000000000000004");
	check_repr(-2.5, "-2.5");
	check_repr(1.0 / 3.0, "0.3333333333333333");
	check_repr(5e-324, "5e-324");
	check_repr(1.7976931348623157e+308, "1.7976931348623157e+308");
	check_repr(2.2250738585072014e-308, "2.2250738585072014e-308");
	check_repr(1e22, "1e+22");
	check_repr(1e100, "1e+100");
	check_repr(123e-20, "1.23e-18");
	check_repr(0.00012345, "0.00012345");
	/* powers of two with a lopsided rounding interval (Python picks the
	 * neighbour of the correctly rounded 16-digit string) */
	check_repr(7.120236347223045e-307, "7.120236347223045e-307");
	check_repr(5.858190679279809e-244, "5.858190679279809e-244");
	check_repr(9007199254740992.0, "9007199254740992.0");
	check_repr(18014398509481984.0, "1.8014398509481984e+16");
}

/* The float and integer examples of spec §2.1, through parse -> render. */
static void test_number_literals(void **state)
{
	(void)state;
	check_canon("0.5", "0.5");
	check_canon("100.0", "100.0");
	check_canon("100.000", "100.0");
	check_canon("0.0001", "0.0001");
	check_canon("-0.0", "-0.0");
	check_canon("0.00001", "1e-05");
	check_canon("1e-5", "1e-05");
	check_canon("1.5e-7", "1.5e-07");
	check_canon("0.00000015", "1.5e-07");
	check_canon("1e16", "1e+16");
	check_canon("10000000000000000.0", "1e+16");
	check_canon("123456789012345678.0", "1.2345678901234568e+17");
	check_canon("100000000000000000000", "100000000000000000000");
	check_canon("18446744073709551617", "18446744073709551617");
	check_canon("-18446744073709551617", "-18446744073709551617");
	check_canon("-0", "0");
	check_canon("0", "0");
	check_canon("-12", "-12");
	check_canon("1.0", "1.0");
	check_canon("1E5", "100000.0");
	check_canon("1e+2", "100.0");
	check_canon("2.5E-3", "0.0025");
	check_canon("0e0", "0.0");
	check_canon("-0e5", "-0.0");
	check_canon("5e-324", "5e-324");
	check_canon("1.7976931348623157e+308", "1.7976931348623157e+308");
	check_canon("1e-400", "0.0");
	check_canon("12345678901234567890.5", "1.2345678901234567e+19");
	check_canon("[1, 2.50, -3e0]", "[1,2.5,-3.0]");
	/* longer than cJSON's internal number buffer */
	check_canon("0.10000000000000000000000000000000000000000000000000000000000000000000000001",
	            "0.1");
	{
		char big[402];

		big[0] = '-';
		memset(big + 1, '7', 400);
		big[401] = '\0';
		check_canon(big, big);
	}
}

/* Literals are matched to their items in document order. */
static void test_number_document_order(void **state)
{
	cJSON *j;

	(void)state;
	check_canon("{\"b\":[1.50,{\"c\":-0,\"d\":2e0}],\"a\":10,\"e\":[[3],[4.0]]}",
	            "{\"a\":10,\"b\":[1.5,{\"c\":0,\"d\":2.0}],\"e\":[[3],[4.0]]}");
	/* numbers inside strings and escaped quotes must not count */
	check_canon("[\"1\\\"2\", 3, \"\\\\\", 4.0, \"5e5\", {\"6\": 7}]",
	            "[\"1\\\"2\",3,\"\\\\\",4.0,\"5e5\",{\"6\":7}]");

	j = parse_ok("[3, 2.5, 1e10, -7, 100000000000000000000]");
	assert_int_equal(cJSON_GetArraySize(j), 5);
	assert_true(cJSON_GetArrayItem(j, 0)->valuedouble == 3.0);
	assert_int_equal(cJSON_GetArrayItem(j, 0)->valueint, 3);
	assert_true(cJSON_GetArrayItem(j, 1)->valuedouble == 2.5);
	assert_int_equal(cJSON_GetArrayItem(j, 1)->valueint, 2);
	assert_true(cJSON_GetArrayItem(j, 2)->valuedouble == 1e10);
	assert_int_equal(cJSON_GetArrayItem(j, 2)->valueint, 2147483647);
	assert_int_equal(cJSON_GetArrayItem(j, 3)->valueint, -7);
	assert_true(cJSON_GetArrayItem(j, 4)->valuedouble == 1e20);
	assert_string_equal(cJSON_GetArrayItem(j, 4)->valuestring, "100000000000000000000");
	cJSON_Delete(j);
}

static void test_is_int(void **state)
{
	cJSON *j, *n;

	(void)state;
	j = parse_ok("[1, 1.0, 1e2, -0, 100000000000000000000, 2E0, \"1\", null, 1e16]");
	assert_true(tract_json_is_int(cJSON_GetArrayItem(j, 0)));
	assert_false(tract_json_is_int(cJSON_GetArrayItem(j, 1)));
	assert_false(tract_json_is_int(cJSON_GetArrayItem(j, 2)));
	assert_true(tract_json_is_int(cJSON_GetArrayItem(j, 3)));
	assert_true(tract_json_is_int(cJSON_GetArrayItem(j, 4)));
	assert_false(tract_json_is_int(cJSON_GetArrayItem(j, 5)));
	assert_false(tract_json_is_int(cJSON_GetArrayItem(j, 6)));
	assert_false(tract_json_is_int(cJSON_GetArrayItem(j, 7)));
	assert_false(tract_json_is_int(cJSON_GetArrayItem(j, 8)));
	assert_string_equal(cJSON_GetArrayItem(j, 8)->valuestring, "1e+16");
	assert_false(tract_json_is_int(NULL));
	cJSON_Delete(j);

	n = cJSON_CreateNumber(3);
	assert_true(tract_json_is_int(n));
	cJSON_Delete(n);
	n = cJSON_CreateNumber(3.5);
	assert_false(tract_json_is_int(n));
	cJSON_Delete(n);
}

static void test_constructors(void **state)
{
	cJSON *n;

	(void)state;
	n = tract_json_new_int(INT64_MIN);
	assert_non_null(n);
	assert_string_equal(n->valuestring, "-9223372036854775808");
	assert_true(tract_json_is_int(n));
	cJSON_Delete(n);

	n = tract_json_new_int(INT64_MAX);
	expect_str_at(__FILE__, __LINE__, "new_int", tract_json_render_str(n, TRACT_JSON_CANON),
	              "9223372036854775807");
	cJSON_Delete(n);

	n = tract_json_new_float(1.0);
	assert_string_equal(n->valuestring, "1.0");
	assert_false(tract_json_is_int(n));
	assert_true(n->valuedouble == 1.0);
	cJSON_Delete(n);

	n = tract_json_new_float(1e16);
	expect_str_at(__FILE__, __LINE__, "new_float", tract_json_render_str(n, TRACT_JSON_CANON),
	              "1e+16");
	cJSON_Delete(n);

	n = tract_json_new_float(-0.0);
	assert_string_equal(n->valuestring, "-0.0");
	cJSON_Delete(n);
}

/* Number items built by plain cJSON_CreateNumber carry no literal. */
static void test_numbers_without_literal(void **state)
{
	static const struct {
		double d;
		const char *exp;
	} cases[] = {
	    {3, "3"},
	    {-42, "-42"},
	    {-0.0, "0"},
	    {0.5, "0.5"},
	    {9007199254740992.0, "9007199254740992"},
	    {-9007199254740992.0, "-9007199254740992"},
	    {18014398509481984.0, "1.8014398509481984e+16"},
	    {1e20, "1e+20"},
	    {1e-7, "1e-07"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *n = cJSON_CreateNumber(cases[i].d);

		assert_null(n->valuestring);
		expect_str_at(__FILE__, __LINE__, cases[i].exp,
		              tract_json_render_str(n, TRACT_JSON_STORE), cases[i].exp);
		cJSON_Delete(n);
	}
}

/* ------------------------------------------------------------------ */
/* Escaping                                                            */
/* ------------------------------------------------------------------ */

static void test_escape_controls(void **state)
{
	static const char all[] =
	    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
	    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f";
	static const char want[] =
	    "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
	    "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
	    "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"";

	(void)state;
	check_escape(all, 0, want);
	check_escape(all, 1, want);
	check_escape("\"\\/", 0, "\"\\\"\\\\/\"");
	check_escape("\"\\/", 1, "\"\\\"\\\\/\"");
	check_escape(" ~", 1, "\" ~\"");
	check_escape("", 0, "\"\"");
}

static void test_escape_non_ascii(void **state)
{
	(void)state;
	/* U+007F and U+2028 are not escaped in the raw styles */
	check_escape("\x7f", 0, "\"\x7f\"");
	check_escape("\x7f", 1, "\"\\u007f\"");
	check_escape("\xE2\x80\xA8", 0, "\"\xE2\x80\xA8\"");
	check_escape("\xE2\x80\xA8", 1, "\"\\u2028\"");
	check_escape("caf\xC3\xA9", 0, "\"caf\xC3\xA9\"");
	check_escape("caf\xC3\xA9", 1, "\"caf\\u00e9\"");
	check_escape("\xC2\x80", 1, "\"\\u0080\"");
	check_escape("\xEF\xBD\xA1", 1, "\"\\uff61\"");
	check_escape("\xEF\xBF\xBF", 1, "\"\\uffff\"");
	/* astral code points become surrogate pairs, lowercase hex */
	check_escape("\xF0\x9F\x98\x80", 1, "\"\\ud83d\\ude00\"");
	check_escape("\xF0\x9F\x98\x80", 0, "\"\xF0\x9F\x98\x80\"");
	check_escape("\xF0\x90\x80\x80", 1, "\"\\ud800\\udc00\"");
	check_escape("\xF4\x8F\xBF\xBF", 1, "\"\\udbff\\udfff\"");
	check_escape("a\xF0\x9F\x98\x80"
	             "b\n",
	             1, "\"a\\ud83d\\ude00b\\n\"");
	/* bytes that are not UTF-8 come out as U+FFFD */
	check_escape("a\xFF"
	             "b",
	             1, "\"a\\ufffdb\"");
	check_escape("a\xFF"
	             "b",
	             0,
	             "\"a\xEF\xBF\xBD"
	             "b\"");
}

/* Escapes in the input decode to UTF-8 and render per style. */
static void test_string_escapes_roundtrip(void **state)
{
	(void)state;
	check_canon("\"\\u00e9\\u00E9\\/\\b\\f\\n\\r\\t\\\"\\\\\\u0001\\u001F\"",
	            "\"\xC3\xA9\xC3\xA9/\\b\\f\\n\\r\\t\\\"\\\\\\u0001\\u001f\"");
	check_canon("\"\\uD83D\\uDE00\"", "\"\xF0\x9F\x98\x80\"");
	check_render("\"\\ud83d\\ude00\"", TRACT_JSON_TOKEN, "\"\\ud83d\\ude00\"");
	check_render("\"\xF0\x9F\x98\x80\"", TRACT_JSON_COLUMN, "\"\\ud83d\\ude00\"");
	check_canon("\"\\u007f\\u2028\"", "\"\x7f\xE2\x80\xA8\"");
	check_render("\"\x7f\xE2\x80\xA8\"", TRACT_JSON_FLAT, "\"\\u007f\\u2028\"");
}

/* ------------------------------------------------------------------ */
/* Renderings                                                          */
/* ------------------------------------------------------------------ */

static const char styles_src[] =
    "{\"b\":[1,2.5,{\"z\":null,\"y\":false}],\"a\":\"\\u00e9\\n/\\u007f\\u2028\","
    "\"c\":{},\"d\":[],\"e\":[[]],\"f\":{\"g\":{}},\"h\":true}";

static void test_style_canon(void **state)
{
	(void)state;
	check_render(
	    styles_src, TRACT_JSON_CANON,
	    "{\"a\":\"\xC3\xA9\\n/\x7f\xE2\x80\xA8\",\"b\":[1,2.5,{\"y\":false,\"z\":null}],"
	    "\"c\":{},\"d\":[],\"e\":[[]],\"f\":{\"g\":{}},\"h\":true}");
}

static void test_style_store(void **state)
{
	(void)state;
	check_render(styles_src, TRACT_JSON_STORE,
	             "{\"a\": \"\xC3\xA9\\n/\x7f\xE2\x80\xA8\", \"b\": [1, 2.5, {\"y\": false, "
	             "\"z\": null}], \"c\": {}, \"d\": [], \"e\": [[]], \"f\": {\"g\": {}}, "
	             "\"h\": true}");
}

static void test_style_column_flat(void **state)
{
	static const char want[] =
	    "{\"b\": [1, 2.5, {\"z\": null, \"y\": false}], \"a\": \"\\u00e9\\n/\\u007f\\u2028\", "
	    "\"c\": {}, \"d\": [], \"e\": [[]], \"f\": {\"g\": {}}, \"h\": true}";

	(void)state;
	check_render(styles_src, TRACT_JSON_COLUMN, want);
	check_render(styles_src, TRACT_JSON_FLAT, want);
}

static void test_style_token(void **state)
{
	(void)state;
	check_render(styles_src, TRACT_JSON_TOKEN,
	             "{\"a\": \"\\u00e9\\n/\\u007f\\u2028\", \"b\": [1, 2.5, {\"y\": false, "
	             "\"z\": null}], \"c\": {}, \"d\": [], \"e\": [[]], \"f\": {\"g\": {}}, "
	             "\"h\": true}");
}

static void test_style_pretty(void **state)
{
	(void)state;
	check_render(styles_src, TRACT_JSON_PRETTY,
	             "{\n"
	             "  \"b\": [\n"
	             "    1,\n"
	             "    2.5,\n"
	             "    {\n"
	             "      \"z\": null,\n"
	             "      \"y\": false\n"
	             "    }\n"
	             "  ],\n"
	             "  \"a\": \"\\u00e9\\n/\\u007f\\u2028\",\n"
	             "  \"c\": {},\n"
	             "  \"d\": [],\n"
	             "  \"e\": [\n"
	             "    []\n"
	             "  ],\n"
	             "  \"f\": {\n"
	             "    \"g\": {}\n"
	             "  },\n"
	             "  \"h\": true\n"
	             "}");
	/* the example of spec §2.1 */
	check_render(
	    "{\"a\":[1,{\"b\":2}],\"k\":\"v\"}", TRACT_JSON_PRETTY,
	    "{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ],\n  \"k\": \"v\"\n}");
	check_render("{}", TRACT_JSON_PRETTY, "{}");
	check_render("[]", TRACT_JSON_PRETTY, "[]");
	check_render("\"x\"", TRACT_JSON_PRETTY, "\"x\"");
	check_render("[[1]]", TRACT_JSON_PRETTY, "[\n  [\n    1\n  ]\n]");
}

static void test_scalars_all_styles(void **state)
{
	static const tract_json_style all[] = {TRACT_JSON_CANON,  TRACT_JSON_STORE,
	                                       TRACT_JSON_COLUMN, TRACT_JSON_TOKEN,
	                                       TRACT_JSON_PRETTY, TRACT_JSON_FLAT};
	size_t i;

	(void)state;
	for (i = 0; i < 6; i++) {
		check_render("null", all[i], "null");
		check_render(" true ", all[i], "true");
		check_render("false", all[i], "false");
		check_render("-1.5E+3", all[i], "-1500.0");
		check_render("\"\"", all[i], "\"\"");
		check_render("{}", all[i], "{}");
		check_render("[]", all[i], "[]");
	}
}

/* Canonical strings of spec §2.5. */
static void test_spec_vectors(void **state)
{
	static const char tool_canon[] =
	    "{\"content_type\":\"tool_io\",\"direction\":\"call\",\"payload\":"
	    "{\"a\":\"\xC3\xA9\",\"b\":1},\"status\":null,\"tool_name\":\"calc\"}";
	static const char tool_store[] =
	    "{\"content_type\": \"tool_io\", \"direction\": \"call\", \"payload\": "
	    "{\"a\": \"\xC3\xA9\", \"b\": 1}, \"status\": null, \"tool_name\": \"calc\"}";
	cJSON *j;
	char *s;

	(void)state;
	j = parse_ok("{\"tool_name\": \"calc\", \"direction\": \"call\", \"payload\": "
	             "{\"b\": 1, \"a\": \"\xC3\xA9\"}, \"content_type\": \"tool_io\", "
	             "\"status\": null}");
	expect_str_at(__FILE__, __LINE__, "tool_io canon",
	              tract_json_render_str(j, TRACT_JSON_CANON), tool_canon);
	s = tract_json_render_str(j, TRACT_JSON_STORE);
	assert_non_null(s);
	assert_int_equal(strlen(s), 117);
	expect_str_at(__FILE__, __LINE__, "tool_io store", s, tool_store);
	cJSON_Delete(j);

	/* canonical text is a fixed point */
	check_canon(tool_canon, tool_canon);

	check_canon("{\"text\":\"You are helpful.\",\"content_type\":\"instruction\"}",
	            "{\"content_type\":\"instruction\",\"text\":\"You are helpful.\"}");
	j = parse_ok("{\"text\":\"You are helpful.\",\"content_type\":\"instruction\"}");
	s = tract_json_render_str(j, TRACT_JSON_STORE);
	assert_int_equal(strlen(s), 59);
	expect_str_at(__FILE__, __LINE__, "instruction store", s,
	              "{\"content_type\": \"instruction\", \"text\": \"You are helpful.\"}");
	cJSON_Delete(j);

	j = parse_ok(
	    "{\"role\":\"user\",\"text\":\"Hi\",\"content_type\":\"dialogue\",\"name\":null}");
	expect_str_at(
	    __FILE__, __LINE__, "dialogue canon", tract_json_render_str(j, TRACT_JSON_CANON),
	    "{\"content_type\":\"dialogue\",\"name\":null,\"role\":\"user\",\"text\":\"Hi\"}");
	s = tract_json_render_str(j, TRACT_JSON_STORE);
	assert_int_equal(strlen(s), 72);
	free(s);
	cJSON_Delete(j);

	check_canon(
	    "{\"timestamp_iso\":\"2024-01-02T03:04:05.123456+00:00\",\"parent_hash\":null,"
	    "\"operation\":\"append\",\"content_type\":\"instruction\",\"content_hash\":\"x\"}",
	    "{\"content_hash\":\"x\",\"content_type\":\"instruction\",\"operation\":\"append\","
	    "\"parent_hash\":null,\"timestamp_iso\":\"2024-01-02T03:04:05.123456+00:00\"}");
}

/* Sorted means UTF-8 byte (= code point) order, not UTF-16 order. */
static void test_sort_code_point_order(void **state)
{
	static const char src[] =
	    "{\"\\ud83d\\ude00\":1,\"\\uff61\":2,\"\\u00e9\":3,\"z\":4,\"a\":5,"
	    "\"Z\":6,\"\":7,\"aa\":8}";

	(void)state;
	check_render(src, TRACT_JSON_CANON,
	             "{\"\":7,\"Z\":6,\"a\":5,\"aa\":8,\"z\":4,\"\xC3\xA9\":3,\"\xEF\xBD\xA1\":2,"
	             "\"\xF0\x9F\x98\x80\":1}");
	check_render(src, TRACT_JSON_TOKEN,
	             "{\"\": 7, \"Z\": 6, \"a\": 5, \"aa\": 8, \"z\": 4, \"\\u00e9\": 3, "
	             "\"\\uff61\": 2, \"\\ud83d\\ude00\": 1}");
	/* given order is kept by COLUMN */
	check_render(src, TRACT_JSON_COLUMN,
	             "{\"\\ud83d\\ude00\": 1, \"\\uff61\": 2, \"\\u00e9\": 3, \"z\": 4, \"a\": 5, "
	             "\"Z\": 6, \"\": 7, \"aa\": 8}");
}

/* Rendering sorted must not reorder the tree; more than 16 members too. */
static void test_render_does_not_mutate(void **state)
{
	cJSON *j = parse_ok("{\"q\":1,\"p\":2,\"o\":3,\"n\":4,\"m\":5,\"l\":6,\"k\":7,\"j\":8,"
	                    "\"i\":9,\"h\":10,\"g\":11,\"f\":12,\"e\":13,\"d\":14,\"c\":15,"
	                    "\"b\":16,\"a\":17}");
	cJSON *first = j->child;

	(void)state;
	expect_str_at(
	    __FILE__, __LINE__, "canon 17", tract_json_render_str(j, TRACT_JSON_CANON),
	    "{\"a\":17,\"b\":16,\"c\":15,\"d\":14,\"e\":13,\"f\":12,\"g\":11,\"h\":10,\"i\":9,"
	    "\"j\":8,\"k\":7,\"l\":6,\"m\":5,\"n\":4,\"o\":3,\"p\":2,\"q\":1}");
	assert_ptr_equal(j->child, first);
	assert_string_equal(j->child->string, "q");
	expect_str_at(__FILE__, __LINE__, "column 17", tract_json_render_str(j, TRACT_JSON_FLAT),
	              "{\"q\": 1, \"p\": 2, \"o\": 3, \"n\": 4, \"m\": 5, \"l\": 6, \"k\": 7, "
	              "\"j\": 8, \"i\": 9, \"h\": 10, \"g\": 11, \"f\": 12, \"e\": 13, \"d\": 14, "
	              "\"c\": 15, \"b\": 16, \"a\": 17}");
	cJSON_Delete(j);
}

static void test_render_appends(void **state)
{
	tract_buf b = TRACT_BUF_INIT;
	cJSON *j = parse_ok("{\"b\":1,\"a\":[true]}");

	(void)state;
	assert_int_equal(tract_buf_puts(&b, "x="), 0);
	assert_int_equal(tract_json_render(&b, j, TRACT_JSON_STORE), 0);
	assert_string_equal(b.ptr, "x={\"a\": [true], \"b\": 1}");
	assert_int_equal(b.len, strlen(b.ptr));
	/* a member renders as its value alone, without its key */
	tract_buf_clear(&b);
	assert_int_equal(tract_json_render(&b, cJSON_GetObjectItem(j, "a"), TRACT_JSON_CANON), 0);
	assert_string_equal(b.ptr, "[true]");
	tract_buf_dispose(&b);
	cJSON_Delete(j);
}

/* ------------------------------------------------------------------ */
/* sort, equal, dup, cJSON ownership of valuestring                    */
/* ------------------------------------------------------------------ */

static void test_sort_in_place(void **state)
{
	cJSON *j = parse_ok("{\"c\":{\"y\":1,\"x\":[{\"b\":1,\"a\":2}]},\"a\":0,\"b\":[3,1,2]}");
	cJSON *o, *d;

	(void)state;
	tract_json_sort(j);
	expect_str_at(
	    __FILE__, __LINE__, "sorted", tract_json_render_str(j, TRACT_JSON_COLUMN),
	    "{\"a\": 0, \"b\": [3, 1, 2], \"c\": {\"x\": [{\"a\": 2, \"b\": 1}], \"y\": 1}}");
	/* the list stays well formed: first->prev is the last, last->next NULL,
	 * and every prev link mirrors a next link */
	assert_string_equal(j->child->prev->string, "c");
	assert_null(j->child->prev->next);
	assert_ptr_equal(j->child->next->prev, j->child);
	assert_ptr_equal(j->child->next->next->prev, j->child->next);
	assert_ptr_equal(j->child->next->next, j->child->prev);
	d = cJSON_DetachItemFromObject(j, "b");
	assert_non_null(d);
	cJSON_Delete(d);
	cJSON_AddNumberToObject(j, "z", 9);
	expect_str_at(__FILE__, __LINE__, "after edit", tract_json_render_str(j, TRACT_JSON_FLAT),
	              "{\"a\": 0, \"c\": {\"x\": [{\"a\": 2, \"b\": 1}], \"y\": 1}, \"z\": 9}");
	cJSON_Delete(j);

	/* stable for equal keys (only constructible by hand) */
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "k", 1);
	cJSON_AddNumberToObject(o, "a", 2);
	cJSON_AddNumberToObject(o, "k", 3);
	cJSON_AddNumberToObject(o, "k", 4);
	expect_str_at(__FILE__, __LINE__, "dup canon", tract_json_render_str(o, TRACT_JSON_CANON),
	              "{\"a\":2,\"k\":1,\"k\":3,\"k\":4}");
	tract_json_sort(o);
	expect_str_at(__FILE__, __LINE__, "dup sorted", tract_json_render_str(o, TRACT_JSON_FLAT),
	              "{\"a\": 2, \"k\": 1, \"k\": 3, \"k\": 4}");
	cJSON_Delete(o);

	tract_json_sort(NULL);
}

static int eq(const char *a, const char *b)
{
	cJSON *ja = parse_ok(a), *jb = parse_ok(b);
	int r = tract_json_equal(ja, jb);

	cJSON_Delete(ja);
	cJSON_Delete(jb);
	return r;
}

static void test_equal(void **state)
{
	cJSON *n;

	(void)state;
	assert_true(
	    eq("{\"a\":[1,2.0,\"x\",null,true]}", "{ \"a\" : [1, 2.00, \"x\", null, true] }"));
	assert_false(eq("1", "1.0"));
	assert_true(eq("1.0", "1.00"));
	assert_true(eq("-0", "0"));
	assert_false(eq("0.0", "-0.0"));
	assert_true(eq("100000000000000000000", "100000000000000000000"));
	assert_false(eq("100000000000000000000", "100000000000000000001"));
	assert_false(eq("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}")); /* ordered members */
	assert_false(eq("{\"a\":1}", "{\"b\":1}"));
	assert_false(eq("{\"a\":1}", "{\"a\":1,\"b\":1}"));
	assert_false(eq("[1,2]", "[1]"));
	assert_false(eq("[1]", "[1,2]"));
	assert_false(eq("true", "false"));
	assert_false(eq("null", "false"));
	assert_false(eq("\"a\"", "\"b\""));
	assert_false(eq("[]", "{}"));
	assert_false(eq("\"1\"", "1"));
	assert_true(eq("{\"a\":{\"b\":[{}]}}", "{\"a\":{\"b\":[{}]}}"));
	assert_false(eq("{\"a\":{\"b\":[{}]}}", "{\"a\":{\"b\":[[]]}}"));
	assert_true(tract_json_equal(NULL, NULL));

	/* a literal-less number equals its parsed twin */
	n = cJSON_CreateNumber(7);
	{
		cJSON *p = parse_ok("7");

		assert_true(tract_json_equal(n, p));
		assert_false(tract_json_equal(n, NULL));
		cJSON_Delete(p);
	}
	cJSON_Delete(n);
}

static void test_dup_and_ownership(void **state)
{
	cJSON *j = parse_ok("{\"big\":18446744073709551617,\"f\":1.0,\"s\":\"x\"}");
	cJSON *d = tract_json_dup(j);
	cJSON *n;

	(void)state;
	assert_non_null(d);
	assert_true(tract_json_equal(j, d));
	assert_ptr_not_equal(cJSON_GetObjectItem(j, "big")->valuestring,
	                     cJSON_GetObjectItem(d, "big")->valuestring);
	cJSON_Delete(j); /* the copy must not share the literals */
	expect_str_at(__FILE__, __LINE__, "dup", tract_json_render_str(d, TRACT_JSON_CANON),
	              "{\"big\":18446744073709551617,\"f\":1.0,\"s\":\"x\"}");
	cJSON_Delete(d);

	/* cJSON_Delete frees a number's valuestring (the leak checker fails
	 * this test otherwise) and cJSON_Duplicate copies it */
	n = cJSON_CreateNumber(1);
	n->valuestring = cJSON_malloc(4);
	memcpy(n->valuestring, "1.0", 4);
	d = cJSON_Duplicate(n, 1);
	assert_string_equal(d->valuestring, "1.0");
	assert_ptr_not_equal(d->valuestring, n->valuestring);
	cJSON_Delete(n);
	cJSON_Delete(d);
}

/* ------------------------------------------------------------------ */
/* Parse rejections                                                    */
/* ------------------------------------------------------------------ */

static void test_reject_string_escapes(void **state)
{
	(void)state;
	check_reject("\"\\ud800\"", "lone surrogate escape in string at byte 1");
	check_reject("\"\\udc00\"", "lone surrogate escape");
	check_reject("\"\\uDFFF\"", "lone surrogate escape");
	check_reject("\"\\ud800\\u0041\"", "lone surrogate escape");
	check_reject("\"\\ud800x\"", "lone surrogate escape");
	check_reject("\"\\ud83dxude00\"", "lone surrogate escape");
	check_reject("\"\\ud83d\\\\ude00\"", "lone surrogate escape");
	check_reject("\"\\ud800\\ud800\"", "lone surrogate escape");
	check_reject("\"\\ude00\\ud83d\"", "lone surrogate escape");
	check_reject("[\"ok\", \"ab\\ud83d\"]", "lone surrogate escape in string at byte 10");
	/* "\u0000" is accepted (test_nul.c); the raw overlong C0 80 that
	 * stands for it inside the core is not. */
	check_reject("\"a\xC0\x80" "b\"", "invalid UTF-8 at byte 2");
	check_reject("\"\\uZZZZ\"", "invalid escape in string at byte 1");
	check_reject("\"\\u12G4\"", "invalid escape");
	check_reject("\"\\u12\"", "invalid escape");
	check_reject("\"\\x41\"", "invalid escape");
	check_reject("\"\\a\"", "invalid escape");
	check_reject("\"\\'\"", "invalid escape");
	check_reject_len("\"a\0b\"", 5, "control character in string at byte 2");
	check_reject("\"tab\there\"", "control character in string at byte 4");
	check_reject("\"new\nline\"", "control character");
	check_reject("\"abc", "unterminated string at byte 0");
	check_reject("[\"abc\\\"]", "unterminated string at byte 1");
	check_reject("\"abc\\", "unterminated string");
}

static void test_reject_duplicate_keys(void **state)
{
	cJSON *j;

	(void)state;
	check_reject("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
	check_reject("{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", "duplicate key \"b\"");
	check_reject("[{}, {\"\\u00e9\":1, \"\xC3\xA9\":2}]", "duplicate key \"\xC3\xA9\"");
	check_reject("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,"
	             "\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17,"
	             "\"h\":18}",
	             "duplicate key \"h\"");
	check_reject("{\"a\\nb\":1,\"a\\nb\":2}", "duplicate key \"a\\nb\"");
	{
		/* long keys are quoted in part */
		char in[256], want[96];

		snprintf(in, sizeof(in), "{\"%0100d\":1,\"%0100d\":2}", 0, 0);
		snprintf(want, sizeof(want), "duplicate key \"%064d\"...", 0);
		check_reject(in, want);
	}
	/* the same key in different objects is fine */
	j = parse_ok("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}");
	cJSON_Delete(j);
}

static void test_reject_trailing_and_empty(void **state)
{
	cJSON *j;

	(void)state;
	check_reject("[1] 5", "trailing characters after JSON value at byte 4");
	check_reject("[1] x", "invalid JSON at byte 4");
	check_reject("1 2", "trailing characters after JSON value at byte 2");
	check_reject("{} {}", "trailing characters");
	check_reject("[1]]", "trailing characters");
	check_reject("\"a\"\"b\"", "trailing characters");
	check_reject("", "empty JSON input");
	check_reject(" \n\t\r ", "empty JSON input");
	check_reject_len("[1]\0", 4, "invalid JSON at byte 3");
	/* surrounding whitespace is fine, and the length is honoured */
	j = parse_ok(" \n\t[1]\r\n ");
	cJSON_Delete(j);
	j = parse_at(__FILE__, __LINE__, "[1] garbage", 3, 0);
	cJSON_Delete(j);
}

static void test_reject_depth(void **state)
{
	char *s;
	cJSON *j;

	(void)state;
	s = nested(512);
	j = parse_ok(s);
	free(s);
	cJSON_Delete(j);

	s = nested(513);
	reject_at(__FILE__, __LINE__, s, strlen(s), 0, "nesting deeper than 512 at byte 512");
	free(s);

	s = nested(600);
	reject_at(__FILE__, __LINE__, s, strlen(s), 0, "nesting deeper than 512");
	free(s);

	/* objects count as well */
	s = nested_obj(513);
	reject_at(__FILE__, __LINE__, s, strlen(s), 0, "nesting deeper than 512 at byte 2560");
	free(s);
	s = nested_obj(512);
	j = parse_ok(s);
	free(s);
	cJSON_Delete(j);
}

static void test_nonfinite(void **state)
{
	cJSON *j;

	(void)state;
	check_reject("1e400", "non-finite number at byte 0");
	check_reject("[0, -1e400]", "non-finite number at byte 4");
	check_reject("NaN", "non-finite number");
	check_reject("[Infinity]", "non-finite number at byte 1");
	check_reject("{\"a\": -Infinity}", "non-finite number at byte 6");

	render_at(__FILE__, __LINE__, "[1e400, -1e400, 1, NaN, Infinity, -Infinity, 2.0]",
	          TRACT_JSON_NONFINITE_TO_NULL, TRACT_JSON_CANON,
	          "[null,null,1,null,null,null,2.0]");
	j = parse_flags("{\"x\": 1E999}", TRACT_JSON_NONFINITE_TO_NULL);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "x")));
	assert_null(cJSON_GetObjectItem(j, "x")->valuestring);
	cJSON_Delete(j);
	/* a huge integer is not a float: kept, not non-finite */
	{
		char big[402];

		big[0] = '1';
		memset(big + 1, '0', 400);
		big[401] = '\0';
		check_canon(big, big);
	}
	/* the flag does not open the door to other garbage */
	reject_at(__FILE__, __LINE__, "nan", 3, TRACT_JSON_NONFINITE_TO_NULL, "invalid JSON");
	reject_at(__FILE__, __LINE__, "-NaN", 4, TRACT_JSON_NONFINITE_TO_NULL, "invalid number");
	reject_at(__FILE__, __LINE__, "Inf", 3, TRACT_JSON_NONFINITE_TO_NULL, "invalid JSON");
}

static void test_reject_syntax(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
	    {"01", "invalid number at byte 0"},
	    {"[1, -01]", "invalid number at byte 4"},
	    {"1.", "invalid number"},
	    {"1.e5", "invalid number"},
	    {".5", "invalid JSON at byte 0"},
	    {"-", "invalid number"},
	    {"-x", "invalid number"},
	    {"+1", "invalid JSON at byte 0"},
	    {"1e", "invalid number"},
	    {"1e+", "invalid number"},
	    {"0x10", "invalid JSON at byte 1"},
	    {"--1", "invalid number"},
	    {"1.5.2", "invalid number"},
	    {"1e5e5", "invalid number"},
	    {"[1-2]", "invalid number at byte 1"},
	    {"[1,]", "invalid JSON at byte 3"},
	    {"{\"a\":1,}", "invalid JSON"},
	    {"[1 2]", "invalid JSON"},
	    {"{\"a\"}", "invalid JSON"},
	    {"{\"a\" 1}", "invalid JSON"},
	    {"{1:2}", "invalid JSON"},
	    {"{\"a\":1", "invalid JSON"},
	    {"[", "invalid JSON"},
	    {"]", "invalid JSON"},
	    {"'a'", "invalid JSON at byte 0"},
	    {"tru", "invalid JSON at byte 0"},
	    {"True", "invalid JSON at byte 0"},
	    {"nul", "invalid JSON"},
	    {"nulll", "invalid JSON"},
	    {"[true1]", "invalid JSON"},
	    {"\xEF\xBB\xBF{}", "invalid JSON at byte 0"}, /* BOM */
	    {"\f1", "invalid JSON at byte 0"},
	    {"\v1", "invalid JSON at byte 0"},
	    {"[1,\x01 2]", "invalid JSON at byte 3"},
	    {"[\xC3\xA9]", "invalid JSON at byte 1"},
	    {"[1, 2, x]", "invalid JSON at byte 7"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_reject(cases[i].in, cases[i].msg);
	check_reject_len("[1,\0 2]", 7, "invalid JSON at byte 3");
}

static void test_errbuf_optional(void **state)
{
	cJSON *j = (cJSON *)1;
	char err[8];

	(void)state;
	assert_int_equal(tract_json_parse(&j, "[", 1, 0, NULL, 0), TRACT_EINVAL);
	assert_null(j);
	/* a short buffer is truncated, not overrun */
	assert_int_equal(tract_json_parse(&j, "{\"a\":1,\"a\":2}", 13, 0, err, sizeof(err)),
	                 TRACT_EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	/* success clears it */
	assert_int_equal(tract_json_parse(&j, "{}", 2, 0, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	cJSON_Delete(j);
}

/* ---- flat payloads read in place ------------------------------------------ */

/*
 * tract_content_message_flat() must give exactly what compile's tree path
 * gives (cJSON's tree, then tract_content_message() and the count kind of
 * tract_content_count_text()) for every payload it accepts. Returns
 * whether it accepted.
 */
static int flat_matches_tree_at(const char *file, int line, const char *payload)
{
	tract_message_parts fast, tree;
	tract_text_kind count_kind = TRACT_TEXT_NONE;
	tract_buf scratch = TRACT_BUF_INIT;
	cJSON *p;
	int rc = tract_content_message_flat(&fast, payload, strlen(payload));

	if (rc < 0)
		_fail(file, line);
	if (rc == 0)
		return 0;
	p = cJSON_ParseWithLength(payload, strlen(payload));
	if (!p || !cJSON_IsObject(p) || tract_content_message(&tree, p) < 0 ||
	    tract_content_count_text(&scratch, &count_kind, p) < 0) {
		print_error("%s:%d: flat read accepted what the tree path cannot read: %s\n",
			    file, line, payload);
		_fail(file, line);
	}
	if (strcmp(fast.role, tree.role) != 0 || strcmp(fast.content, tree.content) != 0 ||
	    !fast.name != !tree.name || (fast.name && strcmp(fast.name, tree.name) != 0) ||
	    fast.kind != tree.kind || count_kind != tree.kind) {
		print_error("%s:%d: flat read differs on %s\n  role %s / %s\n  content '%s' / "
			    "'%s'\n  name %s / %s\n  kind %d / %d (count %d)\n",
			    file, line, payload, fast.role, tree.role, fast.content, tree.content,
			    fast.name ? fast.name : "(none)", tree.name ? tree.name : "(none)",
			    (int)fast.kind, (int)tree.kind, (int)count_kind);
		_fail(file, line);
	}
	tract_buf_dispose(&scratch);
	tract_message_parts_dispose(&fast);
	tract_message_parts_dispose(&tree);
	cJSON_Delete(p);
	return 1;
}

#define flat_accepts(pl) assert_true(flat_matches_tree_at(__FILE__, __LINE__, (pl)))
#define flat_declines(pl) assert_false(flat_matches_tree_at(__FILE__, __LINE__, (pl)))

static void test_flat_payloads(void **state)
{
	(void)state;
	/* Stored shapes. */
	flat_accepts("{\"content_type\": \"dialogue\", \"name\": null, \"role\": \"user\", "
		     "\"text\": \"hi\"}");
	flat_accepts("{\"content_type\": \"dialogue\", \"name\": \"bob\", \"role\": "
		     "\"assistant\", \"text\": \"a \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t z\"}");
	flat_accepts("{\"content_type\": \"dialogue\", \"role\": \"robot\", \"text\": \"x\"}");
	flat_accepts("{\"content_type\": \"dialogue\", \"role\": null, \"text\": \"\"}");
	flat_accepts("{\"content_type\": \"dialogue\", \"role\": \"us\\/er\", \"text\": \"x\"}");
	flat_accepts("{\"content_type\": \"instruction\", \"text\": \"be brief\"}");
	flat_accepts("{\"content_type\": \"reasoning\", \"text\": \"\xc3\xa9t\xc3\xa9\"}");
	flat_accepts("{\"content_type\": \"output\", \"format\": \"markdown\", \"text\": \"# t\"}");
	flat_accepts("{\"artifact_type\": \"code\", \"content\": \"x = 1\", \"content_type\": "
		     "\"artifact\", \"language\": null}");
	flat_accepts("{\"content_type\": \"my_type\", \"text\": \"custom\"}");
	flat_accepts("{\"content_type\": \"custom\", \"content\": \"c\", \"name\": \"n\"}");
	flat_accepts("{\"text\": \"no type\"}");
	flat_accepts("{\"content_type\": null, \"text\": \"null type\"}");
	flat_accepts("{\"content_type\": \"dia\\\\logue\", \"text\": \"escaped type\"}");
	/* Whitespace, raw control bytes and invalid UTF-8 read as cJSON reads them. */
	flat_accepts(" \n{ \"text\" :\t\"a\"\r\n,\"content_type\":\"instruction\" } \n");
	flat_accepts("{\"content_type\": \"instruction\", \"text\": \"tab\there\x01\"}");
	flat_accepts("{\"content_type\": \"instruction\", \"text\": \"bad \xff\xfe utf8\"}");
	/* Everything else takes the tree path. */
	flat_declines("{\"content_type\": \"tool_io\", \"text\": \"x\"}");
	flat_declines("{\"content_type\": \"freeform\", \"text\": \"x\"}");
	flat_declines("{\"content_type\": \"dialogue\", \"role\": \"user\", \"text\": null}");
	flat_declines("{\"content_type\": \"artifact\", \"content\": null}");
	flat_declines("{\"content_type\": \"session\", \"summary\": \"s\"}");
	flat_declines("{}");
	flat_declines("{\"text\": \"\\u0041\"}");
	flat_declines("{\"text\": \"a\\\\u0000b\"}");
	flat_declines("{\"text\": \"a\", \"text\": \"b\"}");
	flat_declines("{\"te\\u0078t\": \"a\"}");
	flat_declines("{\"te\\\"xt\": \"a\"}");
	flat_declines("{\"text\": \"a\"} x");
	flat_declines("{\"text\": \"a\",}");
	flat_declines("{\"text\": \"a\" \"b\": \"c\"}");
	flat_declines("{\"text\": \"a\", \"n\": 1}");
	flat_declines("{\"text\": \"a\", \"n\": true}");
	flat_declines("{\"text\": \"a\", \"o\": {}}");
	flat_declines("{\"text\": \"a\", \"l\": []}");
	flat_declines("{\"text\": \"a\", \"n\": nul}");
	flat_declines("{\"text\": \"unterminated}");
	flat_declines("{\"text\": \"bad escape \\x\"}");
	flat_declines("[\"text\"]");
	flat_declines("");
	flat_declines("{\"content_type\": \"a_very_long_content_type_name_over_32\", "
		      "\"text\": \"x\"}");
	flat_declines("{\"a\": \"1\", \"b\": \"2\", \"c\": \"3\", \"d\": \"4\", \"e\": \"5\", "
		      "\"f\": \"6\", \"g\": \"7\", \"h\": \"8\", \"text\": \"9\"}");
}

/* Random flat objects built from pieces that stress the reader. */
static void test_flat_payloads_random(void **state)
{
	static const char *const keys[] = {"\"text\"", "\"content\"", "\"content_type\"",
					   "\"role\"", "\"name\"", "\"x\"", "\"te\\u0078t\""};
	static const char *const vals[] = {
	    "\"dialogue\"", "\"instruction\"", "\"tool_io\"", "\"user\"", "\"assistant\"",
	    "\"system\"", "null", "\"\"", "\"plain words here and there, long enough to span "
	    "several machine words\"", "\"esc \\\" \\\\ \\n\\t\"", "\"\\u00e9\"", "1", "{}",
	    "\"tail\\\\\"", "\"\\\\u0000\"", "\"\xc3\xa9\x01\""};
	static const char *const seps[] = {",", " , ", ",\n"};
	unsigned seed = 12345;
	int i, accepted = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		char buf[1024];
		size_t len = 0;
		int n, k;

		seed = seed * 1103515245u + 12345u;
		n = (int)((seed >> 16) % 5);
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "{");
		for (k = 0; k < n; k++) {
			seed = seed * 1103515245u + 12345u;
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s: %s",
						k ? seps[(seed >> 8) % 3] : "",
						keys[(seed >> 12) % 7], vals[(seed >> 18) % 16]);
		}
		snprintf(buf + len, sizeof(buf) - len, "}");
		accepted += flat_matches_tree_at(__FILE__, __LINE__, buf);
	}
	/* The generator does reach the fast path often. */
	assert_true(accepted > 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_reject_invalid_utf8),
	    cmocka_unit_test(test_float_repr),
	    cmocka_unit_test(test_number_literals),
	    cmocka_unit_test(test_number_document_order),
	    cmocka_unit_test(test_is_int),
	    cmocka_unit_test(test_constructors),
	    cmocka_unit_test(test_numbers_without_literal),
	    cmocka_unit_test(test_escape_controls),
	    cmocka_unit_test(test_escape_non_ascii),
	    cmocka_unit_test(test_string_escapes_roundtrip),
	    cmocka_unit_test(test_style_canon),
	    cmocka_unit_test(test_style_store),
	    cmocka_unit_test(test_style_column_flat),
	    cmocka_unit_test(test_style_token),
	    cmocka_unit_test(test_style_pretty),
	    cmocka_unit_test(test_scalars_all_styles),
	    cmocka_unit_test(test_spec_vectors),
	    cmocka_unit_test(test_sort_code_point_order),
	    cmocka_unit_test(test_render_does_not_mutate),
	    cmocka_unit_test(test_render_appends),
	    cmocka_unit_test(test_sort_in_place),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_dup_and_ownership),
	    cmocka_unit_test(test_reject_string_escapes),
	    cmocka_unit_test(test_reject_duplicate_keys),
	    cmocka_unit_test(test_reject_trailing_and_empty),
	    cmocka_unit_test(test_reject_depth),
	    cmocka_unit_test(test_nonfinite),
	    cmocka_unit_test(test_reject_syntax),
	    cmocka_unit_test(test_errbuf_optional),
	    cmocka_unit_test(test_flat_payloads),
	    cmocka_unit_test(test_flat_payloads_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
