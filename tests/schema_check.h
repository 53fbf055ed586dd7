/*
 * schema_check.h - request bodies checked against the providers'
 * published request schemas (tests/schemas/): a small JSON Schema
 * validator (schema_valid) and the pairing rules the schemas cannot say
 * (openai_rules, anthropic_rules). Shared by test_tools.c and
 * test_e2e_tools.c; include after cmocka.h, testutil.h and cJSON, with
 * TOOLS_SCHEMA_DIR naming tests/schemas and PCRE2_CODE_UNIT_WIDTH 8.
 */
#ifndef TRACT_TEST_SCHEMA_CHECK_H
#define TRACT_TEST_SCHEMA_CHECK_H

#include <errno.h>
#include <pcre2.h>

#ifndef TOOLS_SCHEMA_DIR
#error "TOOLS_SCHEMA_DIR must name tests/schemas"
#endif

/* ------------------------------------------------------------------ */
/* a small JSON Schema validator                                        */
/* ------------------------------------------------------------------ */

/*
 * The keywords the two schemas use: $ref (to #/components/schemas/NAME),
 * type, enum, const, properties, required, additionalProperties, items,
 * minItems, minLength, maxLength, pattern, anyOf, oneOf, allOf. format is
 * an annotation here (as JSON Schema's default vocabulary has it);
 * components is the definitions' container. Any other keyword fails the
 * test: a remade schema must not be weakened silently.
 */
typedef struct {
	const cJSON *root;
	char why[512]; /* the first reason a value was refused */
} validator;

static int v_check(validator *v, const cJSON *s, const cJSON *x, const char *path);

static void v_why(validator *v, const char *path, const char *what)
{
	if (!v->why[0])
		snprintf(v->why, sizeof(v->why), "%s: %s", path, what);
}

