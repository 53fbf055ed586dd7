/*
 * test_sse.c - the server-sent events parser of the provider plugins
 * (plugins/common/sse.c): line ends (LF, CRLF, CR, a CRLF cut between two
 * feeds), comments, fields without a colon or without the space, several
 * data lines, event types and their reset, events without data, a byte
 * order mark (also cut), the size bound, a callback that stops the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sse.h"

typedef struct {
	char log[4096];
	int n;
	int stop_at;
} seen;

static int on_event(void *payload, const char *type, const char *data, size_t len)
{
	seen *s = payload;
	char one[512];

	assert_int_equal(strlen(data), len);
	snprintf(one, sizeof(one), "[%s|%s]", type, data);
	strncat(s->log, one, sizeof(s->log) - strlen(s->log) - 1);
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

/* Feed the pieces (NULL-terminated) into a fresh parser; the log. */
static const char *feed(seen *s, size_t limit, int expect_rc, ...)
{
	tp_sse_parser p;
	va_list ap;
	const char *piece;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	tp_sse_init(&p, limit, on_event, s);
	va_start(ap, expect_rc);
	while (rc == 0 && (piece = va_arg(ap, const char *)) != NULL)
		rc = tp_sse_feed(&p, piece, strlen(piece));
	va_end(ap);
	assert_int_equal(rc, expect_rc);
	tp_sse_dispose(&p);
	return s->log;
}

static void test_line_ends(void **state)
{
	seen s;

	(void)state;
	assert_string_equal(feed(&s, 0, 0, "data: a\n\ndata: b\n\n", NULL),
	                    "[message|a][message|b]");
	assert_string_equal(feed(&s, 0, 0, "data: a\r\n\r\ndata: b\r\n\r\n", NULL),
			    "[message|a][message|b]");
	assert_string_equal(feed(&s, 0, 0, "data: a\r\rdata: b\r\r", NULL),
	                    "[message|a][message|b]");
	/* a CRLF cut between feeds is one line end, not two (not a blank line) */
	assert_string_equal(feed(&s, 0, 0, "data: a\r", "\ndata: b\r", "\n\r", "\n", NULL),
			    "[message|a\nb]");
	/* mixed */
	assert_string_equal(feed(&s, 0, 0, "data: a\rdata: b\r\ndata: c\n\r\n", NULL),
			    "[message|a\nb\nc]");
}

static void test_fields(void **state)
{
	seen s;

	(void)state;
	assert_string_equal(feed(&s, 0, 0, ": comment\ndata:x\ndata:  y\ndata\n\n", NULL),
			    "[message|x\n y\n]");
	assert_string_equal(feed(&s, 0, 0, "event: ping\ndata: {}\n\ndata: after\n\n", NULL),
			    "[ping|{}][message|after]");
	/* no data: nothing dispatched, and the type does not carry over */
	assert_string_equal(
	    feed(&s, 0, 0, "event: lonely\n\nid: 3\nretry: 10\nfoo: bar\n\ndata: z\n\n", NULL),
	    "[message|z]");
	/* an empty data line is an event with empty data */
	assert_string_equal(feed(&s, 0, 0, "data:\n\n", NULL), "[message|]");
	/* the last event without its blank line is not dispatched */
	assert_string_equal(feed(&s, 0, 0, "data: one\n\ndata: two\n", NULL), "[message|one]");
}

static void test_split_anywhere(void **state)
{
	static const char stream[] = "event: a\r\ndata: 1\r\ndata: 2\r\n\r\n: c\rdata: 3\r\r";
	char whole[1024];
	size_t cut, i;
	seen s;

	(void)state;
	snprintf(whole, sizeof(whole), "%s", feed(&s, 0, 0, stream, NULL));
	assert_string_equal(whole, "[a|1\n2][message|3]");
	for (cut = 0; cut <= strlen(stream); cut++) {
		char a[128], b[128];
		memcpy(a, stream, cut);
		a[cut] = '\0';
		strcpy(b, stream + cut);
		assert_string_equal(feed(&s, 0, 0, a, b, NULL), whole);
	}
	/* byte by byte */
	{
		tp_sse_parser p;
		memset(&s, 0, sizeof(s));
		tp_sse_init(&p, 0, on_event, &s);
		for (i = 0; i < strlen(stream); i++)
			assert_int_equal(tp_sse_feed(&p, stream + i, 1), 0);
		tp_sse_dispose(&p);
		assert_string_equal(s.log, whole);
	}
}

static void test_bom(void **state)
{
	seen s;

	(void)state;
	assert_string_equal(feed(&s, 0, 0, "\xef\xbb\xbf" "data: a\n\n", NULL), "[message|a]");
	assert_string_equal(feed(&s, 0, 0, "\xef", "\xbb",
	                         "\xbf"
	                         "data: a\n\n",
	                         NULL),
	                    "[message|a]");
	/* only at the very start */
	assert_string_equal(feed(&s, 0, 0,
	                         "data: a\n\n\xef\xbb\xbf"
	                         "data: b\n\n",
	                         NULL),
	                    "[message|a]");
}

static void test_limit_and_stop(void **state)
{
	char big[200];
	seen s;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	feed(&s, 64, TP_SSE_ELIMIT, "data: ", big, "\n\n", NULL);
	feed(&s, 64, TP_SSE_ELIMIT, "data: 0123456789012345678901234567890123456789\n"
				    "data: 0123456789012345678901234567890123456789\n\n", NULL);
	assert_int_equal(s.n, 0);
	/* a complete long line inside one feed is bounded too */
	{
		char line[300];
		snprintf(line, sizeof(line), "data: %s\n\n", big);
		feed(&s, 64, TP_SSE_ELIMIT, line, NULL);
	}
	memset(&s, 0, sizeof(s));
	{
		tp_sse_parser p;
		s.stop_at = 2;
		tp_sse_init(&p, 0, on_event, &s);
		assert_int_equal(tp_sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27), 42);
		assert_int_equal(s.n, 2);
		tp_sse_dispose(&p);
	}
}

static void test_pending(void **state)
{
	tp_sse_parser p;
	seen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	tp_sse_init(&p, 0, on_event, &s);
	assert_false(tp_sse_pending(&p));
	assert_int_equal(tp_sse_feed(&p, "data: x", 7), 0);
	assert_true(tp_sse_pending(&p));
	assert_int_equal(tp_sse_feed(&p, "\n", 1), 0);
	assert_true(tp_sse_pending(&p));
	assert_int_equal(tp_sse_feed(&p, "\n", 1), 0);
	assert_false(tp_sse_pending(&p));
	tp_sse_dispose(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),   cmocka_unit_test(test_fields),
		cmocka_unit_test(test_split_anywhere), cmocka_unit_test(test_bom),
		cmocka_unit_test(test_limit_and_stop), cmocka_unit_test(test_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
