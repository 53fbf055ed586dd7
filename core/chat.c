/*
 * chat.c - a compiled context as provider messages: tool calls with ids
 * (given or derived) paired with their results, and the request bodies of
 * the openai and anthropic wire formats (renderings layer). The rules are
 * in chat.h.
 */
#include "chat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

/* ---- a small string -> index table -------------------------------------- */

typedef struct {
	const char **keys; /* NULL = empty slot */
	size_t *vals;
	size_t cap; /* power of two */
} strmap;

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int strmap_init(strmap *m, size_t n)
{
	m->cap = 16;
	while (m->cap < n * 2 + 2)
		m->cap *= 2;
	m->keys = calloc(m->cap, sizeof(*m->keys));
	m->vals = calloc(m->cap, sizeof(*m->vals));
	return m->keys && m->vals ? 0 : TRACT_ENOMEM;
}

static void strmap_dispose(strmap *m)
{
	free(m->keys);
	free(m->vals);
}

/* The slot of key: where it is, or the empty one it would take. */
static size_t strmap_slot(const strmap *m, const char *key)
{
	size_t i = (size_t)str_hash(key) & (m->cap - 1);

	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* The table never holds more than n keys (strmap_init's n). */
static size_t *strmap_get(const strmap *m, const char *key)
{
	size_t i = strmap_slot(m, key);

	return m->keys[i] ? &m->vals[i] : NULL;
}

static void strmap_put(strmap *m, const char *key, size_t val)
{
	size_t i = strmap_slot(m, key);

	m->keys[i] = key;
	m->vals[i] = val;
}

/* ---- building the messages ------------------------------------------------ */

#define NONE SIZE_MAX
#define ID_SIZE (TRACT_CALL_ID_MAXLEN + 1)

/* One compiled message taken into the request. */
typedef struct {
	const tract_msg *m;
	size_t call; /* tool calls: index into the calls; else NONE */
	size_t pair; /* calls: the entry of its result; results: of its call */
} entry;

typedef struct {
	tract_context *ctx;     /* a reference: the strings are borrowed */
	tract_tool_call *calls; /* the tool_calls of the messages, in order */
	char (*ids)[ID_SIZE];   /* each call's id */
	size_t *content_len;    /* per message: the length of its content */
	size_t *name_len;
} chat_priv;

typedef struct {
	const tract_context *ctx;
	unsigned flags;
	entry *e;
	size_t n;
	char (*ids)[ID_SIZE]; /* per call entry, by entry.call */
	size_t n_calls;
	/* output */
	tract_chat_message *items;
	size_t *content_len, *name_len;
	size_t count;
	tract_tool_call *calls;
	size_t calls_used;
	size_t last_text_assistant; /* index of an assistant text just emitted, or NONE */
} builder;

static const char *wire_role(const char *role)
{
	if (strcmp(role, "system") == 0 || strcmp(role, "user") == 0 ||
	    strcmp(role, "assistant") == 0)
		return role;
	return "user";
}

static tract_chat_message *emit(builder *b, const char *role, const char *content,
                                size_t content_len)
{
	tract_chat_message *it = &b->items[b->count];

	memset(it, 0, sizeof(*it));
	it->role = role;
	it->content = content;
	b->content_len[b->count] = content_len;
	b->name_len[b->count] = 0;
	b->count++;
	b->last_text_assistant = NONE;
	return it;
}

/* An ordinary message: compile's role, text and name. */
static void emit_text(builder *b, const tract_msg *m, const char *role)
{
	tract_chat_message *it = emit(b, role, m->content, m->content_len);

	if (m->name && strcmp(role, "tool") != 0) {
		it->name = m->name;
		b->name_len[b->count - 1] = m->name_len;
	}
	if (strcmp(role, "assistant") == 0 && m->kind != TRACT_MSG_TOOL_CALL)
		b->last_text_assistant = b->count - 1;
}

/* Rule 2: every call's id, given (when unique) or derived. */
static int assign_ids(builder *b, strmap *byid)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		const tract_msg *m = b->e[i].m;
		char *id;
		size_t k;
		if (b->e[i].call == NONE)
			continue;
		id = b->ids[b->e[i].call];
		if (m->call_id && strlen(m->call_id) <= TRACT_CHAT_ID_MAXLEN &&
		    !strmap_get(byid, m->call_id)) {
			memcpy(id, m->call_id, strlen(m->call_id) + 1);
		} else {
			/* A longer given id still names the call for its results. */
			if (m->call_id && !strmap_get(byid, m->call_id))
				strmap_put(byid, m->call_id, i);
			/* "call_" + 24 hex digits of the commit hash; on the
			 * unlikely clash with a given id, the next 24. */
			for (k = 0; k < 2; k++) {
				memcpy(id, "call_", 5);
				memcpy(id + 5, m->hash + 24 * k, 24);
				id[29] = '\0';
				if (!strmap_get(byid, id))
					break;
			}
		}
		strmap_put(byid, id, i);
	}
	return 0;
}

