/*
 * property_gen.c - the property test's random inputs: the PRNG, a growable
 * string, JSON written by the test itself (input and the renderings the model
 * expects) and random contents and generation configs.
 */
#include "property.h"

/* ------------------------------------------------------------------ */
/* PRNG (splitmix64)                                                    */
/* ------------------------------------------------------------------ */

uint64_t rng_state;

static uint64_t rnd64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

unsigned rnd(unsigned n)
{
	return n ? (unsigned)(rnd64() % n) : 0;
}

int chance(unsigned pct)
{
	return rnd(100) < pct;
}

static void sb_putn(sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 64;
		char *np;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		CHECK(np != NULL, "out of memory");
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_printf(sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	CHECK(n >= 0 && (size_t)n < sizeof(tmp), "sb_printf overflow");
	sb_putn(b, tmp, (size_t)n);
}

static char *sb_take(sbuf *b)
{
	char *p = b->p ? b->p : xstrdup("");

	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ------------------------------------------------------------------ */
/* JSON written by this file: input (raw UTF-8) and the renderings the  */
/* model expects (spec/core.md §2.1), independent of core/json.c        */
/* ------------------------------------------------------------------ */

/* Input string: minimal escaping, non-ASCII raw. */
static void put_input_str(sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	sb_putn(b, "\"", 1);
	for (; *p; p++) {
		if (*p == '"')
			sb_puts(b, "\\\"");
		else if (*p == '\\')
			sb_puts(b, "\\\\");
		else if (*p < 0x20)
			sb_printf(b, "\\u%04X", *p); /* upper case: the input may be */
		else
			sb_putn(b, (const char *)p, 1);
	}
	sb_putn(b, "\"", 1);
}

static unsigned decode_utf8(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned c = *p++;

	if (c >= 0xf0) {
		c = ((c & 0x07u) << 18) | ((p[0] & 0x3fu) << 12) | ((p[1] & 0x3fu) << 6) |
		    (p[2] & 0x3fu);
		p += 3;
	} else if (c >= 0xe0) {
		c = ((c & 0x0fu) << 12) | ((p[0] & 0x3fu) << 6) | (p[1] & 0x3fu);
		p += 2;
	} else if (c >= 0xc0) {
		c = ((c & 0x1fu) << 6) | (p[0] & 0x3fu);
		p += 1;
	}
	*pp = p;
	return c;
}

/* "\uXXXX escapes" string (J-PRETTY, J-FLAT). */
static void put_ascii_str(sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	sb_putn(b, "\"", 1);
	while (*p) {
		unsigned c = decode_utf8(&p);
		switch (c) {
		case '"':
			sb_puts(b, "\\\"");
			break;
		case '\\':
			sb_puts(b, "\\\\");
			break;
		case '\b':
			sb_puts(b, "\\b");
			break;
		case '\f':
			sb_puts(b, "\\f");
			break;
		case '\n':
			sb_puts(b, "\\n");
			break;
		case '\r':
			sb_puts(b, "\\r");
			break;
		case '\t':
			sb_puts(b, "\\t");
			break;
		default:
			if (c < 0x20 || (c > 0x7e && c <= 0xffff)) {
				sb_printf(b, "\\u%04x", c);
			} else if (c > 0xffff) {
				c -= 0x10000;
				sb_printf(b, "\\u%04x\\u%04x", 0xd800 + (c >> 10),
				          0xdc00 + (c & 0x3ff));
			} else {
				char ch = (char)c;
				sb_putn(b, &ch, 1);
			}
		}
	}
	sb_putn(b, "\"", 1);
}

static void jv_free(jv *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->n; i++)
		jv_free(v->items[i]);
	free(v->items);
	free(v->keys);
	free(v->s);
	free(v);
}

static jv *jv_new(int type)
{
	jv *v = calloc(1, sizeof(*v));

	CHECK(v != NULL, "out of memory");
	v->type = type;
	return v;
}

static void jv_add(jv *o, const char *key, jv *item)
{
	o->items = realloc(o->items, (o->n + 1) * sizeof(*o->items));
	o->keys = realloc(o->keys, (o->n + 1) * sizeof(*o->keys));
	CHECK(o->items && o->keys, "out of memory");
	o->items[o->n] = item;
	o->keys[o->n] = key;
	o->n++;
}

static void put_input(sbuf *b, const jv *v)
{
	size_t i, *perm;

	switch (v->type) {
	case JV_NULL:
		sb_puts(b, "null");
		break;
	case JV_BOOL:
		sb_puts(b, v->b ? "true" : "false");
		break;
	case JV_INT:
	case JV_NUM:
		sb_puts(b, v->in);
		break;
	case JV_STR:
		put_input_str(b, v->s);
		break;
	case JV_ARR:
		sb_puts(b, "[");
		for (i = 0; i < v->n; i++) {
			if (i)
				sb_puts(b, rnd(2) ? "," : ", ");
			put_input(b, v->items[i]);
		}
		sb_puts(b, "]");
		break;
	case JV_OBJ:
		/* members in a random order: the library sorts them */
		perm = calloc(v->n + 1, sizeof(*perm));
		CHECK(perm != NULL, "out of memory");
		for (i = 0; i < v->n; i++)
			perm[i] = i;
		for (i = v->n; i > 1; i--) {
			size_t j = rnd((unsigned)i), t = perm[i - 1];
			perm[i - 1] = perm[j];
			perm[j] = t;
		}
		sb_puts(b, "{");
		for (i = 0; i < v->n; i++) {
			if (i)
				sb_puts(b, ", ");
			put_input_str(b, v->keys[perm[i]]);
			sb_puts(b, ": ");
			put_input(b, v->items[perm[i]]);
		}
		sb_puts(b, "}");
		free(perm);
		break;
	}
}

static void indent(sbuf *b, int depth)
{
	int i;

	for (i = 0; i < depth * 2; i++)
		sb_putn(b, " ", 1);
}

/* J-PRETTY (pretty = 1) or J-FLAT (pretty = 0). */
static void put_render(sbuf *b, const jv *v, int depth, int pretty)
{
	size_t i;

	switch (v->type) {
	case JV_NULL:
		sb_puts(b, "null");
		break;
	case JV_BOOL:
		sb_puts(b, v->b ? "true" : "false");
		break;
	case JV_INT:
	case JV_NUM:
		sb_puts(b, v->out);
		break;
	case JV_STR:
		put_ascii_str(b, v->s);
		break;
	case JV_ARR:
	case JV_OBJ:
		sb_puts(b, v->type == JV_ARR ? "[" : "{");
		for (i = 0; i < v->n; i++) {
			if (i)
				sb_puts(b, pretty ? "," : ", ");
			if (pretty) {
				sb_puts(b, "\n");
				indent(b, depth + 1);
			}
			if (v->type == JV_OBJ) {
				put_ascii_str(b, v->keys[i]);
				sb_puts(b, ": ");
			}
			put_render(b, v->items[i], depth + 1, pretty);
		}
		if (pretty && v->n) {
			sb_puts(b, "\n");
			indent(b, depth);
		}
		sb_puts(b, v->type == JV_ARR ? "]" : "}");
		break;
	}
}

static char *render(const jv *v, int pretty)
{
	sbuf b = {0};

	put_render(&b, v, 0, pretty);
	return sb_take(&b);
}

/* ------------------------------------------------------------------ */
/* random content                                                       */
/* ------------------------------------------------------------------ */

static const char *const pieces[] = {
    "hello",
    "world",
    "the",
    "context",
    "tract",
    " ",
    " ",
    " ",
    ", ",
    ".",
    "42",
    "caf\xc3\xa9", /* é */
    "\xe2\x82\xac"
    "5",                                                /* €5 */
    "\xf0\x9f\x98\x80",                                 /* 😀 (above the BMP) */
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",             /* 日本語 */
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", /* Привет */
    "\xe2\x80\xa8",                                     /* U+2028 */
    "\x7f",                                             /* DEL */
    "\"quoted\"",
    "back\\slash",
    "a/b",
    "\n",
    "\t",
    "\r\n",
    "\x01",
    "<|endoftext|>",
    "{\"json\": 1}",
    "[edited]",
};

static char *rand_text(int allow_empty)
{
	sbuf b = {0};
	unsigned i, n = rnd(9);

	if (n == 0 && !allow_empty)
		n = 1;
	for (i = 0; i < n; i++)
		sb_puts(&b, pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))]);
	return sb_take(&b);
}

