/*
 * json.c - strict JSON parsing on top of cJSON that keeps the literal text
 * of numbers, and the six byte-exact renderings of spec/core.md §2.1
 * (CANON, STORE, COLUMN, TOKEN, PRETTY, FLAT) used for hashing and storage.
 */
#include "json.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tract/common.h"

#define JSON_MAX_DEPTH 512
/* 2^53: integral doubles up to this magnitude print as integers. */
#define JSON_EXACT_INT 9007199254740992.0

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */
/* ------------------------------------------------------------------ */

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) (n >= 1) and its code
 * point in *cp, or 0 when the bytes there are not valid UTF-8 (overlong
 * forms, UTF-16 surrogates, code points above U+10FFFF, truncation).
 */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need, i;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < need + 1)
		return 0;
	for (i = 1; i <= need; i++) {
		unsigned char t = s[i];

		if (i == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xBF))
			return 0;
		v = (v << 6) | (t & 0x3F);
	}
	*cp = v;
	return need + 1;
}

/* Offset of the first byte that is not valid UTF-8, or len when all are. */
static size_t utf8_check(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(p + i, len - i, &cp);
		if (!n)
			return i;
		i += n;
	}
	return len;
}

int tract_utf8_valid(const char *s, size_t len)
{
	return utf8_check(s, len) == len;
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */
/* ------------------------------------------------------------------ */

/* Does the decimal dig (n digits, first at exponent exp) read back as d? */
static int digits_roundtrip(double d, const char *dig, size_t n, int exp)
{
	char back[48];

	snprintf(back, sizeof(back), "%s%.*se%d", d < 0 ? "-" : "", (int)n, dig, exp - (int)n + 1);
	return strtod(back, NULL) == d;
}

/*
 * Step the n-digit decimal dig by one unit in its last place (dir +1/-1),
 * keeping n digits: a carry out of the top ("999" + 1) gives "100" with
 * *exp + 1, a borrow ("100" - 1) gives "999" with *exp - 1. Returns 0 when
 * the result would be zero.
 */
static int digits_step(char *dig, size_t n, int *exp, int dir)
{
	size_t i = n;

	while (i-- > 0) {
		if (dir > 0 && dig[i] != '9') {
			dig[i]++;
			return 1;
		}
		if (dir < 0 && dig[i] != '0') {
			dig[i]--;
			break;
		}
		dig[i] = dir > 0 ? '0' : '9';
	}
	if (dir > 0) { /* all nines */
		dig[0] = '1';
		(*exp)++;
		return 1;
	}
	if (dig[0] != '0')
		return 1;
	if (n == 1)
		return 0;
	memmove(dig, dig + 1, n - 1); /* "0999" -> "999" + one more 9 */
	dig[n - 1] = '9';
	(*exp)--;
	return 1;
}

/*
 * Shortest decimal digits that read back as d (finite, non-zero): the
 * digits without sign or point go into dig, the result is the decimal
 * exponent of the first digit. Like Python's repr: for each length the
 * correctly rounded candidate is tried first, then its two neighbours,
 * which matter at powers of two where the rounding interval is lopsided.
 * Locale-independent: the radix character printed by snprintf is skipped
 * and the round-trip check parses a string without one ("15e-8").
 */
static int shortest_digits(double d, char dig[24])
{
	char tmp[48], alt[24];
	int p, exp = 0, aexp, dir;
	size_t n = 0;

	for (p = 0; p <= 16; p++) {
		const char *s;

		snprintf(tmp, sizeof(tmp), "%.*e", p, d);
		s = tmp;
		if (*s == '-')
			s++;
		n = 0;
		while (*s && *s != 'e') {
			if (*s >= '0' && *s <= '9')
				dig[n++] = *s;
			s++;
		}
		dig[n] = '\0';
		exp = (int)strtol(s + 1, NULL, 10);
		if (digits_roundtrip(d, dig, n, exp))
			goto strip;
		for (dir = -1; dir <= 1; dir += 2) {
			memcpy(alt, dig, n + 1);
			aexp = exp;
			if (digits_step(alt, n, &aexp, dir) && digits_roundtrip(d, alt, n, aexp)) {
				memcpy(dig, alt, n + 1);
				exp = aexp;
				goto strip;
			}
		}
	}
strip:
	while (n > 1 && dig[n - 1] == '0')
		dig[--n] = '\0';
	return exp;
}

void tract_json_float_repr(char *out, size_t outlen, double d)
{
	char dig[24];
	char tmp[48];
	size_t n, pos = 0;
	int x, i;

	if (isnan(d)) {
		snprintf(out, outlen, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(out, outlen, "%s", d < 0 ? "-Infinity" : "Infinity");
		return;
	}
	if (d == 0) {
		snprintf(out, outlen, "%s", signbit(d) ? "-0.0" : "0.0");
		return;
	}
	x = shortest_digits(d, dig);
	n = strlen(dig);
	if (d < 0)
		tmp[pos++] = '-';
	if (x >= -4 && x < 16) {
		if (x >= 0) {
			for (i = 0; i <= x; i++)
				tmp[pos++] = (size_t)i < n ? dig[i] : '0';
			tmp[pos++] = '.';
			if ((size_t)x + 1 < n) {
				for (i = x + 1; (size_t)i < n; i++)
					tmp[pos++] = dig[i];
			} else {
				tmp[pos++] = '0';
			}
		} else {
			tmp[pos++] = '0';
			tmp[pos++] = '.';
			for (i = 0; i < -x - 1; i++)
				tmp[pos++] = '0';
			for (i = 0; (size_t)i < n; i++)
				tmp[pos++] = dig[i];
		}
		tmp[pos] = '\0';
	} else {
		tmp[pos++] = dig[0];
		if (n > 1) {
			tmp[pos++] = '.';
			for (i = 1; (size_t)i < n; i++)
				tmp[pos++] = dig[i];
		}
		snprintf(tmp + pos, sizeof(tmp) - pos, "e%c%02d", x < 0 ? '-' : '+', abs(x));
	}
	snprintf(out, outlen, "%s", tmp);
}

/* Text of a number item: its literal, or one derived from valuedouble. */
static const char *number_text(const cJSON *item, char tmp[48])
{
	double d = item->valuedouble;

	if (item->valuestring)
		return item->valuestring;
	if (isfinite(d) && d == floor(d) && fabs(d) <= JSON_EXACT_INT)
		snprintf(tmp, 48, "%" PRId64, (int64_t)d);
	else
		tract_json_float_repr(tmp, 48, d);
	return tmp;
}

static char *str_dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = cJSON_malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* cJSON's saturating conversion of valuedouble to valueint. */
static int saturate_int(double d)
{
	if (d >= INT_MAX)
		return INT_MAX;
	if (d <= (double)INT_MIN)
		return INT_MIN;
	if (isnan(d))
		return 0;
	return (int)d;
}

cJSON *tract_json_new_int(int64_t v)
{
	char tmp[32];
	cJSON *item = cJSON_CreateNumber((double)v);

	if (!item)
		return NULL;
	snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	item->valuestring = str_dup(tmp);
	if (!item->valuestring) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

cJSON *tract_json_new_float(double v)
{
	char tmp[48];
	cJSON *item = cJSON_CreateNumber(v);

	if (!item)
		return NULL;
	/* Non-finite values keep no literal; they render as NaN/Infinity. */
	if (!isfinite(v))
		return item;
	tract_json_float_repr(tmp, sizeof(tmp), v);
	item->valuestring = str_dup(tmp);
	if (!item->valuestring) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

int tract_json_is_int(const cJSON *item)
{
	double d;

	if (!cJSON_IsNumber(item))
		return 0;
	if (item->valuestring)
		return strpbrk(item->valuestring, ".eE") == NULL;
	d = item->valuedouble;
	return isfinite(d) && d == floor(d) && fabs(d) <= JSON_EXACT_INT;
}

cJSON *tract_json_dup(const cJSON *item)
{
	return cJSON_Duplicate(item, 1);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

/* One number token found by the lexer, in document order. */
typedef struct {
	char *text;   /* canonical literal (cJSON_malloc'd), NULL for null */
	double value; /* its double value */
} json_num;

typedef struct {
	const char *in; /* original text */
	char *work;     /* handed to cJSON: in itself, until a change makes it
	                 * a copy (own_work) with numbers replaced by "0   " */
	int owned;      /* work is that copy */
	size_t len;
	unsigned flags;
	json_num *nums;
	size_t nnums, capnums, next;
	int has_nul;    /* a "\u0000" was replaced in work (lex_string) */
	char *errbuf;
	size_t errlen;
} json_parser;

static int parse_error(json_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int parse_error(json_parser *p, int code, const char *fmt, ...)
{
	va_list ap;

	if (p->errbuf && p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->errbuf, p->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* Make work a private copy of the input (the first change needs one; a
 * text without numbers or "\u0000" is parsed in place). */
static int own_work(json_parser *p)
{
	char *w;

	if (p->owned)
		return 0;
	w = malloc(p->len + 1);
	if (!w)
		return TRACT_ENOMEM;
	memcpy(w, p->in, p->len);
	w[p->len] = '\0';
	p->work = w;
	p->owned = 1;
	return 0;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_numchar(char c)
{
	return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Check the string starting at the quote at *pos; leave *pos after it. */
static int lex_string(json_parser *p, size_t *pos)
{
	const char *s = p->in;
	size_t i = *pos + 1;
	uint32_t cp, lo;

	for (;;) {
		unsigned char c;

		if (i >= p->len)
			return parse_error(p, TRACT_EINVAL, "unterminated string at byte %zu",
			                   *pos);
		c = (unsigned char)s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return parse_error(p, TRACT_EINVAL,
			                   "control character in string at byte %zu", i);
		if (c != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= p->len)
			return parse_error(p, TRACT_EINVAL, "unterminated string at byte %zu",
			                   *pos);
		switch (s[i + 1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			i += 2;
			continue;
		case 'u':
			break;
		default:
			return parse_error(p, TRACT_EINVAL, "invalid escape in string at byte %zu",
			                   i);
		}
		if (p->len - i < 6 || hex4(s + i + 2, &cp) < 0)
			return parse_error(p, TRACT_EINVAL, "invalid escape in string at byte %zu",
			                   i);
		if (cp == 0) {
			/*
			 * cJSON strings end at a NUL, so U+0000 is kept as C0 80
			 * (modified UTF-8; see json.h). cJSON copies raw bytes as
			 * they are, so the six bytes of the escape become three
			 * such pairs in its input, collapsed to one by
			 * collapse_nul() once it has parsed. The input validator
			 * refused every raw C0 byte, so each C0 there is ours.
			 */
			if (own_work(p) < 0)
				return parse_error(p, TRACT_ENOMEM, "out of memory");
			memcpy(p->work + i, "\xC0\x80\xC0\x80\xC0\x80", 6);
			p->has_nul = 1;
			i += 6;
			continue;
		}
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return parse_error(p, TRACT_EINVAL,
			                   "lone surrogate escape in string at byte %zu", i);
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (p->len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' ||
			    hex4(s + i + 8, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
				return parse_error(p, TRACT_EINVAL,
				                   "lone surrogate escape in string at byte %zu",
				                   i);
			i += 12;
		} else {
			i += 6;
		}
	}
	*pos = i + 1;
	return 0;
}

/*
 * Length of the RFC 8259 number at s[0..n), or 0 when it is not one;
 * *is_float tells whether it has a fraction or an exponent.
 */
static size_t number_grammar(const char *s, size_t n, int *is_float)
{
	size_t i = 0;

	*is_float = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		i++;
	} else if (i < n && s[i] >= '1' && s[i] <= '9') {
		while (i < n && is_digit(s[i]))
			i++;
	} else {
		return 0;
	}
	if (i < n && s[i] == '.') {
		*is_float = 1;
		i++;
		if (i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		*is_float = 1;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	return i;
}

/*
 * Value of the float literal s[0..n) (valid grammar), computed without the
 * locale's radix character: "-1.25e3" is read as "-125e1".
 */
static int float_value(const char *s, size_t n, double *out)
{
	char *tmp = malloc(n + 32);
	size_t i = 0, k = 0, nfrac = 0;
	long long exp = 0;
	int neg_exp = 0;

	if (!tmp)
		return TRACT_ENOMEM;
	if (s[i] == '-')
		tmp[k++] = s[i++];
	while (i < n && is_digit(s[i]))
		tmp[k++] = s[i++];
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i])) {
			tmp[k++] = s[i++];
			nfrac++;
		}
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (s[i] == '+' || s[i] == '-')
			neg_exp = s[i++] == '-';
		for (; i < n; i++) {
			if (exp < 1000000000000LL)
				exp = exp * 10 + (s[i] - '0');
		}
		if (neg_exp)
			exp = -exp;
	}
	exp -= (long long)nfrac;
	snprintf(tmp + k, 32, "e%lld", exp);
	*out = strtod(tmp, NULL);
	free(tmp);
	return 0;
}

static int push_num(json_parser *p, char *text, double value)
{
	json_num *nv;
	size_t cap;

	if (p->nnums == p->capnums) {
		cap = p->capnums ? p->capnums * 2 : 16;
		nv = realloc(p->nums, cap * sizeof(*nv));
		if (!nv)
			return TRACT_ENOMEM;
		p->nums = nv;
		p->capnums = cap;
	}
	p->nums[p->nnums].text = text;
	p->nums[p->nnums].value = value;
	p->nnums++;
	return 0;
}

/* A non-finite number at pos: an error, or null with the flag. */
static int nonfinite(json_parser *p, size_t pos)
{
	if (!(p->flags & TRACT_JSON_NONFINITE_TO_NULL))
		return parse_error(p, TRACT_EINVAL, "non-finite number at byte %zu", pos);
	return push_num(p, NULL, 0) < 0 ? TRACT_ENOMEM : 0;
}

/* Replace the token at s[0..n) in the work copy by "0" and spaces. */
static int blank_number(json_parser *p, size_t pos, size_t n)
{
	if (n == 1 && p->work[pos] == '0')
		return 0;
	if (own_work(p) < 0)
		return parse_error(p, TRACT_ENOMEM, "out of memory");
	p->work[pos] = '0';
	memset(p->work + pos + 1, ' ', n - 1);
	return 0;
}

/* Check and record the number (or NaN/Infinity) token at *pos. */
static int lex_number(json_parser *p, size_t *pos)
{
	const char *s = p->in + *pos;
	size_t avail = p->len - *pos, n = 0, glen;
	char tmp[48], *text = NULL;
	double d = 0;
	int is_float, rc;

	if (avail >= 3 && !memcmp(s, "NaN", 3))
		n = 3;
	else if (avail >= 8 && !memcmp(s, "Infinity", 8))
		n = 8;
	else if (avail >= 9 && !memcmp(s, "-Infinity", 9))
		n = 9;
	if (n) {
		rc = nonfinite(p, *pos);
		if (rc < 0)
			return rc;
		goto done;
	}
	while (n < avail && is_numchar(s[n]))
		n++;
	if (n == 0)
		return parse_error(p, TRACT_EINVAL, "invalid JSON at byte %zu", *pos);
	glen = number_grammar(s, n, &is_float);
	if (!glen || glen != n)
		return parse_error(p, TRACT_EINVAL, "invalid number at byte %zu", *pos);
	if (is_float) {
		if (float_value(s, n, &d) < 0)
			return parse_error(p, TRACT_ENOMEM, "out of memory");
		if (isinf(d)) {
			rc = nonfinite(p, *pos);
			if (rc < 0)
				return rc;
			goto done;
		}
		tract_json_float_repr(tmp, sizeof(tmp), d);
		text = str_dup(tmp);
	} else {
		/* integers keep their digits; "-0" is the integer 0 */
		size_t skip = n == 2 && s[0] == '-' && s[1] == '0';

		text = cJSON_malloc(n - skip + 1);
		if (text) {
			memcpy(text, s + skip, n - skip);
			text[n - skip] = '\0';
			d = strtod(text, NULL);
		}
	}
	if (!text || push_num(p, text, d) < 0) {
		cJSON_free(text);
		return parse_error(p, TRACT_ENOMEM, "out of memory");
	}
done:
	if (blank_number(p, *pos, n) < 0)
		return TRACT_ENOMEM;
	*pos += n;
	return 0;
}

/*
 * Lexical pass over the whole text: validates strings, numbers, literals,
 * whitespace and nesting depth, and records number tokens in document
 * order. cJSON then checks the structure of the (blanked) work copy.
 */
static int lex(json_parser *p)
{
	const char *s = p->in;
	size_t i = 0;
	int depth = 0, rc, any = 0;

	while (i < p->len) {
		char c = s[i];

		if (is_ws(c)) {
			i++;
			continue;
		}
		any = 1;
		switch (c) {
		case '{':
		case '[':
			if (++depth > JSON_MAX_DEPTH)
				return parse_error(p, TRACT_EINVAL,
				                   "nesting deeper than %d at byte %zu",
				                   JSON_MAX_DEPTH, i);
			i++;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			i++;
			break;
		case ',':
		case ':':
			i++;
			break;
		case '"':
			rc = lex_string(p, &i);
			if (rc < 0)
				return rc;
			break;
		case 't':
		case 'f':
		case 'n': {
			const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
			size_t n = strlen(lit);

			if (p->len - i < n || memcmp(s + i, lit, n))
				return parse_error(p, TRACT_EINVAL, "invalid JSON at byte %zu", i);
			i += n;
			break;
		}
		default:
			if (c == '-' || is_digit(c) || c == 'N' || c == 'I') {
				rc = lex_number(p, &i);
				if (rc < 0)
					return rc;
				break;
			}
			return parse_error(p, TRACT_EINVAL, "invalid JSON at byte %zu", i);
		}
	}
	if (!any)
		return parse_error(p, TRACT_EINVAL, "empty JSON input");
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const char *ka = (*(const cJSON *const *)a)->string;
	const char *kb = (*(const cJSON *const *)b)->string;

	return strcmp(ka ? ka : "", kb ? kb : "");
}

static int check_duplicates(json_parser *p, const cJSON *obj)
{
	const cJSON *local[16], **keys = local;
	const cJSON *c;
	size_t n = 0, i;
	int rc = 0;

	for (c = obj->child; c; c = c->next)
		n++;
	if (n < 2)
		return 0;
	if (n > 16) {
		keys = malloc(n * sizeof(*keys));
		if (!keys)
			return parse_error(p, TRACT_ENOMEM, "out of memory");
	}
	n = 0;
	for (c = obj->child; c; c = c->next)
		keys[n++] = c;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (i = 1; i < n; i++) {
		if (key_cmp(&keys[i - 1], &keys[i]) == 0) {
			const char *k = keys[i]->string;
			size_t kl = strlen(k), cut = kl;
			tract_buf q = TRACT_BUF_INIT;

			/* Quote at most 64 bytes of the key, cut at a character start. */
			if (cut > 64) {
				cut = 64;
				while (cut > 0 && ((unsigned char)k[cut] & 0xC0) == 0x80)
					cut--;
			}
			if (tract_json_escape(&q, k, cut, 0) < 0) {
				tract_buf_dispose(&q);
				rc = parse_error(p, TRACT_ENOMEM, "out of memory");
				goto out;
			}
			rc = parse_error(p, TRACT_EINVAL, "duplicate key %s%s", q.ptr,
			                 cut < kl ? "..." : "");
			tract_buf_dispose(&q);
			goto out;
		}
	}
out:
	if (keys != local)
		free(keys);
	return rc;
}

/* Turn each C0 80 C0 80 C0 80 that lex_string() wrote for "\u0000" into
 * one C0 80, in place. */
static void collapse_nul(char *s)
{
	char *w;

	if (!s || !(s = strchr(s, '\xC0')))
		return;
	for (w = s; *s;) {
		if (strncmp(s, "\xC0\x80\xC0\x80\xC0\x80", 6) == 0) {
			*w++ = '\xC0';
			*w++ = '\x80';
			s += 6;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
}

/* Pre-order walk: attach number literals in document order, check keys. */
static int attach(json_parser *p, cJSON *item)
{
	cJSON *c;
	json_num *num;
	int rc;

	if (p->has_nul && cJSON_IsString(item))
		collapse_nul(item->valuestring);
	if (p->has_nul && cJSON_IsObject(item)) {
		/* Keys before the duplicate check, which quotes them. */
		for (c = item->child; c; c = c->next)
			collapse_nul(c->string);
	}
	if (cJSON_IsNumber(item)) {
		if (p->next >= p->nnums)
			return parse_error(p, TRACT_EINVAL, "invalid JSON (number mismatch)");
		num = &p->nums[p->next++];
		if (!num->text) {
			item->type = cJSON_NULL;
			item->valuedouble = 0;
			item->valueint = 0;
			return 0;
		}
		item->valuestring = num->text;
		num->text = NULL;
		item->valuedouble = num->value;
		item->valueint = saturate_int(num->value);
		return 0;
	}
	if (cJSON_IsObject(item)) {
		rc = check_duplicates(p, item);
		if (rc < 0)
			return rc;
	}
	if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
		for (c = item->child; c; c = c->next) {
			rc = attach(p, c);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/*
 * Whether the work copy (tokens checked by lex, numbers blanked to "0") is
 * one well-formed JSON value. cJSON returns NULL both for a syntax error
 * and when memory runs out; this tells the two apart without allocating.
 */
static int structure_ok(const char *s, size_t len)
{
	enum { VALUE, VALUE_OR_CLOSE, KEY, KEY_OR_CLOSE, COLON, NEXT, DONE } want = VALUE;
	char stack[JSON_MAX_DEPTH + 1];
	size_t i = 0;
	int depth = 0;

	while (i < len) {
		char c = s[i];

		if (is_ws(c)) {
			i++;
			continue;
		}
		if ((c == '}' || c == ']') &&
		    (want == NEXT || (want == VALUE_OR_CLOSE && c == ']') ||
		     (want == KEY_OR_CLOSE && c == '}'))) {
			if (depth == 0 || stack[depth - 1] != (c == '}' ? '{' : '['))
				return 0;
			depth--;
			want = depth ? NEXT : DONE;
			i++;
			continue;
		}
		if (want == NEXT && c == ',') {
			want = stack[depth - 1] == '{' ? KEY : VALUE;
			i++;
			continue;
		}
		if (want == COLON) {
			if (c != ':')
				return 0;
			want = VALUE;
			i++;
			continue;
		}
		if ((want == KEY || want == KEY_OR_CLOSE) && c != '"')
			return 0;
		if (want == NEXT || want == DONE)
			return 0;
		if (c == '{' || c == '[') {
			if (depth >= JSON_MAX_DEPTH)
				return 0;
			stack[depth++] = c;
			want = c == '{' ? KEY_OR_CLOSE : VALUE_OR_CLOSE;
			i++;
			continue;
		}
		if (c == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			if (i >= len)
				return 0;
			i++;
		} else if (c == 't' || c == 'f' || c == 'n') {
			while (i < len && s[i] >= 'a' && s[i] <= 'z')
				i++;
		} else if (c == '0') {
			i++;
		} else {
			return 0;
		}
		if (want == KEY || want == KEY_OR_CLOSE)
			want = COLON;
		else
			want = depth ? NEXT : DONE;
	}
	return want == DONE;
}

int tract_json_parse(cJSON **out, const char *text, size_t len, unsigned flags, char *errbuf,
                     size_t errlen)
{
	json_parser p = {
	    .in = text, .len = len, .flags = flags, .errbuf = errbuf, .errlen = errlen};
	cJSON *root = NULL;
	const char *end = NULL;
	size_t bad, i;
	int rc;

	*out = NULL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	bad = utf8_check(text, len);
	if (bad < len) {
		rc = parse_error(&p, TRACT_EINVAL, "invalid UTF-8 at byte %zu", bad);
		goto out;
	}
	p.work = (char *)text; /* read only until own_work() */
	rc = lex(&p);
	if (rc < 0)
		goto out;
	root = cJSON_ParseWithLengthOpts(p.work, len, &end, 0);
	if (!root && structure_ok(p.work, len)) {
		rc = parse_error(&p, TRACT_ENOMEM, "out of memory");
		goto out;
	}
	if (!root) {
		rc = parse_error(&p, TRACT_EINVAL, "invalid JSON at byte %zu",
		                 end ? (size_t)(end - p.work) : (size_t)0);
		goto out;
	}
	for (i = (size_t)(end - p.work); i < len && is_ws(p.work[i]); i++)
		;
	if (i < len) {
		rc = parse_error(&p, TRACT_EINVAL,
		                 "trailing characters after JSON value at byte %zu", i);
		goto out;
	}
	rc = attach(&p, root);
	if (rc < 0)
		goto out;
	if (p.next != p.nnums) {
		rc = parse_error(&p, TRACT_EINVAL, "invalid JSON (number mismatch)");
		goto out;
	}
	*out = root;
	root = NULL;
out:
	for (i = 0; i < p.nnums; i++)
		cJSON_free(p.nums[i].text);
	free(p.nums);
	if (p.owned)
		free(p.work);
	cJSON_Delete(root);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

static int put_u(tract_buf *b, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = {'\\',       'u', hex[(u >> 12) & 15], hex[(u >> 8) & 15], hex[(u >> 4) & 15],
	             hex[u & 15]};

	return tract_buf_put(b, e, sizeof(e));
}

/*
 * Bytes that are not valid UTF-8 are written as U+FFFD (escaped or raw), so
 * the output is always valid UTF-8 JSON; callers validate input beforehand.
 */
int tract_json_escape(tract_buf *b, const char *s, size_t len, int ascii_only)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, n;
	uint32_t cp;
	int rc;

	rc = tract_buf_putc(b, '"');
	if (rc < 0)
		goto out;
	while (i < len) {
		unsigned char c = u[i];
		const char *esc = NULL;

		if (c >= 0x20 && c != '"' && c != '\\' &&
		    (c < 0x7F || (!ascii_only && c == 0x7F))) {
			i++;
			continue;
		}
		/* flush the plain run before i */
		if (i > run) {
			rc = tract_buf_put(b, s + run, i - run);
			if (rc < 0)
				goto out;
		}
		n = 1;
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			break;
		}
		if (esc) {
			rc = tract_buf_put(b, esc, 2);
		} else if (c < 0x80) {
			rc = put_u(b, c); /* other controls, and U+007F in ascii mode */
		} else if (c == 0xC0 && i + 1 < len && u[i + 1] == 0x80) {
			/* U+0000 kept as C0 80 (json.h): "\u0000" in every style, as
			 * Python's json.dumps writes it. */
			n = 2;
			rc = put_u(b, 0);
		} else {
			n = utf8_seq(u + i, len - i, &cp);
			if (!n) {
				n = 1;
				cp = 0xFFFD;
				rc =
				    ascii_only ? put_u(b, cp) : tract_buf_put(b, "\xEF\xBF\xBD", 3);
			} else if (!ascii_only) {
				rc = tract_buf_put(b, s + i, n);
			} else if (cp > 0xFFFF) {
				cp -= 0x10000;
				rc = put_u(b, 0xD800 | (cp >> 10));
				if (rc == 0)
					rc = put_u(b, 0xDC00 | (cp & 0x3FF));
			} else {
				rc = put_u(b, cp);
			}
		}
		if (rc < 0)
			goto out;
		i += n;
		run = i;
	}
	if (i > run) {
		rc = tract_buf_put(b, s + run, i - run);
		if (rc < 0)
			goto out;
	}
	rc = tract_buf_putc(b, '"');
out:
	return rc < 0 ? TRACT_ENOMEM : 0;
}

typedef struct {
	int sorted;
	int ascii;
	int pretty;
	const char *item_sep;
	const char *key_sep;
} render_style;

static const render_style styles[] = {
    [TRACT_JSON_CANON] = {1, 0, 0, ",", ":"},    [TRACT_JSON_STORE] = {1, 0, 0, ", ", ": "},
    [TRACT_JSON_COLUMN] = {0, 1, 0, ", ", ": "}, [TRACT_JSON_TOKEN] = {1, 1, 0, ", ", ": "},
    [TRACT_JSON_PRETTY] = {0, 1, 1, ",", ": "},  [TRACT_JSON_FLAT] = {0, 1, 0, ", ", ": "},
};

/*
 * Python sorts keys by code point, and U+0000 comes first: before every
 * other character but after the end of a shorter key.
 */
int tract_json_strcmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	int cx, cy;

	while (*x && *x == *y) {
		x++;
		y++;
	}
	/* Equal prefixes end on a character boundary or inside the same
	 * character, where a C0 lead byte has only one possible follower. */
	cx = !*x ? -1 : *x == 0xC0 && x[1] == 0x80 ? 0 : *x;
	cy = !*y ? -1 : *y == 0xC0 && y[1] == 0x80 ? 0 : *y;
	return (cx > cy) - (cx < cy);
}

/* Sort entry: the index keeps the sort stable for (invalid) equal keys. */
typedef struct {
	const cJSON *item;
	size_t index;
} sort_entry;

static int entry_cmp(const void *a, const void *b)
{
	const sort_entry *ea = a, *eb = b;
	const char *ka = ea->item->string ? ea->item->string : "";
	const char *kb = eb->item->string ? eb->item->string : "";
	int c = tract_json_strcmp(ka, kb);

	if (c)
		return c;
	return ea->index < eb->index ? -1 : ea->index > eb->index;
}

static int put_indent(tract_buf *b, int depth)
{
	size_t n = (size_t)depth * 2;
	int rc;

	rc = tract_buf_grow(b, n + 1);
	if (rc < 0)
		return rc;
	b->ptr[b->len++] = '\n';
	memset(b->ptr + b->len, ' ', n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return 0;
}

static int render_value(tract_buf *b, const cJSON *item, const render_style *st, int depth);

static int render_container(tract_buf *b, const cJSON *item, const render_style *st, int depth)
{
	int is_obj = cJSON_IsObject(item);
	sort_entry local[16], *ents = local;
	const cJSON *c;
	size_t n = 0, i;
	int rc = 0;

	for (c = item->child; c; c = c->next)
		n++;
	if (n == 0)
		return tract_buf_puts(b, is_obj ? "{}" : "[]");
	if (n > 16) {
		ents = malloc(n * sizeof(*ents));
		if (!ents)
			return TRACT_ENOMEM;
	}
	n = 0;
	for (c = item->child; c; c = c->next) {
		ents[n].item = c;
		ents[n].index = n;
		n++;
	}
	if (is_obj && st->sorted)
		qsort(ents, n, sizeof(*ents), entry_cmp);
	rc = tract_buf_putc(b, is_obj ? '{' : '[');
	if (rc < 0)
		goto out;
	for (i = 0; i < n; i++) {
		c = ents[i].item;
		if (i > 0) {
			rc = tract_buf_puts(b, st->item_sep);
			if (rc < 0)
				goto out;
		}
		if (st->pretty) {
			rc = put_indent(b, depth + 1);
			if (rc < 0)
				goto out;
		}
		if (is_obj) {
			const char *k = c->string ? c->string : "";

			rc = tract_json_escape(b, k, strlen(k), st->ascii);
			if (rc < 0)
				goto out;
			rc = tract_buf_puts(b, st->key_sep);
			if (rc < 0)
				goto out;
		}
		rc = render_value(b, c, st, depth + 1);
		if (rc < 0)
			goto out;
	}
	if (st->pretty) {
		rc = put_indent(b, depth);
		if (rc < 0)
			goto out;
	}
	rc = tract_buf_putc(b, is_obj ? '}' : ']');
out:
	if (ents != local)
		free(ents);
	return rc;
}

static int render_value(tract_buf *b, const cJSON *item, const render_style *st, int depth)
{
	char tmp[48];
	const char *s;

	switch (item->type & 0xFF) {
	case cJSON_NULL:
		return tract_buf_puts(b, "null");
	case cJSON_True:
		return tract_buf_puts(b, "true");
	case cJSON_False:
		return tract_buf_puts(b, "false");
	case cJSON_Number:
		return tract_buf_puts(b, number_text(item, tmp));
	case cJSON_String:
		s = item->valuestring ? item->valuestring : "";
		return tract_json_escape(b, s, strlen(s), st->ascii);
	case cJSON_Raw:
		return tract_buf_puts(b, item->valuestring ? item->valuestring : "");
	case cJSON_Array:
	case cJSON_Object:
		return render_container(b, item, st, depth);
	default:
		return tract_buf_puts(b, "null");
	}
}

int tract_json_render(tract_buf *b, const cJSON *item, tract_json_style style)
{
	if ((unsigned)style >= sizeof(styles) / sizeof(styles[0]))
		style = TRACT_JSON_CANON;
	return render_value(b, item, &styles[style], 0) < 0 ? TRACT_ENOMEM : 0;
}

int tract_json_render_to(tract_buf_sink sink, void *ctx, const cJSON *item,
			 tract_json_style style)
{
	tract_buf b;
	int rc;

	tract_buf_init_sink(&b, sink, ctx);
	if ((unsigned)style >= sizeof(styles) / sizeof(styles[0]))
		style = TRACT_JSON_CANON;
	rc = render_value(&b, item, &styles[style], 0);
	if (rc == 0)
		rc = tract_buf_flush(&b);
	tract_buf_dispose(&b);
	return rc;
}

char *tract_json_render_str(const cJSON *item, tract_json_style style)
{
	tract_buf b = TRACT_BUF_INIT;

	if (tract_json_render(&b, item, style) < 0) {
		tract_buf_dispose(&b);
		return NULL;
	}
	return tract_buf_detach(&b);
}

/* ------------------------------------------------------------------ */
/* Sorting and comparison                                              */
/* ------------------------------------------------------------------ */

static int key_before_eq(const cJSON *a, const cJSON *b)
{
	return tract_json_strcmp(a->string ? a->string : "", b->string ? b->string : "") <= 0;
}

/* Stable merge sort of a next-linked member list by key; prev is fixed later. */
static cJSON *sort_list(cJSON *head, size_t n)
{
	cJSON *left, *right, *c, **tail, *res = NULL;
	size_t i, half;

	if (n < 2)
		return head;
	half = n / 2;
	c = head;
	for (i = 1; i < half; i++)
		c = c->next;
	right = c->next;
	c->next = NULL;
	left = sort_list(head, half);
	right = sort_list(right, n - half);
	tail = &res;
	while (left && right) {
		if (key_before_eq(left, right)) {
			*tail = left;
			left = left->next;
		} else {
			*tail = right;
			right = right->next;
		}
		tail = &(*tail)->next;
	}
	*tail = left ? left : right;
	return res;
}

void tract_json_sort(cJSON *item)
{
	cJSON *c, *prev = NULL;
	size_t n = 0;

	if (!item || !(cJSON_IsObject(item) || cJSON_IsArray(item)))
		return;
	for (c = item->child; c; c = c->next) {
		tract_json_sort(c);
		n++;
	}
	if (!cJSON_IsObject(item) || n < 2)
		return;
	item->child = sort_list(item->child, n);
	for (c = item->child; c; c = c->next) {
		c->prev = prev;
		prev = c;
	}
	item->child->prev = prev; /* cJSON: the first child's prev is the last one */
}

int tract_json_equal(const cJSON *a, const cJSON *b)
{
	char ta[48], tb[48];
	const cJSON *ca, *cb;

	if (!a || !b)
		return a == b;
	if ((a->type & 0xFF) != (b->type & 0xFF))
		return 0;
	switch (a->type & 0xFF) {
	case cJSON_Number:
		return strcmp(number_text(a, ta), number_text(b, tb)) == 0;
	case cJSON_String:
	case cJSON_Raw:
		return strcmp(a->valuestring ? a->valuestring : "",
		              b->valuestring ? b->valuestring : "") == 0;
	case cJSON_Array:
	case cJSON_Object:
		for (ca = a->child, cb = b->child; ca && cb; ca = ca->next, cb = cb->next) {
			if (cJSON_IsObject(a) &&
			    strcmp(ca->string ? ca->string : "", cb->string ? cb->string : ""))
				return 0;
			if (!tract_json_equal(ca, cb))
				return 0;
		}
		return ca == NULL && cb == NULL;
	default:
		return 1;
	}
}