static int v_type(const cJSON *x, const char *t)
{
	if (strcmp(t, "object") == 0)
		return cJSON_IsObject(x);
	if (strcmp(t, "array") == 0)
		return cJSON_IsArray(x);
	if (strcmp(t, "string") == 0)
		return cJSON_IsString(x);
	if (strcmp(t, "boolean") == 0)
		return cJSON_IsBool(x);
	if (strcmp(t, "null") == 0)
		return cJSON_IsNull(x);
	if (strcmp(t, "number") == 0)
		return cJSON_IsNumber(x);
	if (strcmp(t, "integer") == 0)
		return cJSON_IsNumber(x) && x->valuedouble == (double)(long long)x->valuedouble;
	fail_msg("schema: unknown type '%s'", t);
	return 0;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static int v_pattern(const char *pattern, const char *s)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *re =
	    pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
	pcre2_match_data *md;
	int rc;

	if (!re)
		fail_msg("schema: bad pattern %s", pattern);
	md = pcre2_match_data_create_from_pattern(re, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc >= 0;
}

/* Silently try a subschema (anyOf, oneOf): its reason is not the one kept. */
static int v_try(validator *v, const cJSON *s, const cJSON *x, const char *path)
{
	char saved[sizeof(v->why)];
	int ok;

	memcpy(saved, v->why, sizeof(saved));
	v->why[0] = '\0';
	ok = v_check(v, s, x, path);
	memcpy(v->why, saved, sizeof(saved));
	return ok;
}

static int v_check(validator *v, const cJSON *s, const cJSON *x, const char *path)
{
	const cJSON *k;
	char sub[400];
	int ok = 1;

	if (cJSON_IsTrue(s))
		return 1;
	if (!cJSON_IsObject(s))
		fail_msg("schema at %s is not an object", path);
	cJSON_ArrayForEach(k, s)
	{
		const char *kw = k->string;
		if (strcmp(kw, "$ref") == 0) {
			const char *prefix = "#/components/schemas/";
			const cJSON *target;
			if (strncmp(k->valuestring, prefix, strlen(prefix)) != 0)
				fail_msg("schema: unsupported $ref %s", k->valuestring);
			target = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(
			        cJSON_GetObjectItemCaseSensitive(v->root, "components"), "schemas"),
			    k->valuestring + strlen(prefix));
			if (!target)
				fail_msg("schema: $ref %s not found", k->valuestring);
			ok &= v_check(v, target, x, path);
		} else if (strcmp(kw, "type") == 0) {
			if (!v_type(x, k->valuestring)) {
				snprintf(sub, sizeof(sub), "not of type %s", k->valuestring);
				v_why(v, path, sub);
				ok = 0;
			}
		} else if (strcmp(kw, "enum") == 0) {
			const cJSON *e;
			int found = 0;
			cJSON_ArrayForEach(e, k) found |= cJSON_Compare(e, x, 1);
			if (!found) {
				v_why(v, path, "not one of the enum's values");
				ok = 0;
			}
		} else if (strcmp(kw, "const") == 0) {
			if (!cJSON_Compare(k, x, 1)) {
				v_why(v, path, "not the const value");
				ok = 0;
			}
		} else if (strcmp(kw, "properties") == 0) {
			const cJSON *p;
			if (!cJSON_IsObject(x))
				continue;
			cJSON_ArrayForEach(p, k)
			{
				const cJSON *m = cJSON_GetObjectItemCaseSensitive(x, p->string);
				snprintf(sub, sizeof(sub), "%s.%s", path, p->string);
				if (m)
					ok &= v_check(v, p, m, sub);
			}
		} else if (strcmp(kw, "required") == 0) {
			const cJSON *r;
			if (!cJSON_IsObject(x))
				continue;
			cJSON_ArrayForEach(r, k)
			{
				if (!cJSON_GetObjectItemCaseSensitive(x, r->valuestring)) {
					snprintf(sub, sizeof(sub), "required member '%s' missing",
					         r->valuestring);
					v_why(v, path, sub);
					ok = 0;
				}
			}
		} else if (strcmp(kw, "additionalProperties") == 0) {
			const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
			const cJSON *m;
			if (!cJSON_IsObject(x))
				continue;
			cJSON_ArrayForEach(m, x)
			{
				if (cJSON_GetObjectItemCaseSensitive(props, m->string))
					continue;
				snprintf(sub, sizeof(sub), "%s.%s", path, m->string);
				if (cJSON_IsFalse(k)) {
					v_why(v, sub, "member not allowed");
					ok = 0;
				} else {
					ok &= v_check(v, k, m, sub);
				}
			}
		} else if (strcmp(kw, "items") == 0) {
			const cJSON *e;
			int i = 0;
			if (!cJSON_IsArray(x))
				continue;
			cJSON_ArrayForEach(e, x)
			{
				snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
				ok &= v_check(v, k, e, sub);
			}
		} else if (strcmp(kw, "minItems") == 0) {
			if (cJSON_IsArray(x) && cJSON_GetArraySize(x) < k->valueint) {
				v_why(v, path, "too few items");
				ok = 0;
			}
		} else if (strcmp(kw, "minLength") == 0 || strcmp(kw, "maxLength") == 0) {
			size_t n;
			if (!cJSON_IsString(x))
				continue;
			n = utf8_chars(x->valuestring);
			if (kw[1] == 'i' ? n < (size_t)k->valueint : n > (size_t)k->valueint) {
				v_why(v, path,
				      kw[1] == 'i' ? "string too short" : "string too long");
				ok = 0;
			}
		} else if (strcmp(kw, "pattern") == 0) {
			if (cJSON_IsString(x) && !v_pattern(k->valuestring, x->valuestring)) {
				v_why(v, path, "string does not match the pattern");
				ok = 0;
			}
		} else if (strcmp(kw, "anyOf") == 0 || strcmp(kw, "oneOf") == 0 ||
		           strcmp(kw, "allOf") == 0) {
			const cJSON *alt;
			int n = 0, total = 0;
			cJSON_ArrayForEach(alt, k)
			{
				total++;
				n += v_try(v, alt, x, path);
			}
			if (kw[1] == 'n' ? n == 0 : kw[1] == 'l' ? n != total : n != 1) {
				snprintf(sub, sizeof(sub), "%d of %d alternatives of %s match", n,
				         total, kw);
				v_why(v, path, sub);
				ok = 0;
			}
		} else if (strcmp(kw, "format") == 0 || strcmp(kw, "components") == 0) {
			/* an annotation; the definitions */
		} else {
			fail_msg("schema: keyword '%s' is not supported by this validator", kw);
		}
	}
	return ok;
}