static const char *const num_in[] = {"0.5",  "-2.25", "100.0", "1E-5", "2.5e3",
                                     "1e16", "-0",    "7",     "-13",  "100000000000000000000"};
static const char *const num_out[] = {"0.5",   "-2.25", "100.0", "1e-05", "2500.0",
                                      "1e+16", "0",     "7",     "-13",   "100000000000000000000"};
/* sorted by code point */
static const char *const pkeys[] = {"a", "b", "id", "n", "q", "z", "\xc3\xa9t\xc3\xa9"};

static jv *rand_value(int depth)
{
	unsigned k = rnd(depth > 1 ? 5 : 7);
	jv *v;
	size_t i, n;

	switch (k) {
	case 0:
		return jv_new(JV_NULL);
	case 1:
		v = jv_new(JV_BOOL);
		v->b = (int)rnd(2);
		return v;
	case 2:
		i = rnd(sizeof(num_in) / sizeof(num_in[0]));
		v = jv_new(i >= 6 ? JV_INT : JV_NUM);
		v->in = num_in[i];
		v->out = num_out[i];
		return v;
	case 3:
	case 4:
		v = jv_new(JV_STR);
		v->s = rand_text(1);
		return v;
	case 5:
		v = jv_new(JV_ARR);
		n = rnd(3);
		for (i = 0; i < n; i++)
			jv_add(v, NULL, rand_value(depth + 1));
		return v;
	default:
		v = jv_new(JV_OBJ);
		for (i = 0; i < sizeof(pkeys) / sizeof(pkeys[0]); i++)
			if (chance(30))
				jv_add(v, pkeys[i], rand_value(depth + 1));
		return v;
	}
}

