/*
 * content_build.c - the content object of a KIND (a shortcut: instruction,
 * user, assistant, system; or a content type) from a text or from the
 * caller's JSON object, as `tract commit` builds it. Infrastructure: no
 * store, no tract; the commit validates the result.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "internal.h"
#include "json.h"

#define SHORTCUTS "instruction, user, assistant, system"

int tract_content_build_options_init(tract_content_build_options *opts, unsigned int version)
{
	tract_content_build_options def = TRACT_CONTENT_BUILD_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_content_build_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_CONTENT_BUILD_OPTIONS_VERSION,
				"tract_content_build_options") < 0)
		return TRACT_EINVAL;
	*opts = def;
	opts->version = version;
	return 0;
}

/* The type and role of a shortcut; 0 (type NULL) for any other kind. */
static int shortcut(const char **type, const char **role, const char *kind)
{
	*type = NULL;
	*role = NULL;
	if (kind && strcmp(kind, "instruction") == 0) {
		*type = "instruction";
	} else if (kind && (strcmp(kind, "user") == 0 || strcmp(kind, "assistant") == 0 ||
			    strcmp(kind, "system") == 0)) {
		*type = "dialogue";
		*role = kind;
	}
	return *type != NULL;
}

int tract_content_shortcut_parse(const char **out_type, const char **out_role, const char *kind)
{
	const char *type, *role;

	shortcut(&type, &role, kind);
	if (out_type)
		*out_type = type;
	if (out_role)
		*out_role = role;
	if (!type)
		return tract_error_set(TRACT_EINVAL, "'%.64s' is not a shortcut (" SHORTCUTS ")",
				       kind ? kind : "(null)");
	return 0;
}

/* 1 when every number of the tree is finite. */
static int all_finite(const cJSON *v)
{
	const cJSON *child;

	if (cJSON_IsNumber(v))
		return isfinite(v->valuedouble);
	cJSON_ArrayForEach(child, v)
	{
		if (!all_finite(child))
			return 0;
	}
	return 1;
}

/* cJSON's parse, NULL for invalid JSON; *oom set when it failed for want
 * of memory (cJSON does not tell: the strict parser, which does, is asked
 * again; JSON it accepts is JSON cJSON failed to build). */
static cJSON *parse_json(const char *json, int *oom)
{
	cJSON *v = cJSON_ParseWithOpts(json, NULL, 1), *probe = NULL;
	char err[64];
	int rc;

	*oom = 0;
	if (v)
		return v;
	rc = tract_json_parse(&probe, json, strlen(json), TRACT_JSON_NONFINITE_TO_NULL, err,
			      sizeof(err));
	cJSON_Delete(probe);
	*oom = rc == 0 || rc == TRACT_ENOMEM;
	return NULL;
}

int tract_json_object_check(const char *json, const char *label)
{
	int oom;
	cJSON *v;
	int rc = 0;

	if (!label)
		label = "the JSON text";
	if (!json)
		return tract_error_set(TRACT_EINVAL, "%s is NULL", label);
	if (!tract_utf8_valid(json, strlen(json)))
		return tract_error_set(TRACT_EINVAL, "%s is not valid UTF-8", label);
	v = parse_json(json, &oom);
	if (!v && oom)
		return tract_error_oom();
	if (!v)
		return tract_error_set(TRACT_EINVAL, "%s is not valid JSON", label);
	if (!cJSON_IsObject(v))
		rc = tract_error_set(TRACT_EINVAL, "%s must be a JSON object", label);
	else if (!all_finite(v))
		rc = tract_error_set(TRACT_EINVAL, "%s holds a number that is not finite", label);
	cJSON_Delete(v);
	return rc;
}

/*
 * Make sure member `key` of obj is the string `want`: when absent, append
 * `"key": "want", ` to the text to insert; when present and different,
 * fail.
 */
static int require_member(tract_buf *insert, const cJSON *obj, const char *key, const char *want,
			  const char *label)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (m) {
		if (!cJSON_IsString(m) || strcmp(m->valuestring, want) != 0)
			return tract_error_set(TRACT_EINVAL, "%s: \"%s\" must be \"%s\" here", label,
					       key, want);
		return 0;
	}
	if (tract_json_escape(insert, key, strlen(key), 0) || tract_buf_puts(insert, ": ") ||
	    tract_json_escape(insert, want, strlen(want), 0) || tract_buf_puts(insert, ", "))
		return tract_error_oom();
	return 0;
}

/* The caller's object with content_type (and a dialogue turn's role and
 * name) inserted after its opening brace when missing; the rest of the
 * text is passed on unchanged, so no number is reformatted. */