static cJSON *load_schema(const char *name)
{
	char path[1024];
	char *text;
	cJSON *s;

	snprintf(path, sizeof(path), "%s/%s", TOOLS_SCHEMA_DIR, name);
	text = tu_read_file(path, NULL);
	if (!text)
		fail_msg("%s: %s", path, strerror(errno));
	s = cJSON_Parse(text);
	free(text);
	if (!s)
		fail_msg("%s is not JSON", path);
	return s;
}

/* 1 when body (JSON text) is valid against the schema file; why says why not. */
static int schema_valid(const char *schema_file, const char *body, char *why, size_t whylen)
{
	cJSON *s = load_schema(schema_file), *x = cJSON_Parse(body);
	validator v;
	int ok;

	if (!x)
		fail_msg("body is not JSON: %s", body);
	memset(&v, 0, sizeof(v));
	v.root = s;
	ok = v_check(&v, s, x, "$");
	if (why)
		snprintf(why, whylen, "%s", v.why);
	cJSON_Delete(x);
	cJSON_Delete(s);
	return ok;
}

/* ------------------------------------------------------------------ */
/* the rules the schemas cannot say                                     */
/* ------------------------------------------------------------------ */

#define RULE(cond, ...)                                                                            \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			snprintf(why, whylen, __VA_ARGS__);                                        \
			goto done;                                                                 \
		}                                                                                  \
	} while (0)

static int seen_id(cJSON *ids, const char *id)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, ids) if (strcmp(e->valuestring, id) == 0) return 1;
	cJSON_AddItemToArray(ids, cJSON_CreateString(id));
	return 0;
}

/* OpenAI: an assistant message's tool_calls are answered, each once, by
 * the tool messages right after it; a tool message answers a call of the
 * assistant message before its run; call ids are unique. */
static int openai_rules(const char *body, char *why, size_t whylen)
{
	cJSON *d = cJSON_Parse(body), *ids = cJSON_CreateArray();
	const cJSON *msgs = cJSON_GetObjectItem(d, "messages");
	int i, n = cJSON_GetArraySize(msgs), ok = 0;

	why[0] = '\0';
	for (i = 0; i < n; i++) {
		const cJSON *m = cJSON_GetArrayItem(msgs, i);
		const cJSON *calls = cJSON_GetObjectItem(m, "tool_calls"), *c;
		const char *role = cJSON_GetObjectItem(m, "role")->valuestring;
		int j;
		RULE(strcmp(role, "tool") != 0, "messages[%d]: a tool message without its call", i);
		if (!calls)
			continue;
		cJSON_ArrayForEach(c, calls)
		{
			const char *id = cJSON_GetObjectItem(c, "id")->valuestring;
			int answered = 0;
			RULE(!seen_id(ids, id), "messages[%d]: call id %s twice", i, id);
			for (j = i + 1; j < n; j++) {
				const cJSON *t = cJSON_GetArrayItem(msgs, j);
				if (strcmp(cJSON_GetObjectItem(t, "role")->valuestring, "tool") !=
				    0)
					break;
				answered +=
				    strcmp(cJSON_GetObjectItem(t, "tool_call_id")->valuestring,
				           id) == 0;
			}
			RULE(answered == 1, "messages[%d]: call %s answered %d times", i, id,
			     answered);
		}
		/* the tool messages after it answer its calls */
		for (j = i + 1; j < n; j++) {
			const cJSON *t = cJSON_GetArrayItem(msgs, j);
			const char *tid;
			int found = 0;
			if (strcmp(cJSON_GetObjectItem(t, "role")->valuestring, "tool") != 0)
				break;
			tid = cJSON_GetObjectItem(t, "tool_call_id")->valuestring;
			cJSON_ArrayForEach(c, calls) found |=
			    strcmp(cJSON_GetObjectItem(c, "id")->valuestring, tid) == 0;
			RULE(found, "messages[%d]: tool_call_id %s answers no call before", j, tid);
		}
		i = j - 1;
	}
	ok = 1;
done:
	cJSON_Delete(ids);
	cJSON_Delete(d);
	return ok;
}

