/*
 * content.c - the eight built-in content types and custom ones: validation
 * and normalization into the object that is hashed and stored, the text a
 * commit's token count comes from, and the message a payload compiles to.
 */
#include "content.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json.h"

typedef enum {
	F_STR,        /* required string */
	F_STR_OPT,    /* string or null, default null */
	F_ENUM,       /* required, one of values */
	F_ENUM_OPT,   /* one of values or null, default null */
	F_ENUM_DEF,   /* one of values, default values[0]; null rejected */
	F_OBJ,        /* required object */
	F_STRLIST,    /* array of strings, default [] */
	F_ID_OPT,     /* an id string (tract_call_id_valid), absent from N when
		       * not given or null: tool_io's call_id (DESIGN.md §9) */
} field_kind;

typedef struct {
	const char *name;
	field_kind kind;
	const char *const *values; /* NULL-terminated */
} field_spec;

typedef struct {
	const char *name;
	const field_spec *fields;
	size_t n_fields;
	const char *role;
	tract_priority priority;
} type_spec;

static const char *const roles[] = {"user", "assistant", "system", NULL};
static const char *const directions[] = {"call", "result", NULL};
static const char *const statuses[] = {"success", "error", NULL};
static const char *const formats[] = {"text", "markdown", "json", NULL};
static const char *const session_types[] = {"start", "end", "handoff", "checkpoint", NULL};

static const field_spec f_instruction[] = {{"text", F_STR, NULL}};
static const field_spec f_dialogue[] = {
	{"role", F_ENUM, roles}, {"text", F_STR, NULL}, {"name", F_STR_OPT, NULL}};
static const field_spec f_tool_io[] = {{"tool_name", F_STR, NULL},
				       {"direction", F_ENUM, directions},
				       {"payload", F_OBJ, NULL},
				       {"status", F_ENUM_OPT, statuses},
				       {"call_id", F_ID_OPT, NULL}};
static const field_spec f_reasoning[] = {{"text", F_STR, NULL}};
static const field_spec f_artifact[] = {
	{"artifact_type", F_STR, NULL}, {"content", F_STR, NULL}, {"language", F_STR_OPT, NULL}};
static const field_spec f_output[] = {{"text", F_STR, NULL}, {"format", F_ENUM_DEF, formats}};
static const field_spec f_freeform[] = {{"payload", F_OBJ, NULL}};
static const field_spec f_session[] = {{"session_type", F_ENUM, session_types},
				       {"summary", F_STR, NULL},
				       {"decisions", F_STRLIST, NULL},
				       {"failed_approaches", F_STRLIST, NULL},
				       {"next_steps", F_STRLIST, NULL}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const type_spec builtin_types[] = {
	{"instruction", f_instruction, N_OF(f_instruction), "system", TRACT_PRIORITY_PINNED},
	{"dialogue", f_dialogue, N_OF(f_dialogue), "user", TRACT_PRIORITY_NORMAL},
	{"tool_io", f_tool_io, N_OF(f_tool_io), "tool", TRACT_PRIORITY_NORMAL},
	{"reasoning", f_reasoning, N_OF(f_reasoning), "assistant", TRACT_PRIORITY_NORMAL},
	{"artifact", f_artifact, N_OF(f_artifact), "assistant", TRACT_PRIORITY_NORMAL},
	{"output", f_output, N_OF(f_output), "assistant", TRACT_PRIORITY_NORMAL},
	{"freeform", f_freeform, N_OF(f_freeform), "assistant", TRACT_PRIORITY_NORMAL},
	/* DECISIONS.md: session commits are auto-pinned like instructions. */
	{"session", f_session, N_OF(f_session), "system", TRACT_PRIORITY_PINNED},
};

static const type_spec *find_builtin(const char *name)
{
	size_t i;

	for (i = 0; i < N_OF(builtin_types); i++)
		if (strcmp(builtin_types[i].name, name) == 0)
			return &builtin_types[i];
	return NULL;
}

tract_priority tract_content_default_priority(const char *content_type)
{
	const type_spec *t = content_type ? find_builtin(content_type) : NULL;

	return t ? t->priority : TRACT_PRIORITY_NORMAL;
}

int tract_content_type_is_builtin(const char *name)
{
	return name && find_builtin(name) != NULL;
}

const char *tract_content_type_builtin(size_t i)
{
	return i < N_OF(builtin_types) ? builtin_types[i].name : NULL;
}

static const char *json_type_name(const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsArray(v))
		return "array";
	return "object";
}