/* Rule 3: pair results with calls. heads: tool name -> the latest call of
 * that tool not yet known to be answered; prev links a call to the call
 * of the same tool before it. */
static int pair_results(builder *b, const strmap *byid)
{
	strmap heads;
	size_t *prev, i;

	memset(&heads, 0, sizeof(heads));
	prev = malloc((b->n ? b->n : 1) * sizeof(*prev));
	if (!prev || strmap_init(&heads, b->n_calls) < 0) {
		strmap_dispose(&heads);
		free(prev);
		return TRACT_ENOMEM;
	}
	for (i = 0; i < b->n; i++) {
		const tract_msg *m = b->e[i].m;
		size_t *h, c = NONE;
		if (b->e[i].call != NONE) {
			h = strmap_get(&heads, m->tool_name);
			prev[i] = h ? *h : NONE;
			strmap_put(&heads, m->tool_name, i);
			continue;
		}
		if (m->kind != TRACT_MSG_TOOL_RESULT)
			continue;
		if (m->call_id) {
			h = strmap_get(byid, m->call_id);
			if (h && *h < i && b->e[*h].pair == NONE)
				c = *h;
		} else if ((h = strmap_get(&heads, m->tool_name)) != NULL) {
			/* Drop answered calls from the top of the tool's stack. */
			while (*h != NONE && b->e[*h].pair != NONE)
				*h = prev[*h];
			c = *h;
		}
		if (c != NONE) {
			b->e[c].pair = i;
			b->e[i].pair = c;
		}
	}
	strmap_dispose(&heads);
	free(prev);
	return 0;
}

/* A tool name Anthropic takes (1 to 200 characters; bytes counted, which
 * is stricter); a call with another name is kept as text. */
static int usable_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= 200;
}

static int is_call(const builder *b, size_t i)
{
	return i < b->n && b->e[i].call != NONE;
}

static int is_result(const builder *b, size_t i)
{
	return i < b->n && b->e[i].m->kind == TRACT_MSG_TOOL_RESULT;
}

/* Rule 4: the group of calls [r0, r1) and results [r1, r2). */
static void emit_group(builder *b, size_t r0, size_t r1, size_t r2)
{
	tract_chat_message *msg = NULL;
	size_t i, first = b->calls_used;

#define IN_PLACE(c) (b->e[c].pair != NONE && b->e[c].pair >= r1 && b->e[c].pair < r2)
	for (i = r0; i < r1; i++)
		if (!IN_PLACE(i))
			emit_text(b, b->e[i].m, "assistant");
	for (i = r0; i < r1; i++) {
		const tract_msg *m = b->e[i].m;
		tract_tool_call *tc;
		if (!IN_PLACE(i))
			continue;
		tc = &b->calls[b->calls_used++];
		tc->id = b->ids[b->e[i].call];
		tc->name = m->tool_name;
		tc->arguments_json = m->tool_body;
	}
	if (b->calls_used > first) {
		if (b->last_text_assistant == b->count - 1 && b->count > 0)
			msg = &b->items[b->count - 1]; /* a reply of text and calls */
		else
			msg = emit(b, "assistant", NULL, 0);
		msg->tool_calls = &b->calls[first];
		msg->n_tool_calls = b->calls_used - first;
		b->last_text_assistant = NONE;
	}
	for (i = r1; i < r2; i++) {
		const tract_msg *m = b->e[i].m;
		tract_chat_message *it;
		if (!(b->e[i].pair != NONE && b->e[i].pair >= r0 && b->e[i].pair < r1))
			continue;
		it = emit(b, "tool", m->tool_body, m->tool_body_len);
		it->tool_call_id = b->ids[b->e[b->e[i].pair].call];
		it->is_error = m->status && strcmp(m->status, "error") == 0;
	}
	for (i = r1; i < r2; i++)
		if (!(b->e[i].pair != NONE && b->e[i].pair >= r0 && b->e[i].pair < r1))
			emit_text(b, b->e[i].m, "user");
#undef IN_PLACE
}

