/*
 * message.c - one compiled message built from a commit's payload: role,
 * content, name and its token count, reusing stored counts when they were
 * taken from the same text by the same counter (compile layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"
#include "warning.h"
#include "tokenizer.h"

/* "{}" (most messages have no config) is shared, never freed. */
static char empty_config[] = "{}";

static char *dup_config(const char *config)
{
	return !config || strcmp(config, "{}") == 0 ? empty_config : strdup(config);
}

void tract_msg_release(tract_msg *m)
{
	if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(m->content);
	free(m->name);
	free(m->tool_name);
	free(m->call_id);
	free(m->tool_body);
	if (m->own_config != m->config && m->own_config != empty_config)
		free(m->own_config);
	if (m->config != empty_config)
		free(m->config);
	free(m);
}

/* ---- one message -------------------------------------------------------------- */

int64_t tract_count(tract *t, const char *text, size_t len);

static int64_t count_str(tract *t, const char *s)
{
	return tract_count(t, s, strlen(s));
}

/*
 * A message's role is one of a few static strings, and counting it ran
 * the counter (a BPE pass) once per message. A compile counts each role
 * once: counters are functions of the text.
 */
static int64_t count_role(tract *t, tract_role_counts *rc, const char *role)
{
	static const char *const names[TRACT_N_ROLE_COUNTS] = {"user", "assistant", "system",
								 "tool"};
	int64_t n;
	size_t i;

	if (!rc)
		return count_str(t, role);
	for (i = 0; i < TRACT_N_ROLE_COUNTS; i++)
		if (role[0] == names[i][0] && strcmp(role, names[i]) == 0)
			break;
	if (i == TRACT_N_ROLE_COUNTS)
		return count_str(t, role);
	n = __atomic_load_n(&rc->n[i], __ATOMIC_RELAXED);
	if (n > 0)
		return n - 1;
	n = count_str(t, role);
	if (n >= 0)
		__atomic_store_n(&rc->n[i], n + 1, __ATOMIC_RELAXED);
	return n;
}

/* A payload compiles to its "text" or "content" string (no JSON rendering)? */
static int plain_text_payload(const cJSON *p)
{
	const cJSON *ct = cJSON_GetObjectItemCaseSensitive(p, "content_type");

	if (cJSON_IsString(ct) &&
	    (strcmp(ct->valuestring, "tool_io") == 0 || strcmp(ct->valuestring, "freeform") == 0))
		return 0;
	return cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "text")) ||
	       (!cJSON_GetObjectItemCaseSensitive(p, "text") &&
		cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "content")));
}

/*
 * Parse a stored payload. Most payloads compile to one of their strings,
 * for which cJSON's own parser is enough; payloads rendered as JSON need
 * the strict parser that keeps number literals. NULL when unreadable, or
 * with *oom set when memory ran out.
 */