static int in_values(const char *s, const char *const *values)
{
	for (; *values; values++)
		if (strcmp(s, *values) == 0)
			return 1;
	return 0;
}

static void list_values(char *buf, size_t len, const char *const *values)
{
	size_t off = 0;

	buf[0] = '\0';
	for (; *values && off < len; values++)
		off += (size_t)snprintf(buf + off, len - off, "%s'%s'", off ? ", " : "", *values);
}

#define INVALID(...) tract_error_set(TRACT_EINVAL, "Content validation failed: " __VA_ARGS__)

/* Validate one field of a built-in type and add it to n. */
static int add_field(cJSON *n, const char *type, const field_spec *f, const cJSON *v)
{
	char allowed[128];
	cJSON *copy;
	int absent = !v || cJSON_IsNull(v);

	switch (f->kind) {
	case F_STR:
		if (absent)
			return INVALID("%s: field '%s' is required", type, f->name);
		if (!cJSON_IsString(v))
			return INVALID("%s: field '%s' must be a string, got %s", type, f->name,
				       json_type_name(v));
		break;
	case F_STR_OPT:
		if (!absent && !cJSON_IsString(v))
			return INVALID("%s: field '%s' must be a string or null, got %s", type,
				       f->name, json_type_name(v));
		break;
	case F_ENUM:
	case F_ENUM_OPT:
	case F_ENUM_DEF:
		if (absent && f->kind == F_ENUM)
			return INVALID("%s: field '%s' is required", type, f->name);
		if (absent && f->kind == F_ENUM_OPT)
			break;
		if (!v && f->kind == F_ENUM_DEF) {
			copy = cJSON_CreateString(f->values[0]);
			goto add;
		}
		list_values(allowed, sizeof(allowed), f->values);
		if (!cJSON_IsString(v) || !in_values(v->valuestring, f->values))
			return INVALID("%s: field '%s' must be one of %s", type, f->name, allowed);
		break;
	case F_ID_OPT:
		if (absent)
			return 0; /* absent from N: reference hashes stay as they were */
		if (!cJSON_IsString(v))
			return INVALID("%s: field '%s' must be a string or null, got %s", type,
				       f->name, json_type_name(v));
		if (!tract_call_id_valid(v->valuestring))
			return INVALID("%s: field '%s' must be 1 to %d characters of "
				       "[A-Za-z0-9_-]",
				       type, f->name, TRACT_CALL_ID_MAXLEN);
		break;
	case F_OBJ:
		if (absent)
			return INVALID("%s: field '%s' is required", type, f->name);
		if (!cJSON_IsObject(v))
			return INVALID("%s: field '%s' must be an object, got %s", type, f->name,
				       json_type_name(v));
		break;
	case F_STRLIST:
		if (!v) {
			copy = cJSON_CreateArray();
			goto add;
		}
		if (!cJSON_IsArray(v))
			return INVALID("%s: field '%s' must be an array of strings, got %s", type,
				       f->name, json_type_name(v));
		{
			const cJSON *e;
			cJSON_ArrayForEach(e, v)
			{
				if (!cJSON_IsString(e))
					return INVALID("%s: field '%s' must contain only strings",
						       type, f->name);
			}
		}
		break;
	}
	copy = absent ? cJSON_CreateNull() : tract_json_dup(v);
add:
	if (!copy || !cJSON_AddItemToObject(n, f->name, copy)) {
		cJSON_Delete(copy);
		return tract_error_oom();
	}
	return 0;
}

static int normalize_builtin(cJSON **out, const type_spec *t, const cJSON *content)
{
	cJSON *n = cJSON_CreateObject();
	size_t i;
	int rc;

	if (!n || !cJSON_AddStringToObject(n, "content_type", t->name)) {
		rc = tract_error_oom();
		goto fail;
	}
	for (i = 0; i < t->n_fields; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(content, t->fields[i].name);
		rc = add_field(n, t->name, &t->fields[i], v);
		if (rc < 0)
			goto fail;
	}
	tract_json_sort(n);
	*out = n;
	return 0;
fail:
	cJSON_Delete(n);
	return rc;
}