static int build_json(char **out, const char *kind, const char *type, const char *role,
		      const char *name, const char *json, const char *label)
{
	tract_buf insert = TRACT_BUF_INIT, b = TRACT_BUF_INIT;
	const cJSON *ct;
	cJSON *obj = NULL;
	const char *brace;
	int rc = 0;

	rc = tract_json_object_check(json, label);
	if (rc < 0)
		goto done;
	obj = cJSON_ParseWithOpts(json, NULL, 1);
	if (!obj) {
		rc = tract_error_oom();
		goto done;
	}
	ct = cJSON_GetObjectItemCaseSensitive(obj, "content_type");
	if (ct && !cJSON_IsString(ct)) {
		rc = tract_error_set(TRACT_EINVAL, "%s: \"content_type\" must be a string", label);
		goto done;
	}
	if (ct && strcmp(ct->valuestring, type) != 0) {
		rc = tract_error_set(TRACT_EINVAL, "%s: content_type '%s' does not match KIND '%s'",
				     label, ct->valuestring, kind);
		goto done;
	}
	if (!ct)
		rc = require_member(&insert, obj, "content_type", type, label);
	if (!rc && role)
		rc = require_member(&insert, obj, "role", role, label);
	if (!rc && name)
		rc = require_member(&insert, obj, "name", name, label);
	if (rc)
		goto done;
	if (insert.len && cJSON_GetArraySize(obj) == 0)
		insert.len -= 2; /* "{}" takes no comma */
	brace = strchr(json, '{');
	if (tract_buf_put(&b, json, (size_t)(brace - json) + 1) ||
	    tract_buf_put(&b, insert.ptr ? insert.ptr : "", insert.len) ||
	    tract_buf_puts(&b, brace + 1)) {
		rc = tract_error_oom();
		goto done;
	}
	*out = tract_buf_detach(&b);
	if (!*out)
		rc = tract_error_oom();
done:
	tract_buf_dispose(&b);
	tract_buf_dispose(&insert);
	cJSON_Delete(obj);
	return rc;
}

static int count_sink(void *ctx, const char *data, size_t n)
{
	(void)data;
	*(size_t *)ctx += n;
	return 0;
}

/*
 * {"content_type": TYPE, ["name": NAME or null, "role": ROLE,] "text": TEXT}
 * in the stored form (J-STORE: sorted keys, ", " and ": "), which a commit
 * then keeps as it is; dialogue carries its name (null when none) as
 * normalization does. Written at its exact size: a large text costs one
 * copy, not a tree and a doubling buffer.
 */
static int build_text(char **out, const char *type, const char *role, const char *text,
		      const char *name)
{
	tract_buf b = TRACT_BUF_INIT, count;
	size_t len = strlen(text), need = 0;
	int rc;

	tract_buf_init_sink(&count, count_sink, &need);
	rc = tract_json_escape(&count, text, len, 0);
	if (rc == 0)
		rc = tract_buf_flush(&count);
	tract_buf_dispose(&count);
	need += 96 + strlen(type) * 6 + (role ? strlen(role) * 6 : 0) +
		(name ? strlen(name) * 6 : 0);
	if (rc == 0)
		rc = tract_buf_grow(&b, need);
	rc |= tract_buf_puts(&b, "{\"content_type\": ");
	rc |= tract_json_escape(&b, type, strlen(type), 0);
	if (role) {
		rc |= tract_buf_puts(&b, ", \"name\": ");
		rc |= name ? tract_json_escape(&b, name, strlen(name), 0)
			   : tract_buf_puts(&b, "null");
		rc |= tract_buf_puts(&b, ", \"role\": ");
		rc |= tract_json_escape(&b, role, strlen(role), 0);
	}
	rc |= tract_buf_puts(&b, ", \"text\": ");
	rc |= tract_json_escape(&b, text, len, 0);
	rc |= tract_buf_putc(&b, '}');
	return tract_buf_finish(out, &b, rc);
}

/* A fresh call id: "call_" and 24 random hex digits. */
static int fresh_call_id(char out[30])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[12];
	size_t i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return tract_error_set(TRACT_ERROR, "no random bytes for a call id");
	memcpy(out, "call_", 5);
	for (i = 0; i < sizeof(r); i++) {
		out[5 + 2 * i] = hex[r[i] >> 4];
		out[6 + 2 * i] = hex[r[i] & 15];
	}
	out[29] = '\0';
	return 0;
}

static int put_member(tract_buf *b, const char *key, const char *value)
{
	return tract_buf_puts(b, ", ") || tract_json_escape(b, key, strlen(key), 0) ||
	       tract_buf_puts(b, ": ") || tract_json_escape(b, value, strlen(value), 0);
}

/* KIND tool-call / tool-result (DESIGN.md §9): a tool_io object. The
 * arguments (or a JSON result) are inserted as the caller wrote them, so
 * no number is reformatted. */