static void chat_priv_free(chat_priv *p)
{
	if (!p)
		return;
	tract_context_free(p->ctx);
	free(p->calls);
	free(p->ids);
	free(p->content_len);
	free(p->name_len);
	free(p);
}

void tract_chat_messages_free(tract_chat_messages *m)
{
	if (!m)
		return;
	free(m->items);
	chat_priv_free(m->priv);
	free(m);
}

int tract_chat_messages_build(tract_chat_messages **out, const tract_context *ctx, unsigned flags)
{
	tract_chat_messages *res = NULL;
	chat_priv *priv = NULL;
	builder b;
	strmap byid = {0};
	size_t i, n, alloc;
	int rc = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_chat_messages_build: out is NULL");
	*out = NULL;
	if (!ctx)
		return tract_error_set(TRACT_EINVAL, "tract_chat_messages_build: NULL context");
	memset(&b, 0, sizeof(b));
	b.ctx = ctx;
	b.flags = flags;
	b.last_text_assistant = NONE;
	n = ctx->count;
	alloc = n ? n : 1;
	res = calloc(1, sizeof(*res));
	priv = calloc(1, sizeof(*priv));
	b.e = malloc(alloc * sizeof(*b.e));
	if (!res || !priv || !b.e)
		goto oom;
	for (i = 0; i < n; i++) {
		const tract_msg *m = tract_context_msg(ctx, i);
		if (m->kind == TRACT_MSG_REASONING && !(flags & TRACT_CHAT_REASONING))
			continue;
		b.e[b.n].m = m;
		b.e[b.n].pair = NONE;
		b.e[b.n].call = m->kind == TRACT_MSG_TOOL_CALL && usable_name(m->tool_name)
		                    ? b.n_calls++
		                    : NONE;
		b.n++;
	}
	priv->ids = malloc((b.n_calls ? b.n_calls : 1) * sizeof(*priv->ids));
	priv->calls = calloc(b.n_calls ? b.n_calls : 1, sizeof(*priv->calls));
	/* At most one message per entry, plus none: calls only shrink it. */
	res->items = calloc(alloc, sizeof(*res->items));
	priv->content_len = calloc(alloc, sizeof(size_t));
	priv->name_len = calloc(alloc, sizeof(size_t));
	if (!priv->ids || !priv->calls || !res->items || !priv->content_len || !priv->name_len ||
	    strmap_init(&byid, 2 * b.n_calls) < 0)
		goto oom;
	b.ids = priv->ids;
	b.calls = priv->calls;
	b.items = res->items;
	b.content_len = priv->content_len;
	b.name_len = priv->name_len;
	if (assign_ids(&b, &byid) < 0 || pair_results(&b, &byid) < 0)
		goto oom;
	for (i = 0; i < b.n;) {
		const tract_msg *m = b.e[i].m;
		if (is_call(&b, i)) {
			size_t r1 = i, r2;
			while (is_call(&b, r1))
				r1++;
			r2 = r1;
			while (is_result(&b, r2))
				r2++;
			emit_group(&b, i, r1, r2);
			i = r2;
		} else if (m->kind == TRACT_MSG_TOOL_RESULT) {
			emit_text(&b, m, "user"); /* an orphan */
			i++;
		} else {
			/* reasoning, or a call kept as text */
			emit_text(&b, m,
			          m->kind != TRACT_MSG_TEXT ? "assistant" : wire_role(m->role));
			i++;
		}
	}
	strmap_dispose(&byid);
	free(b.e);
	priv->ctx = tract_context_ref((tract_context *)ctx);
	res->count = b.count;
	res->priv = priv;
	*out = res;
	return 0;
oom:
	rc = tract_error_oom();
	strmap_dispose(&byid);
	free(b.e);
	if (res)
		free(res->items);
	free(res);
	chat_priv_free(priv);
	return rc;
}