static cJSON *parse_payload(const char *payload, char *err, size_t errlen, int *oom)
{
	size_t len = strlen(payload);
	cJSON *p = cJSON_ParseWithLength(payload, len);
	int rc;

	/* cJSON strings end at NUL: "\u0000" needs the strict parser, which
	 * keeps it as C0 80 (json.h). A raw C0 byte goes there too, so that
	 * C0 80 in a tree can only mean U+0000 (the strict parser refuses a
	 * raw one). */
	if (p && cJSON_IsObject(p) && plain_text_payload(p) && !strstr(payload, "\\u0000") &&
	    !memchr(payload, '\xC0', len))
		return p;
	cJSON_Delete(p);
	p = NULL;
	rc = tract_json_parse(&p, payload, len, TRACT_JSON_NONFINITE_TO_NULL, err, errlen);
	*oom = rc == TRACT_ENOMEM; /* not unreadable: the compile fails */
	if (rc < 0)
		return NULL;
	if (!cJSON_IsObject(p)) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* Add " [edited]" to a malloc'd content of *len bytes. */
static int append_marker(char **content, size_t *len)
{
	static const char marker[] = " [edited]";
	char *p = realloc(*content, *len + sizeof(marker));

	if (!p)
		return TRACT_ENOMEM;
	memcpy(p + *len, marker, sizeof(marker));
	*content = p;
	*len += sizeof(marker) - 1;
	return 0;
}

int tract_msg_build(tract_msg **out, tract *t, const char *orig_hash, const char *payload,
		    const char *config, const char *own_config, const tract_row *source,
		    int reuse_counts, int edit_marker, tract_role_counts *roles)
{
	tract_message_parts parts;
	tract_text_kind count_kind = TRACT_TEXT_NONE;
	tract_msg *m;
	cJSON *p = NULL;
	char err[128];
	int64_t n;
	int rc = 0, flat = 0, oom = 0;

	*out = NULL;
	memset(&parts, 0, sizeof(parts));
	m = calloc(1, sizeof(*m));
	if (!m)
		return tract_error_oom();
	m->refs = 1;
	tract_copy_id(m->hash, orig_hash);
	m->config = dup_config(config);
	m->own_config = own_config == config ? m->config : dup_config(own_config);
	if (!m->config || !m->own_config)
		goto oom;
	if (payload) {
		rc = tract_content_message_flat(&parts, payload, strlen(payload));
		if (rc < 0)
			goto fail;
		flat = rc;
		rc = 0;
		if (flat)
			count_kind = parts.kind;
		else
			p = parse_payload(payload, err, sizeof(err), &oom);
		if (oom)
			goto oom;
	}
	if (flat) {
		m->role = parts.role;
		m->name = parts.name;
		m->name_len = parts.name_len;
		parts.name = NULL;
		if (edit_marker && append_marker(&parts.content, &parts.content_len) < 0)
			goto oom;
		m->content = parts.content;
		m->content_len = parts.content_len;
		parts.content = NULL;
	} else if (!p) {
		tract_warn("%s content of commit %s", payload ? "unreadable" : "missing",
			   source && source->hash[0] ? source->hash : orig_hash);
		m->role = "system";
		m->content = strdup("[missing content]");
		if (!m->content)
			goto oom;
		m->content_len = strlen(m->content);
	} else {
		tract_buf scratch = TRACT_BUF_INIT;
		rc = tract_content_message(&parts, p);
		if (rc < 0)
			goto fail;
		m->role = parts.role;
		m->name = parts.name;
		m->name_len = parts.name_len;
		parts.name = NULL;
		if (edit_marker && append_marker(&parts.content, &parts.content_len) < 0)
			goto oom;
		m->content = parts.content;
		m->content_len = parts.content_len;
		parts.content = NULL;
		/* Which text the stored count was taken from. */
		if (reuse_counts && !edit_marker &&
		    tract_content_count_text(&scratch, &count_kind, p) < 0) {
			tract_buf_dispose(&scratch);
			goto oom;
		}
		tract_buf_dispose(&scratch);
	}
	/* The tool call or result (or reasoning) the payload holds. */
	m->kind = parts.mkind;
	m->tool_name = parts.tool_name;
	m->call_id = parts.call_id;
	m->status = parts.status;
	m->tool_body = parts.tool_body;
	m->tool_body_len = parts.tool_body_len;
	parts.tool_name = parts.call_id = parts.tool_body = NULL;
	n = count_role(t, roles, m->role);
	if (n < 0)
		goto count_fail;
	m->tokens = 3 + n;
	if (reuse_counts && !edit_marker && source &&
	    tract_content_count_reusable(count_kind, parts.kind))
		n = source->token_count;
	else
		n = tract_count(t, m->content, m->content_len);
	if (n < 0)
		goto count_fail;
	m->tokens += n;
	if (m->name) {
		n = tract_count(t, m->name, m->name_len);
		if (n < 0)
			goto count_fail;
		m->tokens += n + 1;
	}
	cJSON_Delete(p);
	tract_message_parts_dispose(&parts);
	*out = m;
	return 0;
count_fail:
	rc = (int)n;
	goto fail;
oom:
	rc = tract_error_oom();
fail:
	cJSON_Delete(p);
	tract_message_parts_dispose(&parts);
	if (!m->role)
		m->role = "";
	tract_msg_release(m);
	return rc;
}

int tract_counts_reusable(tract *t, int *out)
{
	char key[128], value[128];
	int rc, found;

	*out = 0;
	if (!t->tok->source || !t->tok->source[0])
		return 0;
	tract_meta_key(key, sizeof(key), t->id, TRACT_META_COUNTER);
	rc = tract_meta_read(t->store, key, value, sizeof(value), &found);
	if (rc == 0 && found && strcmp(value, t->tok->source) == 0)
		*out = 1;
	return rc;
}

int64_t tract_count(tract *t, const char *text, size_t len)
{
	return tract_tokenizer_count_raw(t->tok, text, len);
}

int tract_msg_with_content(tract_msg **out, tract *t, const tract_msg *base, const char *content,
			   size_t len, const char *config, int edit_marker,
			   tract_role_counts *roles)
{
	tract_msg *m;
	int64_t n;
	int rc;

	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return tract_error_oom();
	m->refs = 1;
	m->role = base->role;
	memcpy(m->hash, base->hash, sizeof(m->hash));
	m->config = dup_config(config ? config : base->config);
	m->own_config = dup_config(base->own_config);
	m->content = malloc(len + 1);
	if (base->name) {
		m->name = malloc(base->name_len + 1);
		if (m->name) {
			memcpy(m->name, base->name, base->name_len + 1);
			m->name_len = base->name_len;
		}
	}
	if (!m->config || !m->own_config || !m->content || (base->name && !m->name))
		goto oom;
	memcpy(m->content, content, len);
	m->content[len] = '\0';
	m->content_len = len;
	if (edit_marker && append_marker(&m->content, &m->content_len) < 0)
		goto oom;
	n = count_role(t, roles, m->role);
	if (n >= 0) {
		m->tokens = 3 + n;
		n = tract_count(t, m->content, m->content_len);
	}
	if (n >= 0) {
		m->tokens += n;
		if (m->name) {
			n = tract_count(t, m->name, m->name_len);
			m->tokens += n + 1;
		}
	}
	if (n < 0) {
		rc = (int)n;
		goto fail;
	}
	*out = m;
	return 0;
oom:
	rc = tract_error_oom();
fail:
	tract_msg_release(m);
	return rc;
}