static int normalize_custom(cJSON **out, const tract_custom_type *ct, const cJSON *content)
{
	char errbuf[512] = "";
	char *in = NULL, *norm = NULL;
	cJSON *n = NULL, *ctype;
	const cJSON *m;
	int rc;

	in = tract_json_render_str(content, TRACT_JSON_STORE);
	if (!in)
		return tract_error_oom();
	if (ct->validate(&norm, in, errbuf, sizeof(errbuf), ct->payload) != 0 || !norm) {
		rc = tract_error_set(TRACT_EINVAL,
				     "Custom content type '%s' validation failed: %s", ct->name,
				     errbuf[0] ? errbuf : "rejected by the validator");
		goto done;
	}
	rc = tract_json_parse(&n, norm, strlen(norm), TRACT_JSON_NONFINITE_TO_NULL, errbuf,
			      sizeof(errbuf));
	if (rc < 0 || !cJSON_IsObject(n)) {
		rc = tract_error_set(TRACT_EINVAL,
				     "Custom content type '%s' validation failed: the validator "
				     "returned %s",
				     ct->name, rc < 0 ? errbuf : "a value that is not an object");
		goto done;
	}
	for (m = n->child; m; m = m->next) {
		if ((strcmp(m->string, "text") == 0 || strcmp(m->string, "content") == 0) &&
		    !cJSON_IsString(m) && !cJSON_IsNull(m)) {
			rc = tract_error_set(TRACT_EINVAL,
					     "Custom content type '%s' validation failed: field "
					     "'%s' must be a string",
					     ct->name, m->string);
			goto done;
		}
	}
	/* DECISIONS.md: the stored content_type is always the registered name. */
	ctype = cJSON_CreateString(ct->name);
	if (!ctype) {
		rc = tract_error_oom();
		goto done;
	}
	if (cJSON_GetObjectItemCaseSensitive(n, "content_type"))
		cJSON_ReplaceItemInObjectCaseSensitive(n, "content_type", ctype);
	else
		cJSON_AddItemToObject(n, "content_type", ctype);
	tract_json_sort(n);
	*out = n;
	n = NULL;
	rc = 0;
done:
	cJSON_Delete(n);
	free(in);
	free(norm);
	return rc;
}

int tract_content_normalize_json(cJSON **out, const tract_content_registry *reg,
				 const cJSON *content)
{
	const cJSON *ct;
	const type_spec *t;
	size_t i;

	*out = NULL;
	if (!cJSON_IsObject(content))
		return INVALID("content must be a JSON object, got %s", json_type_name(content));
	ct = cJSON_GetObjectItemCaseSensitive(content, "content_type");
	if (!ct || cJSON_IsNull(ct))
		return INVALID("missing 'content_type'");
	if (!cJSON_IsString(ct))
		return INVALID("'content_type' must be a string, got %s", json_type_name(ct));
	if (reg) {
		for (i = 0; i < reg->count; i++)
			if (strcmp(reg->types[i].name, ct->valuestring) == 0)
				return normalize_custom(out, &reg->types[i], content);
	}
	t = find_builtin(ct->valuestring);
	if (!t)
		return INVALID("unknown content type '%s'", ct->valuestring);
	return normalize_builtin(out, t, content);
}

/* ---- registry ----------------------------------------------------------- */

static int valid_type_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 50)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int tract_content_registry_add(tract_content_registry *reg, const char *name,
			       tract_content_validator fn, void *payload)
{
	tract_custom_type *p;
	size_t i;

	if (!name || !valid_type_name(name))
		return tract_error_set(TRACT_EINVAL,
				       "invalid content type name '%s' (1-50 of [A-Za-z0-9_-])",
				       name ? name : "(null)");
	if (!fn)
		return tract_error_set(TRACT_EINVAL, "content type '%s' needs a validator", name);
	for (i = 0; i < reg->count; i++) {
		if (strcmp(reg->types[i].name, name) == 0) {
			reg->types[i].validate = fn;
			reg->types[i].payload = payload;
			return 0;
		}
	}
	p = realloc(reg->types, (reg->count + 1) * sizeof(*p));
	if (!p)
		return tract_error_oom();
	reg->types = p;
	p[reg->count].name = strdup(name);
	if (!p[reg->count].name)
		return tract_error_oom();
	p[reg->count].validate = fn;
	p[reg->count].payload = payload;
	reg->count++;
	return 0;
}