int tract_chat_call_id_known(const tract_context *ctx, const char *id, int *known)
{
	size_t i;

	*known = 0;
	/* Every call of the context counts, also one kept as text. */
	for (i = 0; i < ctx->count && !*known; i++) {
		const tract_msg *m = tract_context_msg(ctx, i);
		if (m->kind == TRACT_MSG_TOOL_CALL && m->call_id && strcmp(m->call_id, id) == 0)
			*known = 1;
		else if (m->kind == TRACT_MSG_TOOL_CALL && strncmp(id, "call_", 5) == 0 &&
		         strlen(id) == 29 && memcmp(m->hash, id + 5, 24) == 0)
			*known = 1;
	}
	return 0;
}

int tract_chat_pairs(size_t **out, const tract_context *ctx)
{
	builder b;
	strmap byid = {0};
	size_t i, *pairs;
	int rc = 0;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	b.ctx = ctx;
	b.last_text_assistant = NONE;
	b.e = malloc((ctx->count ? ctx->count : 1) * sizeof(*b.e));
	pairs = malloc((ctx->count ? ctx->count : 1) * sizeof(*pairs));
	if (!b.e || !pairs)
		goto oom;
	/* Every message is an entry, so entry i is message i. */
	for (i = 0; i < ctx->count; i++) {
		const tract_msg *m = tract_context_msg(ctx, i);
		b.e[b.n].m = m;
		b.e[b.n].pair = NONE;
		b.e[b.n].call = m->kind == TRACT_MSG_TOOL_CALL && usable_name(m->tool_name)
		                    ? b.n_calls++
		                    : NONE;
		b.n++;
	}
	b.ids = malloc((b.n_calls ? b.n_calls : 1) * sizeof(*b.ids));
	if (!b.ids || strmap_init(&byid, 2 * b.n_calls) < 0)
		goto oom;
	if (assign_ids(&b, &byid) < 0 || pair_results(&b, &byid) < 0)
		goto oom;
	for (i = 0; i < b.n; i++)
		pairs[i] = b.e[i].pair;
	*out = pairs;
	pairs = NULL;
	goto done;
oom:
	rc = tract_error_oom();
done:
	strmap_dispose(&byid);
	free(b.ids);
	free(b.e);
	free(pairs);
	return rc;
}

/* ---- bodies ----------------------------------------------------------------- */

static int put_str(tract_buf *b, const char *s)
{
	return tract_json_escape(b, s, strlen(s), 0);
}

static int put_openai(tract_buf *b, const tract_chat_messages *cm)
{
	const chat_priv *p = cm->priv;
	size_t i, k;
	int rc = tract_buf_puts(b, "{\"messages\": [");

	for (i = 0; i < cm->count; i++) {
		const tract_chat_message *it = &cm->items[i];
		if (i)
			rc |= tract_buf_puts(b, ", ");
		rc |= tract_buf_puts(b, "{\"role\": ");
		rc |= put_str(b, it->role);
		if (it->content || !it->n_tool_calls) {
			rc |= tract_buf_puts(b, ", \"content\": ");
			rc |= tract_json_escape(b, it->content ? it->content : "",
			                        p->content_len[i], 0);
		}
		if (it->name) {
			rc |= tract_buf_puts(b, ", \"name\": ");
			rc |= tract_json_escape(b, it->name, p->name_len[i], 0);
		}
		if (it->n_tool_calls) {
			rc |= tract_buf_puts(b, ", \"tool_calls\": [");
			for (k = 0; k < it->n_tool_calls; k++) {
				const tract_tool_call *tc = &it->tool_calls[k];
				rc |= tract_buf_puts(b, k ? ", {\"id\": " : "{\"id\": ");
				rc |= put_str(b, tc->id);
				rc |= tract_buf_puts(b, ", \"type\": \"function\", \"function\": "
				                        "{\"name\": ");
				rc |= put_str(b, tc->name);
				rc |= tract_buf_puts(b, ", \"arguments\": ");
				rc |= put_str(b, tc->arguments_json);
				rc |= tract_buf_puts(b, "}}");
			}
			rc |= tract_buf_putc(b, ']');
		}
		if (it->tool_call_id) {
			rc |= tract_buf_puts(b, ", \"tool_call_id\": ");
			rc |= put_str(b, it->tool_call_id);
		}
		rc |= tract_buf_putc(b, '}');
	}
	return rc | tract_buf_puts(b, "]}");
}