static jv *rand_object(void)
{
	jv *v = jv_new(JV_OBJ);
	size_t i;

	for (i = 0; i < sizeof(pkeys) / sizeof(pkeys[0]); i++)
		if (chance(40))
			jv_add(v, pkeys[i], rand_value(1));
	return v;
}

static jv *str_jv(const char *s)
{
	jv *v = jv_new(JV_STR);

	v->s = xstrdup(s);
	return v;
}

void gen_dispose(gen_content *g)
{
	free(g->json);
	free(g->content);
	free(g->name);
	memset(g, 0, sizeof(*g));
}

static const char *const content_types[] = {"instruction", "dialogue", "tool_io",  "reasoning",
                                            "artifact",    "output",   "freeform", "session"};

/* Build the top-level object: the type's members plus content_type,
 * sometimes an unknown member (dropped by validation). */
void gen_content_rand(gen_content *g)
{
	const char *ct = content_types[rnd(8)];
	jv *o = jv_new(JV_OBJ); /* input members, any order */
	sbuf b = {0};

	memset(g, 0, sizeof(*g));
	g->ctype = ct;
	jv_add(o, "content_type", str_jv(ct));
	if (strcmp(ct, "instruction") == 0 || strcmp(ct, "reasoning") == 0 ||
	    strcmp(ct, "output") == 0) {
		char *text = rand_text(1);
		jv_add(o, "text", str_jv(text));
		if (strcmp(ct, "output") == 0 && chance(50)) {
			static const char *const fmts[] = {"text", "markdown", "json"};
			jv_add(o, "format", str_jv(fmts[rnd(3)]));
		}
		g->role = strcmp(ct, "instruction") == 0 ? "system" : "assistant";
		g->content = text;
	} else if (strcmp(ct, "dialogue") == 0) {
		static const char *const roles[] = {"user", "assistant", "system"};
		char *text = rand_text(1);
		g->role = roles[rnd(3)];
		jv_add(o, "role", str_jv(g->role));
		jv_add(o, "text", str_jv(text));
		g->content = text;
		if (chance(35)) {
			g->name = chance(15) ? xstrdup("") : rand_text(0);
			jv_add(o, "name", str_jv(g->name));
		} else if (chance(20)) {
			jv_add(o, "name", jv_new(JV_NULL));
		}
	} else if (strcmp(ct, "tool_io") == 0) {
		static const char *const tools[] = {"calc", "search",
		                                    "w\xc3\xa9"
		                                    "b_fetch"};
		const char *tool = tools[rnd(3)];
		const char *dir = rnd(2) ? "call" : "result";
		const char *status = NULL;
		jv *payload = rand_object();
		char *pretty = render(payload, 1);
		sbuf c = {0};
		jv_add(o, "tool_name", str_jv(tool));
		jv_add(o, "direction", str_jv(dir));
		jv_add(o, "payload", payload);
		if (chance(50)) {
			status = rnd(2) ? "success" : "error";
			jv_add(o, "status", str_jv(status));
		} else if (chance(30)) {
			jv_add(o, "status", jv_new(JV_NULL));
		}
		sb_printf(&c, "Tool %s: %s", dir, tool);
		if (status)
			sb_printf(&c, " (%s)", status);
		sb_puts(&c, "\n");
		sb_puts(&c, pretty);
		free(pretty);
		g->role = "tool";
		g->content = sb_take(&c);
	} else if (strcmp(ct, "artifact") == 0) {
		char *text = rand_text(1);
		jv_add(o, "artifact_type", str_jv(rnd(2) ? "code" : "document"));
		jv_add(o, "content", str_jv(text));
		if (chance(50))
			jv_add(o, "language", str_jv("c"));
		g->role = "assistant";
		g->content = text;
	} else if (strcmp(ct, "freeform") == 0) {
		jv *payload = rand_object();
		g->content = render(payload, 1);
		jv_add(o, "payload", payload);
		g->role = "assistant";
	} else { /* session: J-FLAT of the whole normalized object */
		static const char *const stypes[] = {"start", "end", "handoff", "checkpoint"};
		static const char *const lists[] = {"decisions", "failed_approaches", "next_steps"};
		jv *norm = jv_new(JV_OBJ);
		const char *st = stypes[rnd(4)];
		char *summary = rand_text(1);
		size_t i, k;
		jv_add(norm, "content_type", str_jv("session"));
		for (i = 0; i < 3; i++) {
			jv *arr = jv_new(JV_ARR);
			jv *in = jv_new(JV_ARR);
			size_t n = rnd(3);
			for (k = 0; k < n; k++) {
				char *t = rand_text(1);
				jv_add(arr, NULL, str_jv(t));
				jv_add(in, NULL, str_jv(t));
				free(t);
			}
			jv_add(norm, lists[i], arr);
			if (n || chance(50))
				jv_add(o, lists[i], in);
			else
				jv_free(in);
		}
		jv_add(norm, "session_type", str_jv(st));
		jv_add(norm, "summary", str_jv(summary));
		jv_add(o, "session_type", str_jv(st));
		jv_add(o, "summary", str_jv(summary));
		free(summary);
		g->role = "system";
		g->content = render(norm, 0);
		jv_free(norm);
	}
	if (chance(10))
		jv_add(o, "unknown_extra", rand_value(1));
	put_input(&b, o);
	g->json = sb_take(&b);
	jv_free(o);
}

/* A generation config: none, {} or a small object (compared as JSON). */
char *rand_config(void)
{
	sbuf b = {0};

	switch (rnd(5)) {
	case 0:
	case 1:
		return NULL;
	case 2:
		return xstrdup("{}");
	case 3:
		sb_printf(&b, "{\"model\": \"gpt-%u\", \"temperature\": %s}", rnd(5),
		          rnd(2) ? "0.5" : "0.25");
		return sb_take(&b);
	default:
		sb_puts(&b, "{\"temperature\": 0.75, \"stop\": [");
		put_input_str(&b, "caf\xc3\xa9 \xf0\x9f\x98\x80");
		sb_printf(&b, "], \"seed\": %u}", rnd(1000));
		return sb_take(&b);
	}
}