static int all_space(const char *s)
{
	for (; *s; s++)
		if (!strchr(" \t\n\r\f\v", *s))
			return 0;
	return 1;
}

/* Anthropic: turns alternate and start with user; each tool_use is
 * answered by a tool_result of the next (user) message, whose results
 * come first; a tool_result answers a tool_use of the message before; no
 * text is empty or blank; a final assistant turn does not end with
 * whitespace; ids are unique. */
static int anthropic_rules(const char *body, char *why, size_t whylen)
{
	cJSON *d = cJSON_Parse(body), *ids = cJSON_CreateArray();
	const cJSON *msgs = cJSON_GetObjectItem(d, "messages");
	int i, n = cJSON_GetArraySize(msgs), ok = 0;

	why[0] = '\0';
	for (i = 0; i < n; i++) {
		const cJSON *m = cJSON_GetArrayItem(msgs, i), *b, *prev, *next;
		const char *role = cJSON_GetObjectItem(m, "role")->valuestring;
		const cJSON *content = cJSON_GetObjectItem(m, "content");
		int results_done = 0;
		RULE(strcmp(role, i % 2 ? "assistant" : "user") == 0,
		     "messages[%d]: role %s out of turn", i, role);
		if (cJSON_IsString(content)) {
			RULE(!all_space(content->valuestring), "messages[%d]: blank text", i);
			if (i == n - 1 && i % 2)
				RULE(
				    !strchr(" \t\n\r",
				            content->valuestring[strlen(content->valuestring) - 1]),
				    "final assistant text ends with whitespace");
			continue;
		}
		prev = i ? cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, i - 1), "content") : NULL;
		next = i + 1 < n ? cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, i + 1), "content")
		                 : NULL;
		cJSON_ArrayForEach(b, content)
		{
			const char *type = cJSON_GetObjectItem(b, "type")->valuestring;
			if (strcmp(type, "text") == 0) {
				const char *text = cJSON_GetObjectItem(b, "text")->valuestring;
				RULE(!all_space(text), "messages[%d]: blank text block", i);
				results_done = 1;
				if (i == n - 1 && i % 2 && !b->next)
					RULE(!strchr(" \t\n\r", text[strlen(text) - 1]),
					     "final assistant text ends with whitespace");
			} else if (strcmp(type, "tool_use") == 0) {
				const char *id = cJSON_GetObjectItem(b, "id")->valuestring;
				const cJSON *r;
				int answered = 0;
				RULE(!seen_id(ids, id), "messages[%d]: tool_use id %s twice", i,
				     id);
				cJSON_ArrayForEach(r, next)
				{
					const cJSON *tid = cJSON_GetObjectItem(r, "tool_use_id");
					answered += tid && strcmp(tid->valuestring, id) == 0;
				}
				RULE(answered == 1, "messages[%d]: tool_use %s answered %d times",
				     i, id, answered);
			} else if (strcmp(type, "tool_result") == 0) {
				const char *tid =
				    cJSON_GetObjectItem(b, "tool_use_id")->valuestring;
				const cJSON *u;
				int found = 0;
				RULE(!results_done, "messages[%d]: text before a tool_result", i);
				cJSON_ArrayForEach(u, prev)
				{
					const cJSON *id = cJSON_GetObjectItem(u, "id");
					found |= id && strcmp(id->valuestring, tid) == 0;
				}
				RULE(found,
				     "messages[%d]: tool_result %s answers no tool_use before", i,
				     tid);
			}
		}
	}
	ok = 1;
done:
	cJSON_Delete(ids);
	cJSON_Delete(d);
	return ok;
}

#endif