void tract_content_registry_dispose(tract_content_registry *reg)
{
	size_t i;

	for (i = 0; i < reg->count; i++)
		free(reg->types[i].name);
	free(reg->types);
	reg->types = NULL;
	reg->count = 0;
}

/* ---- texts --------------------------------------------------------------- */

static const char *payload_type(const cJSON *p)
{
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(p, "content_type");

	return cJSON_IsString(ct) ? ct->valuestring : "unknown";
}

/* Append a string of the tree with its U+0000 (C0 80) as 0x00 bytes. */
static int put_text(tract_buf *out, const char *s)
{
	size_t start = out->len;
	int rc = tract_buf_puts(out, s);

	if (rc == 0)
		out->len = start + tract_mutf8_to_bytes(out->ptr + start, out->len - start);
	return rc;
}

int tract_content_count_text(tract_buf *out, tract_text_kind *kind, const cJSON *n)
{
	const cJSON *v;

	/* The JSON renderings below write U+0000 as "\u0000", as the
	 * reference's json.dumps does; only the raw strings carry it. */
	v = cJSON_GetObjectItemCaseSensitive(n, "text");
	if (v) {
		*kind = cJSON_IsString(v) ? TRACT_TEXT_MEMBER : TRACT_TEXT_NONE;
		return cJSON_IsString(v) ? put_text(out, v->valuestring) : 0;
	}
	v = cJSON_GetObjectItemCaseSensitive(n, "content");
	if (cJSON_IsString(v)) {
		*kind = TRACT_TEXT_CONTENT;
		return put_text(out, v->valuestring);
	}
	v = cJSON_GetObjectItemCaseSensitive(n, "payload");
	if (v) {
		*kind = TRACT_TEXT_PAYLOAD;
		return tract_json_render(out, v, TRACT_JSON_TOKEN);
	}
	/* DECISIONS.md: a session commit counts the text compile emits. */
	if (strcmp(payload_type(n), "session") == 0) {
		*kind = TRACT_TEXT_FLAT;
		return tract_json_render(out, n, TRACT_JSON_FLAT);
	}
	*kind = TRACT_TEXT_NONE;
	return 0;
}

int tract_content_count_reusable(tract_text_kind count_kind, tract_text_kind message_kind)
{
	switch (count_kind) {
	case TRACT_TEXT_MEMBER:
	case TRACT_TEXT_CONTENT:
	case TRACT_TEXT_FLAT:
		return count_kind == message_kind;
	default:
		return 0;
	}
}

/* Python's str() of a value inside an f-string: strings raw, None, JSON else. */
static int put_py_str(tract_buf *b, const cJSON *v)
{
	if (!v || cJSON_IsNull(v))
		return tract_buf_puts(b, "None");
	if (cJSON_IsString(v))
		return tract_buf_puts(b, v->valuestring);
	if (cJSON_IsBool(v))
		return tract_buf_puts(b, cJSON_IsTrue(v) ? "True" : "False");
	return tract_json_render(b, v, TRACT_JSON_FLAT);
}

static const char *default_role(const char *ct)
{
	const type_spec *t = find_builtin(ct);

	return t ? t->role : "assistant";
}