/* Anthropic: one block of a message being assembled. */
typedef struct {
	enum { BLK_TEXT, BLK_TOOL_USE, BLK_TOOL_RESULT } type;
	const char *text; /* text; tool_result content */
	size_t len;
	const tract_chat_message *msg;
	const tract_tool_call *call;
} block;

typedef struct {
	const char *role; /* "user" or "assistant" */
	size_t first, n;  /* its blocks */
} turn;

static int blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' ||
		      s[i] == '\v'))
			return 0;
	return 1;
}

static int put_block(tract_buf *b, const block *k)
{
	int rc = 0;

	switch (k->type) {
	case BLK_TEXT:
		rc |= tract_buf_puts(b, "{\"type\": \"text\", \"text\": ");
		rc |= tract_json_escape(b, k->text, k->len, 0);
		break;
	case BLK_TOOL_USE:
		rc |= tract_buf_puts(b, "{\"type\": \"tool_use\", \"id\": ");
		rc |= put_str(b, k->call->id);
		rc |= tract_buf_puts(b, ", \"name\": ");
		rc |= put_str(b, k->call->name);
		/* The arguments are J-CANON of an object: JSON text as it is. */
		rc |= tract_buf_puts(b, ", \"input\": ");
		rc |= tract_buf_puts(b, k->call->arguments_json);
		break;
	case BLK_TOOL_RESULT:
		rc |= tract_buf_puts(b, "{\"type\": \"tool_result\", \"tool_use_id\": ");
		rc |= put_str(b, k->msg->tool_call_id);
		if (k->len) {
			rc |= tract_buf_puts(b, ", \"content\": ");
			rc |= tract_json_escape(b, k->text, k->len, 0);
		}
		if (k->msg->is_error)
			rc |= tract_buf_puts(b, ", \"is_error\": true");
		break;
	}
	return rc | tract_buf_putc(b, '}');
}