static int build_tool(char **out, int result, const char *text, const char *tool,
		      const char *call_id, const char *status)
{
	tract_buf b = TRACT_BUF_INIT;
	char id[30];
	cJSON *v = NULL;
	int rc = 0, object, oom;

	if (!tool)
		return tract_error_set(TRACT_EINVAL, "a tool %s needs the tool's name",
				       result ? "result" : "call");
	if (!tool[0] || !tract_utf8_valid(tool, strlen(tool)))
		return tract_error_set(TRACT_EINVAL, "the tool name must be non-empty UTF-8");
	if (call_id && !tract_call_id_valid(call_id))
		return tract_error_set(TRACT_EINVAL,
				       "invalid call id '%.80s' (1 to %d characters of "
				       "[A-Za-z0-9_-])",
				       call_id, TRACT_CALL_ID_MAXLEN);
	if (status && (result ? strcmp(status, "success") && strcmp(status, "error") : 1))
		return tract_error_set(TRACT_EINVAL,
				       result ? "invalid status '%.64s' (success or error)"
					      : "a tool call has no status",
				       status);
	if (!result && !call_id) {
		rc = fresh_call_id(id);
		if (rc < 0)
			return rc;
		call_id = id;
	}
	if (!tract_utf8_valid(text, strlen(text)))
		return tract_error_set(TRACT_EINVAL, "%s is not valid UTF-8",
				       result ? "the result" : "the arguments");
	v = parse_json(text, &oom);
	if (!v && oom)
		return tract_error_oom();
	object = cJSON_IsObject(v);
	cJSON_Delete(v);
	if (!result) {
		rc = tract_json_object_check(text, "the arguments");
		if (rc < 0)
			return rc;
	} else if (object) {
		rc = tract_json_object_check(text, "the result");
		if (rc < 0)
			return rc;
	}
	if (tract_buf_puts(&b, "{\"content_type\": \"tool_io\"") ||
	    put_member(&b, "direction", result ? "result" : "call") ||
	    put_member(&b, "tool_name", tool) || (call_id && put_member(&b, "call_id", call_id)) ||
	    (status && put_member(&b, "status", status)) || tract_buf_puts(&b, ", \"payload\": "))
		goto oom;
	if (object || !result) {
		if (tract_buf_puts(&b, text))
			goto oom;
	} else if (tract_buf_puts(&b, "{\"text\": ") ||
		   tract_json_escape(&b, text, strlen(text), 0) || tract_buf_putc(&b, '}')) {
		goto oom;
	}
	if (tract_buf_putc(&b, '}'))
		goto oom;
	*out = tract_buf_detach(&b);
	return *out ? 0 : tract_error_oom();
oom:
	tract_buf_dispose(&b);
	return tract_error_oom();
}

int tract_content_build(char **out, const char *kind, const char *text, const char *json,
			const tract_content_build_options *opts)
{
	const char *type = NULL, *role = NULL, *name = NULL, *label = "content";
	const char *tool = NULL, *call_id = NULL, *status = NULL;
	int is_shortcut, is_tool;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_content_build: out is NULL");
	*out = NULL;
	if (opts) {
		if (tract_version_check(opts->version, TRACT_CONTENT_BUILD_OPTIONS_VERSION,
					"tract_content_build_options") < 0)
			return TRACT_EINVAL;
		name = opts->name;
		if (opts->label)
			label = opts->label;
		if (opts->version >= 2) {
			tool = opts->tool_name;
			call_id = opts->call_id;
			status = opts->status;
		}
	}
	if (!kind || !kind[0])
		return tract_error_set(TRACT_EINVAL, "empty KIND");
	if (!tract_utf8_valid(kind, strlen(kind)))
		return tract_error_set(TRACT_EINVAL, "KIND is not valid UTF-8");
	if (name && !tract_utf8_valid(name, strlen(name)))
		return tract_error_set(TRACT_EINVAL, "the name is not valid UTF-8");
	if (text && json)
		return tract_error_set(TRACT_EINVAL, "a TEXT cannot be combined with a JSON object");
	if (!text && !json)
		return tract_error_set(TRACT_EINVAL, "missing TEXT or JSON object");
	is_tool = strcmp(kind, "tool-call") == 0 || strcmp(kind, "tool-result") == 0;
	if (!is_tool && (tool || call_id || status))
		return tract_error_set(TRACT_EINVAL,
				       "a tool name, call id or status needs KIND tool-call or "
				       "tool-result");
	if (is_tool) {
		if (json)
			return tract_error_set(TRACT_EINVAL,
					       "KIND %s takes its text, not a content object (use "
					       "KIND tool_io for one)",
					       kind);
		return build_tool(out, kind[5] == 'r', text, tool, call_id, status);
	}
	is_shortcut = shortcut(&type, &role, kind);
	if (!is_shortcut)
		type = kind;
	if (name && !role)
		return tract_error_set(TRACT_EINVAL, "a name needs KIND user, assistant or system");
	if (json)
		return build_json(out, kind, type, role, name, json, label);
	if (!is_shortcut) {
		if (tract_content_type_is_builtin(kind))
			return tract_error_set(TRACT_EINVAL, "KIND %s needs a JSON object", kind);
		return tract_error_set(TRACT_EINVAL,
				       "unknown content type: %s (shortcuts: " SHORTCUTS
				       "; other types need a JSON object)",
				       kind);
	}
	if (!tract_utf8_valid(text, strlen(text)))
		return tract_error_set(TRACT_EINVAL, "TEXT is not valid UTF-8");
	return build_text(out, type, role, text, name);
}