int tract_call_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id && id[i]; i++) {
		char c = id[i];
		if (i >= TRACT_CALL_ID_MAXLEN ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return i > 0;
}

/*
 * The tool call or result of a tool_io payload, for the provider
 * renderings. A payload the reference wrote (or a hand-made one) may lack
 * or mistype any member: what is not usable is left out (a call id that
 * is not valid is treated as absent, so the rendering derives one).
 */
static int tool_parts(tract_message_parts *out, const cJSON *p)
{
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(p, "direction");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "tool_name");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(p, "status");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "call_id");
	const cJSON *pl = cJSON_GetObjectItemCaseSensitive(p, "payload");
	tract_buf b = TRACT_BUF_INIT;
	int result;

	if (!cJSON_IsString(dir) ||
	    (strcmp(dir->valuestring, "call") != 0 && strcmp(dir->valuestring, "result") != 0))
		return 0; /* neither: an ordinary message */
	result = strcmp(dir->valuestring, "result") == 0;
	out->mkind = result ? TRACT_MSG_TOOL_RESULT : TRACT_MSG_TOOL_CALL;
	out->tool_name = strdup(cJSON_IsString(name) ? name->valuestring : "");
	if (!out->tool_name)
		return TRACT_ENOMEM;
	if (cJSON_IsString(id) && tract_call_id_valid(id->valuestring)) {
		out->call_id = strdup(id->valuestring);
		if (!out->call_id)
			return TRACT_ENOMEM;
	}
	if (cJSON_IsString(st))
		out->status = strcmp(st->valuestring, "error") == 0	? "error"
			      : strcmp(st->valuestring, "success") == 0 ? "success"
								       : NULL;
	if (result && cJSON_IsObject(pl) && pl->child && !pl->child->next &&
	    cJSON_IsString(pl->child) &&
	    (strcmp(pl->child->string, "text") == 0 || strcmp(pl->child->string, "content") == 0)) {
		if (tract_buf_puts(&b, pl->child->valuestring))
			goto oom;
		b.len = tract_mutf8_to_bytes(b.ptr, b.len);
	} else if (!cJSON_IsObject(pl)) {
		/* Arguments are an object for both APIs. */
		if (tract_buf_puts(&b, result ? "null" : "{}"))
			goto oom;
	} else if (tract_json_render(&b, pl, TRACT_JSON_CANON)) {
		goto oom;
	}
	out->tool_body_len = b.len;
	out->tool_body = tract_buf_detach(&b);
	return out->tool_body ? 0 : TRACT_ENOMEM;
oom:
	tract_buf_dispose(&b);
	return TRACT_ENOMEM;
}

int tract_content_message(tract_message_parts *out, const cJSON *p)
{
	tract_buf b = TRACT_BUF_INIT;
	const char *ct = payload_type(p);
	const cJSON *v;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (strcmp(ct, "dialogue") == 0) {
		static const char *const known[] = {"user", "assistant", "system"};
		size_t i;
		v = cJSON_GetObjectItemCaseSensitive(p, "role");
		out->role = "user";
		for (i = 0; cJSON_IsString(v) && i < 3; i++)
			if (strcmp(v->valuestring, known[i]) == 0)
				out->role = known[i];
	} else {
		out->role = strcmp(ct, "tool_io") == 0 ? "tool" : default_role(ct);
	}

	if (strcmp(ct, "tool_io") == 0) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(p, "status");
		out->kind = TRACT_TEXT_TOOL;
		rc |= tract_buf_puts(&b, "Tool ");
		rc |= put_py_str(&b, cJSON_GetObjectItemCaseSensitive(p, "direction"));
		rc |= tract_buf_puts(&b, ": ");
		rc |= put_py_str(&b, cJSON_GetObjectItemCaseSensitive(p, "tool_name"));
		if (st && !cJSON_IsNull(st) && !(cJSON_IsString(st) && !*st->valuestring)) {
			rc |= tract_buf_puts(&b, " (");
			rc |= put_py_str(&b, st);
			rc |= tract_buf_putc(&b, ')');
		}
		rc |= tract_buf_putc(&b, '\n');
		v = cJSON_GetObjectItemCaseSensitive(p, "payload");
		rc |= v ? tract_json_render(&b, v, TRACT_JSON_PRETTY) : tract_buf_puts(&b, "null");
	} else if (strcmp(ct, "freeform") == 0) {
		out->kind = TRACT_TEXT_PRETTY;
		v = cJSON_GetObjectItemCaseSensitive(p, "payload");
		rc |= v ? tract_json_render(&b, v, TRACT_JSON_PRETTY) : tract_buf_puts(&b, "null");
	} else if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(p, "text"))) {
		out->kind = TRACT_TEXT_MEMBER;
		rc |= tract_buf_puts(&b, v->valuestring);
	} else if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(p, "content"))) {
		out->kind = TRACT_TEXT_CONTENT;
		rc |= tract_buf_puts(&b, v->valuestring);
	} else {
		out->kind = TRACT_TEXT_FLAT;
		rc |= tract_json_render(&b, p, TRACT_JSON_FLAT);
	}
	if (rc)
		goto oom;
	/* Python's str() of a U+0000 is the character itself; the JSON
	 * renderings above already wrote it "\u0000". */
	b.len = tract_mutf8_to_bytes(b.ptr, b.len);
	out->content_len = b.len;
	out->content = tract_buf_detach(&b);
	if (!out->content)
		goto oom;
	if (strcmp(ct, "dialogue") == 0) {
		v = cJSON_GetObjectItemCaseSensitive(p, "name");
		if (cJSON_IsString(v)) {
			out->name = strdup(v->valuestring);
			if (!out->name)
				goto oom;
			out->name_len = tract_mutf8_to_bytes(out->name, strlen(out->name));
		}
	} else if (strcmp(ct, "reasoning") == 0) {
		out->mkind = TRACT_MSG_REASONING;
	} else if (strcmp(ct, "tool_io") == 0 && tool_parts(out, p) < 0) {
		goto oom;
	}
	return 0;