static int put_anthropic(tract_buf *b, const tract_chat_messages *cm)
{
	const chat_priv *p = cm->priv;
	tract_buf sys = TRACT_BUF_INIT;
	block *blocks;
	turn *turns;
	size_t i, k, nb = 0, nt = 0, cap = 1;
	int rc = 0, has_sys = 0;

	for (i = 0; i < cm->count; i++)
		cap += 1 + cm->items[i].n_tool_calls;
	blocks = malloc(cap * sizeof(*blocks));
	turns = malloc((cm->count + 2) * sizeof(*turns));
	if (!blocks || !turns) {
		free(blocks);
		free(turns);
		return TRACT_ENOMEM;
	}
	for (i = 0; i < cm->count; i++) {
		const tract_chat_message *it = &cm->items[i];
		const char *role;
		size_t before = nb;
		if (strcmp(it->role, "system") == 0) {
			if (has_sys)
				rc |= tract_buf_puts(&sys, "\n\n");
			rc |=
			    tract_buf_put(&sys, it->content ? it->content : "", p->content_len[i]);
			has_sys = 1;
			continue;
		}
		role = strcmp(it->role, "assistant") == 0 ? "assistant" : "user";
		if (it->tool_call_id) {
			blocks[nb++] =
			    (block){BLK_TOOL_RESULT, it->content, p->content_len[i], it, NULL};
		} else if (it->content && !blank(it->content, p->content_len[i])) {
			blocks[nb++] = (block){BLK_TEXT, it->content, p->content_len[i], it, NULL};
		}
		for (k = 0; k < it->n_tool_calls; k++)
			blocks[nb++] = (block){BLK_TOOL_USE, NULL, 0, it, &it->tool_calls[k]};
		if (nb == before)
			continue; /* nothing left of it */
		if (nt && turns[nt - 1].role == role) {
			turns[nt - 1].n += nb - before;
		} else {
			turns[nt].role = role;
			turns[nt].first = before;
			turns[nt].n = nb - before;
			nt++;
		}
	}
	/* A final assistant turn may not end with whitespace. */
	if (nt && turns[nt - 1].role[0] == 'a') {
		block *last = &blocks[turns[nt - 1].first + turns[nt - 1].n - 1];
		if (last->type == BLK_TEXT) {
			while (last->len && blank(last->text + last->len - 1, 1))
				last->len--;
			/* not blank (checked above), so something is left */
		}
	}
	if (has_sys && !blank(sys.ptr, sys.len)) {
		rc |= tract_buf_puts(b, "{\"system\": ");
		rc |= tract_json_escape(b, sys.ptr ? sys.ptr : "", sys.len, 0);
		rc |= tract_buf_puts(b, ", \"messages\": [");
	} else {
		rc |= tract_buf_puts(b, "{\"messages\": [");
	}
	if (nt && turns[0].role[0] == 'a') {
		rc |= tract_buf_puts(b, "{\"role\": \"user\", \"content\": ");
		rc |= put_str(b, TRACT_CHAT_LEAD_TEXT);
		rc |= tract_buf_puts(b, "}, ");
	}
	for (i = 0; i < nt; i++) {
		const turn *t = &turns[i];
		if (i)
			rc |= tract_buf_puts(b, ", ");
		rc |= tract_buf_puts(b, "{\"role\": ");
		rc |= put_str(b, t->role);
		rc |= tract_buf_puts(b, ", \"content\": ");
		if (t->n == 1 && blocks[t->first].type == BLK_TEXT) {
			rc |= tract_json_escape(b, blocks[t->first].text, blocks[t->first].len, 0);
		} else {
			rc |= tract_buf_putc(b, '[');
			for (k = 0; k < t->n; k++) {
				if (k)
					rc |= tract_buf_puts(b, ", ");
				rc |= put_block(b, &blocks[t->first + k]);
			}
			rc |= tract_buf_putc(b, ']');
		}
		rc |= tract_buf_putc(b, '}');
	}
	rc |= tract_buf_puts(b, "]}");
	tract_buf_dispose(&sys);
	free(blocks);
	free(turns);
	return rc ? TRACT_ENOMEM : 0;
}

int tract_chat_body_put(tract_buf *b, const tract_context *ctx, const char *wire_format,
                        unsigned flags)
{
	tract_chat_messages *cm;
	int rc, openai;

	if (!wire_format ||
	    (strcmp(wire_format, "openai") != 0 && strcmp(wire_format, "anthropic") != 0))
		return tract_error_set(TRACT_EINVAL,
		                       "unknown wire format '%.64s' (openai or anthropic)",
		                       wire_format ? wire_format : "(null)");
	openai = wire_format[0] == 'o';
	rc = tract_chat_messages_build(&cm, ctx, flags);
	if (rc < 0)
		return rc;
	rc = openai ? put_openai(b, cm) : put_anthropic(b, cm);
	tract_chat_messages_free(cm);
	return rc ? tract_error_oom() : 0;
}

int tract_chat_body_render(char **out, const tract_context *ctx, const char *wire_format,
                           unsigned flags)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_chat_body_render: out is NULL");
	*out = NULL;
	if (!ctx)
		return tract_error_set(TRACT_EINVAL, "tract_chat_body_render: NULL context");
	rc = tract_chat_body_put(&b, ctx, wire_format, flags);
	if (rc < 0) {
		tract_buf_dispose(&b);
		return rc;
	}
	*out = tract_buf_detach(&b);
	return *out ? 0 : tract_error_oom();
}