oom:
	tract_buf_dispose(&b);
	tract_message_parts_dispose(out);
	return tract_error_oom();
}

/*
 * The same message as tract_content_message() gives for the parsed payload,
 * read straight from the stored text when the payload is a flat object of
 * strings whose message is its "text" (or "content") string: dialogue,
 * instruction, reasoning, output without a format... Compile reads one
 * payload per message, and building and freeing a cJSON tree for each
 * cost most of a cold compile. The rules below mirror those of
 * tract_content_message() and tract_content_count_text() for that shape;
 * everything else returns 0 and takes the tree path.
 */
int tract_content_message_flat(tract_message_parts *out, const char *payload, size_t len)
{
	/* Built-in types have at most five members; a flat object with more
	 * simply takes the tree path. */
	tract_json_flat_member m[8];
	const tract_json_flat_member *ct_m, *v, *role, *name;
	char ct[32];
	int n, escaped = 0, i;

	memset(out, 0, sizeof(*out));
	n = tract_json_read_flat(m, N_OF(m), payload, len);
	if (n < 0)
		return 0;
	for (i = 0; i < n; i++)
		escaped |= m[i].decoded_len != m[i].str_len;
	/* parse_payload() sends any payload with this text to the strict
	 * parser, which also checks UTF-8: leave those to it. */
	if (escaped && strstr(payload, "\\u0000"))
		return 0;
	ct_m = tract_json_flat_get(m, (size_t)n, "content_type");
	if (ct_m && ct_m->str) {
		if (ct_m->decoded_len >= sizeof(ct))
			return 0; /* no built-in name is that long */
		tract_json_flat_decode(ct, ct_m);
	} else {
		memcpy(ct, "unknown", sizeof("unknown"));
	}
	if (strcmp(ct, "tool_io") == 0 || strcmp(ct, "freeform") == 0)
		return 0;
	v = tract_json_flat_get(m, (size_t)n, "text");
	if (v) {
		if (!v->str)
			return 0; /* "text": null renders the whole payload */
		out->kind = TRACT_TEXT_MEMBER;
	} else {
		v = tract_json_flat_get(m, (size_t)n, "content");
		if (!v || !v->str)
			return 0;
		out->kind = TRACT_TEXT_CONTENT;
	}
	if (strcmp(ct, "dialogue") == 0) {
		static const char *const known[] = {"user", "assistant", "system"};
		out->role = "user";
		role = tract_json_flat_get(m, (size_t)n, "role");
		for (i = 0; role && role->str && i < 3; i++)
			if (role->decoded_len == strlen(known[i]) &&
			    role->str_len == role->decoded_len &&
			    memcmp(role->str, known[i], role->str_len) == 0)
				out->role = known[i];
		name = tract_json_flat_get(m, (size_t)n, "name");
		if (name && name->str) {
			out->name = malloc(name->decoded_len + 1);
			if (!out->name)
				goto oom;
			tract_json_flat_decode(out->name, name);
			out->name_len = name->decoded_len;
		}
	} else {
		out->role = default_role(ct);
		if (strcmp(ct, "reasoning") == 0)
			out->mkind = TRACT_MSG_REASONING;
	}
	out->content = malloc(v->decoded_len + 1);
	if (!out->content)
		goto oom;
	tract_json_flat_decode(out->content, v);
	out->content_len = v->decoded_len;
	return 1;
oom:
	tract_message_parts_dispose(out);
	return tract_error_oom();
}

void tract_message_parts_dispose(tract_message_parts *m)
{
	free(m->content);
	free(m->name);
	free(m->tool_name);
	free(m->call_id);
	free(m->tool_body);
	m->tool_name = m->call_id = m->tool_body = NULL;
	m->tool_body_len = 0;
	m->status = NULL;
	m->mkind = TRACT_MSG_TEXT;
	m->content = m->name = NULL;
	m->content_len = m->name_len = 0;
}
