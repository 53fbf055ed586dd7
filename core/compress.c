/*
 * compress.c - history compression (spec/agents.md §1 with DECISIONS.md;
 * see include/tract/compress.h): planning (range, classification,
 * groups), summaries (manual, LLM), pending compressions stored in the
 * store metadata, and the rewrite in one transaction (operations layer).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "internal.h"
#include "json.h"
#include "llm.h"
#include "replay.h"
#include "reflog.h"
#include "tract/compress.h"
#include "compress_int.h"
#include "warning.h"

#define PENDING_PREFIX "pending:"

/* ---- the plan ------------------------------------------------------------------ */

void tract_compress_chain_dispose(chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		tract_row_dispose(&c->rows[i]);
	free(c->rows);
	c->rows = NULL;
	c->n = 0;
}

typedef struct {
	tract_row *rows;
	size_t n, cap;
} chain_acc;

static int chain_cb(const tract_chain_row *row, void *payload)
{
	chain_acc *a = payload;
	int rc;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		tract_row *p = realloc(a->rows, cap * sizeof(*p));

		if (!p)
			return TRACT_ENOMEM;
		a->rows = p;
		a->cap = cap;
	}
	rc = tract_row_copy_chain(&a->rows[a->n], row);
	if (rc < 0)
		return rc;
	a->n++;
	return 0;
}

/* The chain from head, oldest first, with payloads, parents, priorities. */
int tract_compress_chain_read(chain *out, tract *t, const char *head)
{
	chain_acc a = {NULL, 0, 0};
	int rc = t->store->be->commit_chain(t->store->conn, t->id, head, 0,
	                                    TRACT_CHAIN_PAYLOAD | TRACT_CHAIN_PARENTS |
	                                        TRACT_CHAIN_PRIORITY,
	                                    INT64_MAX, chain_cb, &a);

	if (rc < 0) {
		chain c = {a.rows, a.n};
		tract_compress_chain_dispose(&c);
		return rc == TRACT_ENOMEM ? tract_error_oom()
		                          : tract_backend_error(t->store, rc, "read the chain");
	}
	for (size_t i = 0; i < a.n / 2; i++) {
		tract_row tmp = a.rows[i];
		a.rows[i] = a.rows[a.n - 1 - i];
		a.rows[a.n - 1 - i] = tmp;
	}
	out->rows = a.rows;
	out->n = a.n;
	return 0;
}

/* Position of hash on the chain, or SIZE_MAX. */
typedef struct {
	const char *hash;
	size_t pos;
} hidx;

static int hidx_cmp(const void *a, const void *b)
{
	return strcmp(((const hidx *)a)->hash, ((const hidx *)b)->hash);
}

static hidx *index_build(const chain *c)
{
	hidx *x = malloc((c->n + 1) * sizeof(*x));

	if (!x)
		return NULL;
	for (size_t i = 0; i < c->n; i++) {
		x[i].hash = c->rows[i].hash;
		x[i].pos = i;
	}
	qsort(x, c->n, sizeof(*x), hidx_cmp);
	return x;
}

static size_t index_find(const hidx *x, size_t n, const char *hash)
{
	hidx key = {hash, 0};
	const hidx *f = hash ? bsearch(&key, x, n, sizeof(*x), hidx_cmp) : NULL;

	return f ? f->pos : SIZE_MAX;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* §1.3: the range [*s, *e) of the chain. */
static int select_range(size_t *s, size_t *e, const chain *c, const hidx *x,
                        const tract_compress_options *o)
{
	if (o->has_commits) {
		const char **missing = NULL;
		size_t n_missing = 0, lo = SIZE_MAX, hi = 0, found = 0;
		char *seen = calloc(c->n + 1, 1);
		int rc = 0;

		if (!seen ||
		    (o->n_commits && !(missing = calloc(o->n_commits, sizeof(*missing))))) {
			free(seen);
			return tract_error_oom();
		}
		for (size_t i = 0; i < o->n_commits; i++) {
			const char *h = o->commits[i];
			size_t p = h && strlen(h) == 64 ? index_find(x, c->n, h) : SIZE_MAX;

			if (p == SIZE_MAX) {
				missing[n_missing++] = h ? h : "(null)";
				continue;
			}
			if (!seen[p])
				found++;
			seen[p] = 1;
			lo = p < lo ? p : lo;
			hi = p > hi ? p : hi;
		}
		if (n_missing) {
			tract_buf b = TRACT_BUF_INIT;

			qsort(missing, n_missing, sizeof(*missing), str_cmp);
			for (size_t i = 0; i < n_missing; i++)
				rc |= tract_buf_printf(&b, "%s%s", i ? ", " : "", missing[i]);
			rc = rc ? tract_error_oom()
			        : tract_error_set(TRACT_EINVAL,
			                          "Commits not found in current chain: %s", b.ptr);
			tract_buf_dispose(&b);
		} else if (!found) {
			rc = tract_error_set(TRACT_EINVAL, "No commits matched the provided list");
		} else if (hi - lo + 1 != found) {
			/* DECISIONS.md: a non-contiguous list is invalid input. */
			for (size_t p = lo; p <= hi; p++)
				if (!seen[p]) {
					rc = tract_error_set(
					    TRACT_EINVAL,
					    "Commits are not contiguous on the current "
					    "chain: %s lies between them",
					    c->rows[p].hash);
					break;
				}
		}
		free(seen);
		free(missing);
		*s = lo;
		*e = hi + 1;
		return rc;
	}
	*s = 0;
	*e = c->n;
	if (o->from_commit) {
		size_t p = index_find(x, c->n, o->from_commit);
		if (p == SIZE_MAX)
			return tract_error_set(TRACT_EINVAL, "from_commit not found in chain: %s",
			                       o->from_commit);
		*s = p;
	}
	if (o->to_commit) {
		size_t p = index_find(x, c->n, o->to_commit);
		if (p == SIZE_MAX)
			return tract_error_set(TRACT_EINVAL, "to_commit not found in chain: %s",
			                       o->to_commit);
		*e = p + 1;
	}
	if (*s >= *e)
		return tract_error_set(TRACT_EINVAL,
		                       "Invalid range: from_commit is after to_commit in chain");
	return 0;
}

static void pending_free_parts(tract_pending_compression *p)
{
	free(p->range);
	free(p->classes);
	free(p->gfirst);
	free(p->members);
	free(p->gsize);
	free(p->gstart);
	for (size_t i = 0; p->summaries && i < p->n_groups; i++)
		free(p->summaries[i]);
	free(p->summaries);
	free(p->instructions);
}

void tract_pending_compression_free(tract_pending_compression *p)
{
	if (!p)
		return;
	pending_free_parts(p);
	free(p);
}

/* §1.5: groups from the classes. */
static int groups_build(tract_pending_compression *p)
{
	size_t g = 0, m = 0;
	int open = 0;

	p->members = calloc(p->n_range + 1, sizeof(size_t));
	p->gfirst = calloc(p->n_range + 1, sizeof(size_t));
	p->gsize = calloc(p->n_range + 1, sizeof(size_t));
	p->gstart = calloc(p->n_range + 1, sizeof(size_t));
	if (!p->members || !p->gfirst || !p->gsize || !p->gstart)
		return tract_error_oom();
	for (size_t i = 0; i < p->n_range; i++) {
		if (p->classes[i] == C_PINNED) {
			open = 0;
		} else if (p->classes[i] == C_NORMAL) {
			if (!open) {
				p->gfirst[g] = i;
				p->gstart[g] = m;
				g++;
				open = 1;
			}
			p->gsize[g - 1]++;
			p->members[m++] = i;
		}
	}
	p->n_groups = g;
	p->n_members = m;
	p->summaries = calloc(g + 1, sizeof(char *));
	return p->summaries ? 0 : tract_error_oom();
}

static void random_id(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		uint64_t v = (uint64_t)tract_time_now() ^ (uint64_t)(uintptr_t)out;
		for (int i = 0; i < 16; i++, v = v * 6364136223846793005ULL + 1)
			b[i] = (unsigned char)(v >> 56);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

static int is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

/*
 * DECISIONS.md: merge commits inside the range are an error unless the
 * whole range is first-parent linear, i.e. following first parents from
 * the range's end reaches every commit the range reaches through all
 * parents: each merge parent of a merge in the range is a commit of the
 * chain before that merge (the merge brought in nothing the first-parent
 * chain does not already hold, so rewriting it loses no commit and, as a
 * merge compiles to no message, no context). Such a merge is dropped by
 * the rewrite; one that carries conflict resolutions is refused. Merges
 * after the range would be replayed without their merge parents: refused.
 */
static int merges_check(const chain *c, const hidx *x, size_t s, size_t e)
{
	for (size_t i = s; i < c->n; i++) {
		const tract_row *r = &c->rows[i];

		if (!r->n_extra)
			continue;
		if (i >= e)
			return tract_error_set(TRACT_EINVAL,
			                       "Cannot compress: merge commit %s after the range "
			                       "(it would be replayed without its merge parents)",
			                       r->hash);
		for (size_t k = 0; k < r->n_extra; k++) {
			size_t p = index_find(x, c->n, r->extra_parents[k]);

			if (p == SIZE_MAX || p >= i)
				return tract_error_set(
				    TRACT_EINVAL,
				    "Cannot compress: merge commit %s inside the range merges %s, "
				    "which is not on the first-parent chain (only a first-parent "
				    "linear range can be rewritten)",
				    r->hash, r->extra_parents[k]);
		}
		if (r->payload && strstr(r->payload, "\"resolutions\""))
			return tract_error_set(TRACT_EINVAL,
			                       "Cannot compress: merge commit %s inside the range "
			                       "carries conflict resolutions",
			                       r->hash);
	}
	return 0;
}

/* §1.2-1.4 and 1.6 (original tokens): the plan, from the chain. */
int tract_compress_plan(tract_pending_compression *p, tract *t, const tract_head_state *hs,
                      const chain *c, const tract_compress_options *o)
{
	size_t s = 0, e = 0;
	hidx *x = index_build(c);
	int rc;

	if (!x)
		return tract_error_oom();
	rc = select_range(&s, &e, c, x, o);
	if (rc == 0)
		rc = merges_check(c, x, s, e);
	free(x);
	if (rc < 0)
		return rc;
	tract_copy_id(p->tract_id, t->id);
	snprintf(p->branch, sizeof(p->branch), "%s", hs->head.symbolic);
	tract_copy_id(p->head, hs->hash);
	p->n_range = e - s;
	p->range = calloc(p->n_range, sizeof(*p->range));
	p->classes = calloc(p->n_range + 1, 1);
	if (!p->range || !p->classes)
		return tract_error_oom();
	for (size_t i = 0; i < p->n_range; i++) {
		const tract_row *r = &c->rows[s + i];
		char cls = C_NORMAL;

		memcpy(p->range[i], r->hash, 65);
		for (size_t k = 0; k < o->n_preserve; k++)
			if (o->preserve[k] && strcmp(o->preserve[k], r->hash) == 0)
				cls = C_PINNED;
		if (cls == C_NORMAL && r->priority == TRACT_PRIORITY_PINNED)
			cls = C_PINNED;
		else if (cls == C_NORMAL && r->priority == TRACT_PRIORITY_SKIP)
			cls = C_SKIP;
		/* a merge of a linear range (merges_check) gives no message
		 * and merged nothing new: the rewrite drops it */
		if (r->n_extra)
			cls = C_SKIP;
		p->classes[i] = cls;
		if (cls == C_NORMAL)
			p->original_tokens += r->token_count;
	}
	rc = groups_build(p);
	if (rc < 0)
		return rc;
	if (!p->n_groups)
		return tract_error_set(TRACT_EINVAL,
		                       "Nothing to compress -- all commits are pinned or skipped");
	p->target_tokens = o->target_tokens > 0 ? o->target_tokens : -1;
	if (o->instructions && !(p->instructions = strdup(o->instructions)))
		return tract_error_oom();
	p->created_at = tract_time_now();
	return 0;
}

/* ---- LLM summaries (§1.5.1, §5) -------------------------------------------------- */

static const char DEFAULT_SYSTEM[] =
    "You are a summarizer of an AI assistant's conversation history. Write a concise "
    "third-person narrative in prose of what happened in the conversation segment you are "
    "given. Preserve concrete details: names, numbers, code, file paths, decisions made and "
    "constraints stated. Favour the information that will matter for future turns of the "
    "conversation; drop greetings, pleasantries and filler. Respect the target length when "
    "one is given. Your summary must begin with the exact phrase \"Previously in this "
    "conversation:\".";

/* One transcript line of a commit (§1.5.1); NULL text: unavailable. */
static int transcript_line(tract_buf *b, const tract_row *r, int *available)
{
	cJSON *p = NULL, *v;
	char err[64];
	const char *role = r->content_type;
	char *owned = NULL;
	const char *text = NULL;
	int rc = 0;

	*available = 0;
	if (!r->payload ||
	    tract_json_parse(&p, r->payload, strlen(r->payload), TRACT_JSON_NONFINITE_TO_NULL, err,
	                     sizeof(err)) < 0 ||
	    !cJSON_IsObject(p)) {
		cJSON_Delete(p);
		tract_warn("compress: content of commit %s is unavailable", r->hash);
		return tract_buf_puts(b, "[content unavailable]") ? tract_error_oom() : 0;
	}
	v = cJSON_GetObjectItemCaseSensitive(p, "role");
	if (cJSON_IsString(v))
		role = v->valuestring;
	v = cJSON_GetObjectItemCaseSensitive(p, "text");
	if (cJSON_IsString(v) && *v->valuestring) {
		text = v->valuestring;
	} else if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(p, "content"))) {
		text = v->valuestring;
	} else {
		v = cJSON_GetObjectItemCaseSensitive(p, "payload");
		owned = tract_json_render_str(v ? v : p, TRACT_JSON_STORE);
		if (!owned)
			rc = tract_error_oom();
		text = owned;
	}
	if (rc == 0 && tract_buf_printf(b, "[%s]: %s", role, text))
		rc = tract_error_oom();
	free(owned);
	cJSON_Delete(p);
	*available = 1;
	return rc;
}

int tract_compress_llm_summary(char **out, tract_llm *llm, const tract_pending_compression *p,
                       const chain *c, size_t s, size_t g, const char *system_prompt)
{
	tract_buf user = TRACT_BUF_INIT;
	tract_chat_message msgs[2];
	tract_chat_request req;
	tract_chat_result *res = NULL;
	const char *text;
	size_t avail = 0, n = p->gsize[g];
	int rc = 0;

	*out = NULL;
	rc = tract_buf_puts(&user, "Summarize the following conversation segment.\n\n") ? -1 : 0;
	for (size_t k = 0; rc == 0 && k < n; k++) {
		int a = 0;

		if (k && tract_buf_puts(&user, "\n\n"))
			rc = -1;
		if (rc == 0)
			rc = transcript_line(&user, &c->rows[s + p->members[p->gstart[g] + k]], &a);
		avail += a;
	}
	if (rc == 0 && p->target_tokens > 0 &&
	    tract_buf_printf(&user, "\n\nTarget length: approximately %" PRId64 " tokens.",
	                     p->target_tokens))
		rc = -1;
	if (rc == 0 && p->instructions &&
	    tract_buf_printf(&user, "\n\nAdditional instructions: %s", p->instructions))
		rc = -1;
	if (rc < 0) {
		tract_buf_dispose(&user);
		return tract_error_last()->code ? tract_error_last()->code : tract_error_oom();
	}
	if (!avail) {
		tract_buf_dispose(&user);
		return tract_error_set(TRACT_EINVAL,
		                       "All %zu commits in group have unavailable content", n);
	}
	memset(msgs, 0, sizeof(msgs));
	msgs[0].role = "system";
	msgs[0].content = system_prompt ? system_prompt : DEFAULT_SYSTEM;
	msgs[1].role = "user";
	msgs[1].content = user.ptr;
	memset(&req, 0, sizeof(req));
	req.version = TRACT_CHAT_REQUEST_VERSION;
	req.messages = msgs;
	req.n_messages = 2;
	rc = tract_llm_chat_messages(&res, llm, &req);
	tract_buf_dispose(&user);
	if (rc < 0)
		return rc;
	text = tract_chat_result_text(res);
	if (!text || is_blank(text))
		rc = tract_error_set(TRACT_EINVAL, "LLM returned empty summary");
	else if (!tract_utf8_valid(text, strlen(text)))
		rc = tract_error_set(TRACT_EINVAL, "Invalid LLM response structure: the summary "
		                                   "is not valid UTF-8");
	else if (!(*out = strdup(text)))
		rc = tract_error_oom();
	tract_chat_result_free(res);
	return rc;
}

/* ---- the rewrite (§1.8, §1.9) ------------------------------------------------------- */

static int list_alloc(tract_hash_hex **out, size_t n)
{
	*out = calloc(n + 1, sizeof(**out));
	return *out ? 0 : tract_error_oom();
}

void tract_compress_result_free(tract_compress_result *r)
{
	if (!r)
		return;
	free(r->source_commits);
	free(r->summary_commits);
	free(r->preserved_commits);
	free(r->preserved_copies);
	free(r->skipped_commits);
	free(r->replayed_commits);
	free(r);
}

/* Where a response_to of a rewritten commit points: its copy, the summary
 * that replaced it, or nothing (skipped); a target off the rewritten part
 * stays. *gone: the target left the chain or was summarized (an edit of it
 * becomes an append). */
static const char *retarget(const char *target, const hidx *x, size_t nx, tract_hash_hex *newh,
                            const char *cls, size_t n_range, size_t s, int *gone)
{
	size_t p;

	*gone = 0;
	if (!target)
		return NULL;
	p = index_find(x, nx, target);
	if (p == SIZE_MAX || p < s)
		return target;
	if (p - s < n_range && cls[p - s] != C_PINNED)
		*gone = 1; /* summarized or skipped */
	return newh[p][0] ? newh[p] : *gone ? NULL : target;
}

static int move_ref(tract *t, const char *ref, const char *from, const char *to)
{
	tract_ref_row exp;
	int rc;

	memset(&exp, 0, sizeof(exp));
	exp.commit_hash = from;
	if (to)
		rc = t->store->be->ref_cas(t->store->conn, t->id, ref, to, NULL, &exp);
	else
		rc = t->store->be->ref_delete(t->store->conn, t->id, ref, &exp);
	if (rc == TRACT_ESTALE)
		return tract_error_set(TRACT_ESTALE, "branch moved by another writer");
	return rc < 0 ? tract_backend_error(t->store, rc, "move branch") : 0;
}

/* Inside the write transaction: c is the current chain, the plan's range
 * is c->rows[s..s+n_range). */
int tract_compress_rewrite(tract_compress_result *r, tract *t, const tract_pending_compression *p,
                   const chain *c, size_t s, int *wrote)
{
	tract_store *st = t->store;
	size_t e = s + p->n_range, np = 0, nk = 0, g = 0;
	tract_hash_hex *newh = calloc(c->n + 1, sizeof(*newh));
	hidx *x = index_build(c);
	tract_compression_row rec;
	int rc = 0;

	if (!newh || !x) {
		free(newh);
		free(x);
		return tract_error_oom();
	}
	for (size_t i = 0; i < p->n_range; i++) {
		np += p->classes[i] == C_PINNED;
		nk += p->classes[i] == C_SKIP;
	}
	random_id(r->compression_id);
	if (list_alloc(&r->source_commits, p->n_members) ||
	    list_alloc(&r->summary_commits, p->n_groups) || list_alloc(&r->preserved_commits, np) ||
	    list_alloc(&r->preserved_copies, np) || list_alloc(&r->skipped_commits, nk) ||
	    list_alloc(&r->replayed_commits, c->n - e)) {
		rc = tract_error_oom();
		goto done;
	}
	r->original_tokens = p->original_tokens;
	*wrote = 1;
	rc = move_ref(t, p->branch, c->rows[c->n - 1].hash, s ? c->rows[s - 1].hash : NULL);
	/* The ref log keeps the tip being rewritten (reflog.c). */
	if (rc == 0)
		rc = tract_reflog_note_commits(st, t->id, p->branch, c->rows[c->n - 1].hash,
					       s ? c->rows[s - 1].hash : NULL, "compress", 0);
	for (size_t i = s; rc == 0 && i < c->n; i++) {
		const tract_row *o = &c->rows[i];
		char cls = i < e ? p->classes[i - s] : C_PINNED;
		tract_commit *nc = NULL;

		if (cls == C_SKIP) {
			memcpy(r->skipped_commits[r->n_skipped++], o->hash, 65);
			continue;
		}
		if (cls == C_NORMAL) {
			memcpy(r->source_commits[r->n_source++], o->hash, 65);
			if (g < p->n_groups && p->gfirst[g] == i - s) {
				tract_commit_options co = TRACT_COMMIT_OPTIONS_INIT;
				char msg[64];
				int64_t tk;

				snprintf(msg, sizeof(msg), "Compressed %zu commits", p->gsize[g]);
				co.message = msg;
				rc = tract_commit_create_dialogue(&nc, t, "assistant",
				                                  p->summaries[g], NULL, &co);
				if (rc < 0)
					break;
				memcpy(r->summary_commits[r->n_summary++], tract_commit_hash(nc),
				       65);
				tk = tract_count(t, p->summaries[g], strlen(p->summaries[g]));
				if (tk < 0) {
					rc = (int)tk;
					tract_commit_free(nc);
					break;
				}
				r->summary_tokens += tk;
				tract_commit_free(nc);
				g++;
			}
			memcpy(newh[i], r->summary_commits[r->n_summary - 1], 65);
			continue;
		}
		/* pinned, or a commit after the range: replayed */
		{
			int gone = 0;
			const char *target = retarget(o->response_to, x, c->n, newh, p->classes,
			                              p->n_range, s, &gone);
			tract_operation op = o->operation;

			if (op == TRACT_OP_EDIT && gone) {
				op = TRACT_OP_APPEND;
				target = NULL;
			}
			rc = tract_replay_commit_as(&nc, t, o, op, target, wrote);
			if (rc < 0)
				break;
			memcpy(newh[i], tract_commit_hash(nc), 65);
			tract_commit_free(nc);
			if (i < e) {
				memcpy(r->preserved_commits[r->n_preserved], o->hash, 65);
				memcpy(r->preserved_copies[r->n_preserved++], newh[i], 65);
				r->preserved_tokens += o->token_count;
			} else {
				memcpy(r->replayed_commits[r->n_replayed++], newh[i], 65);
			}
		}
	}
	if (rc < 0)
		goto done;
	r->compressed_tokens = r->summary_tokens + r->preserved_tokens;
	r->compression_ratio =
	    r->original_tokens ? (double)r->compressed_tokens / (double)r->original_tokens : 0.0;
	{
		tract_head_state hs;

		rc = tract_head_read(&hs, t);
		if (rc < 0)
			goto done;
		tract_copy_id(r->new_head, hs.hash);
	}
	memset(&rec, 0, sizeof(rec));
	rec.compression_id = r->compression_id;
	rec.tract_id = t->id;
	rec.branch_name = strncmp(p->branch, "refs/heads/", 11) == 0 ? p->branch + 11 : p->branch;
	rec.created_at = tract_time_now();
	rec.original_tokens = r->original_tokens;
	rec.compressed_tokens = r->compressed_tokens;
	rec.target_tokens = p->target_tokens > 0 ? p->target_tokens : -1;
	rec.instructions = p->instructions;
	rc = st->be->compression_put(st->conn, &rec);
	for (size_t i = 0; rc >= 0 && i < r->n_source; i++)
		rc = st->be->compression_member_put(st->conn, TRACT_COMPRESSION_SOURCES,
		                                    r->compression_id, r->source_commits[i],
		                                    (int64_t)i);
	for (size_t i = 0; rc >= 0 && i < r->n_summary; i++)
		rc = st->be->compression_member_put(st->conn, TRACT_COMPRESSION_RESULTS,
		                                    r->compression_id, r->summary_commits[i],
		                                    (int64_t)i);
	if (rc < 0)
		rc = tract_backend_error(st, rc, "write the compression record");
done:
	free(newh);
	free(x);
	return rc;
}

/* ---- stored pending compressions ------------------------------------------------------ */

static char *pending_key(char *buf, size_t len, const char *tract_id, const char *id)
{
	char k[64];

	snprintf(k, sizeof(k), PENDING_PREFIX "%s", id);
	return tract_meta_key(buf, len, tract_id, k);
}

static cJSON *pending_to_cjson(const tract_pending_compression *p)
{
	cJSON *o = cJSON_CreateObject(), *a;
	char when[64];
	int ok = o != NULL;

	if (!ok)
		return NULL;
	tract_time_format(when, sizeof(when), p->created_at);
	ok &= cJSON_AddStringToObject(o, "id", p->id) != NULL;
	ok &= cJSON_AddStringToObject(o, "tract_id", p->tract_id) != NULL;
	ok &= cJSON_AddStringToObject(o, "branch", p->branch) != NULL;
	ok &= cJSON_AddStringToObject(o, "head", p->head) != NULL;
	ok &= (a = cJSON_AddArrayToObject(o, "range")) != NULL;
	for (size_t i = 0; ok && i < p->n_range; i++)
		ok &= cJSON_AddItemToArray(a, cJSON_CreateString(p->range[i]));
	ok &= cJSON_AddStringToObject(o, "classes", p->classes ? p->classes : "") != NULL;
	ok &= (a = cJSON_AddArrayToObject(o, "groups")) != NULL;
	for (size_t g = 0; ok && g < p->n_groups; g++) {
		cJSON *ga = cJSON_CreateArray();

		ok &= ga && cJSON_AddItemToArray(a, ga);
		for (size_t k = 0; ok && k < p->gsize[g]; k++)
			ok &= cJSON_AddItemToArray(
			    ga, cJSON_CreateString(p->range[p->members[p->gstart[g] + k]]));
	}
	ok &= (a = cJSON_AddArrayToObject(o, "summaries")) != NULL;
	for (size_t g = 0; ok && g < p->n_groups; g++)
		ok &= cJSON_AddItemToArray(a, p->summaries[g] ? cJSON_CreateString(p->summaries[g])
		                                              : cJSON_CreateNull());
	if (p->target_tokens > 0)
		ok &= cJSON_AddNumberToObject(o, "target_tokens", (double)p->target_tokens) != NULL;
	else
		ok &= cJSON_AddNullToObject(o, "target_tokens") != NULL;
	ok &= (p->instructions ? cJSON_AddStringToObject(o, "instructions", p->instructions)
	                       : cJSON_AddNullToObject(o, "instructions")) != NULL;
	ok &= cJSON_AddNumberToObject(o, "original_tokens", (double)p->original_tokens) != NULL;
	ok &= cJSON_AddNumberToObject(o, "estimated_tokens", (double)p->estimated_tokens) != NULL;
	ok &= cJSON_AddStringToObject(o, "created_at", when) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int tract_pending_compression_to_json(char **out, const tract_pending_compression *p)
{
	cJSON *o;

	if (!out || !p)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_pending_compression_to_json: NULL argument");
	o = pending_to_cjson(p);
	*out = o ? tract_json_render_str(o, TRACT_JSON_COLUMN) : NULL;
	cJSON_Delete(o);
	return *out ? 0 : tract_error_oom();
}

static int pending_store(tract *t, const tract_pending_compression *p)
{
	char key[160], *json = NULL;
	int rc = tract_pending_compression_to_json(&json, p);

	if (rc < 0)
		return rc;
	pending_key(key, sizeof(key), t->id, p->id);
	rc = t->store->be->meta_set(t->store->conn, key, json);
	free(json);
	return rc < 0 ? tract_backend_error(t->store, rc, "store the pending compression") : 0;
}

static int meta_dup_cb(const char *key, const char *value, void *payload)
{
	(void)key;
	*(char **)payload = strdup(value ? value : "");
	return *(char **)payload ? 0 : TRACT_ENOMEM;
}

static int id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n != 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

static int corrupt(const char *id)
{
	return tract_error_set(TRACT_ECORRUPT, "pending compression %s: stored plan is malformed",
	                       id);
}

/* Inside a transaction. */
static int pending_load(tract_pending_compression **out, tract *t, const char *id)
{
	char key[160], *json = NULL, err[64];
	tract_pending_compression *p;
	cJSON *o = NULL, *v;
	int rc;

	*out = NULL;
	if (!id_valid(id))
		return tract_error_set(TRACT_ENOTFOUND, "No pending compression %s", id ? id : "");
	pending_key(key, sizeof(key), t->id, id);
	rc = t->store->be->meta_get(t->store->conn, key, meta_dup_cb, &json);
	if (rc == TRACT_ENOTFOUND)
		return tract_error_set(TRACT_ENOTFOUND, "No pending compression %s", id);
	if (rc < 0)
		return rc == TRACT_ENOMEM
		           ? tract_error_oom()
		           : tract_backend_error(t->store, rc, "read the pending compression");
	rc = tract_json_parse(&o, json, strlen(json), 0, err, sizeof(err));
	free(json);
	if (rc < 0 || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return corrupt(id);
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		cJSON_Delete(o);
		return tract_error_oom();
	}
	rc = 0;
	memcpy(p->id, id, 33);
	tract_copy_id(p->tract_id, t->id);
	v = cJSON_GetObjectItemCaseSensitive(o, "branch");
	if (!cJSON_IsString(v) || strlen(v->valuestring) > TRACT_REF_NAME_MAX)
		rc = -1;
	else
		snprintf(p->branch, sizeof(p->branch), "%s", v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(o, "head");
	if (rc == 0 && cJSON_IsString(v) && strlen(v->valuestring) == 64)
		tract_copy_id(p->head, v->valuestring);
	else
		rc = -1;
	v = cJSON_GetObjectItemCaseSensitive(o, "range");
	if (rc == 0 && cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
		const cJSON *h;
		p->n_range = (size_t)cJSON_GetArraySize(v);
		if (list_alloc(&p->range, p->n_range) < 0) {
			rc = TRACT_ENOMEM;
		} else {
			size_t i = 0;
			cJSON_ArrayForEach(h, v)
			{
				if (!cJSON_IsString(h) || strlen(h->valuestring) != 64) {
					rc = -1;
					break;
				}
				memcpy(p->range[i++], h->valuestring, 65);
			}
		}
	} else if (rc == 0) {
		rc = -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "classes");
	if (rc == 0 && cJSON_IsString(v) && strlen(v->valuestring) == p->n_range &&
	    strspn(v->valuestring, "NPS") == p->n_range) {
		if (!(p->classes = strdup(v->valuestring)))
			rc = TRACT_ENOMEM;
	} else if (rc == 0) {
		rc = -1;
	}
	if (rc == 0 && (rc = groups_build(p)) < 0)
		rc = TRACT_ENOMEM;
	v = cJSON_GetObjectItemCaseSensitive(o, "summaries");
	if (rc == 0 && cJSON_IsArray(v) && (size_t)cJSON_GetArraySize(v) == p->n_groups) {
		for (size_t g = 0; rc == 0 && g < p->n_groups; g++) {
			const cJSON *sm = cJSON_GetArrayItem(v, (int)g);
			if (cJSON_IsString(sm) && !(p->summaries[g] = strdup(sm->valuestring)))
				rc = TRACT_ENOMEM;
			else if (!cJSON_IsString(sm) && !cJSON_IsNull(sm))
				rc = -1;
		}
	} else if (rc == 0) {
		rc = -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "target_tokens");
	p->target_tokens = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
	v = cJSON_GetObjectItemCaseSensitive(o, "instructions");
	if (rc == 0 && cJSON_IsString(v) && !(p->instructions = strdup(v->valuestring)))
		rc = TRACT_ENOMEM;
	v = cJSON_GetObjectItemCaseSensitive(o, "original_tokens");
	p->original_tokens = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
	v = cJSON_GetObjectItemCaseSensitive(o, "estimated_tokens");
	p->estimated_tokens = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
	v = cJSON_GetObjectItemCaseSensitive(o, "created_at");
	if (rc == 0 && cJSON_IsString(v))
		tract_time_parse(&p->created_at, v->valuestring);
	cJSON_Delete(o);
	if (rc < 0) {
		tract_pending_compression_free(p);
		return rc == TRACT_ENOMEM ? tract_error_oom() : corrupt(id);
	}
	*out = p;
	return 0;
}

/* ---- the operations ------------------------------------------------------------------ */

int tract_compress_options_init(tract_compress_options *opts, unsigned int version)
{
	tract_compress_options d = TRACT_COMPRESS_OPTIONS_INIT;

	if (!opts)
		return tract_error_set(TRACT_EINVAL, "tract_compress_options_init: opts is NULL");
	if (tract_version_check(version, TRACT_COMPRESS_OPTIONS_VERSION, "tract_compress_options") <
	    0)
		return TRACT_EINVAL;
	*opts = d;
	opts->version = version;
	return 0;
}

/* §1.2 preconditions 1-2, then the chain. */
static int read_state(tract_head_state *hs, chain *c, tract *t)
{
	int rc = tract_head_read(hs, t);

	if (rc < 0)
		return rc;
	rc = tract_head_check_attached(hs, t);
	if (rc < 0)
		return rc;
	if (!hs->hash[0])
		return tract_error_set(TRACT_EINVAL, "No commits to compress");
	return tract_compress_chain_read(c, t, hs->hash);
}

/* Summaries from the options (manual mode), checked. */
static int manual_summaries(tract_pending_compression *p, const tract_compress_options *o)
{
	if (o->n_summaries != p->n_groups) {
		if (o->n_summaries == 1)
			return tract_error_set(
			    TRACT_EINVAL,
			    "Manual mode provides a single summary but PINNED "
			    "commits create %zu separate groups. Give one summary "
			    "per group or use an LLM.",
			    p->n_groups);
		return tract_error_set(
		    TRACT_EINVAL,
		    "Manual mode provides %zu summaries but PINNED commits create "
		    "%zu separate groups.",
		    o->n_summaries, p->n_groups);
	}
	for (size_t g = 0; g < p->n_groups; g++) {
		const char *sm = o->summaries[g];

		if (!sm || is_blank(sm))
			return tract_error_set(
			    TRACT_EINVAL, "Empty summary for group %zu: a summary needs text", g);
		if (!tract_utf8_valid(sm, strlen(sm)))
			return tract_error_set(TRACT_EINVAL, "Summary %zu is not valid UTF-8", g);
		if (!(p->summaries[g] = strdup(sm)))
			return tract_error_oom();
	}
	return 0;
}

int tract_compress_estimate(tract_pending_compression *p, tract *t)
{
	p->estimated_tokens = 0;
	for (size_t g = 0; g < p->n_groups; g++) {
		int64_t n;

		if (!p->summaries[g])
			continue;
		n = tract_count(t, p->summaries[g], strlen(p->summaries[g]));
		if (n < 0)
			return (int)n;
		p->estimated_tokens += n;
	}
	return 0;
}

/* Find the plan's range on chain c: TRACT_ESTALE when it is not there as
 * planned (same branch, same commits, contiguous). */
static int locate(size_t *s, const tract_pending_compression *p, const tract_head_state *hs,
                  const chain *c)
{
	size_t i;

	if (strcmp(hs->head.symbolic, p->branch) != 0)
		return tract_error_set(TRACT_ESTALE,
		                       "The compression was planned on %s but HEAD is now on %s; "
		                       "plan it again",
		                       p->branch, hs->head.symbolic);
	for (i = 0; i < c->n; i++)
		if (strcmp(c->rows[i].hash, p->range[0]) == 0)
			break;
	if (i + p->n_range > c->n)
		goto stale;
	for (size_t k = 0; k < p->n_range; k++)
		if (strcmp(c->rows[i + k].hash, p->range[k]) != 0)
			goto stale;
	for (size_t k = i; k < c->n; k++)
		if (c->rows[k].n_extra)
			return tract_error_set(TRACT_EINVAL,
			                       "Cannot compress: merge commit %s after the range",
			                       c->rows[k].hash);
	*s = i;
	return 0;
stale:
	return tract_error_set(TRACT_ESTALE,
	                       "The range changed since the compression was planned (HEAD was "
	                       "%.8s); plan it again",
	                       p->head);
}

/* The write transaction of a direct compression or an approval. */
/* The write transaction of an approval (p stored, delete_key its key) or
 * of a direct manual compression (direct: p is planned here, with the
 * chain read once). */
static int write_plan(tract_compress_result **out, tract *t, tract_pending_compression *p,
                      const char *delete_key, const tract_compress_options *direct)
{
	tract_compress_result *r = calloc(1, sizeof(*r));
	tract_context *keep = NULL;
	tract_head_state hs;
	chain c = {NULL, 0};
	size_t s = 0;
	int rc, wrote = 0;

	if (!r)
		return tract_error_oom();
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc < 0) {
		free(r);
		return rc;
	}
	rc = read_state(&hs, &c, t);
	if (rc == 0 && direct) {
		rc = tract_compress_plan(p, t, &hs, &c, direct);
		if (rc == 0)
			rc = manual_summaries(p, direct);
		if (rc == 0)
			rc = tract_compress_estimate(p, t);
		for (s = 0; rc == 0 && s < c.n && strcmp(c.rows[s].hash, p->range[0]) != 0; s++)
			;
	} else if (rc == 0) {
		rc = locate(&s, p, &hs, &c);
	}
	for (size_t g = 0; rc == 0 && g < p->n_groups; g++)
		if (!p->summaries[g] || is_blank(p->summaries[g]))
			rc = tract_error_set(
			    TRACT_EINVAL, "Empty summary for group %zu: a summary needs text", g);
	if (rc == 0)
		rc = tract_compress_rewrite(r, t, p, &c, s, &wrote);
	if (rc == 0 && delete_key) {
		rc = t->store->be->meta_delete(t->store->conn, delete_key);
		if (rc < 0)
			rc = tract_backend_error(t->store, rc, "remove the pending compression");
	}
	tract_compress_chain_dispose(&c);
	rc = tract_txn_end(t->store, rc);
	if (rc == 0) {
		/* The new head's snapshot, derived commit by commit through the
		 * rewrite (from an empty context when the range starts at the
		 * root), stays in this handle's cache: the compile after a
		 * compression is a hit, not a full compile. */
		tract_context *snap = r->new_head[0] ? tract_cache_get(t->cache, r->new_head) : NULL;
		keep = snap ? tract_context_ref(snap) : NULL;
		t->store->cache_epoch++; /* every handle's compile cache starts over */
	}
	tract_cache_sync(t);
	if (keep) {
		tract_cache_put(t->cache, keep);
		tract_context_free(keep);
	}
	if (rc < 0) {
		tract_compress_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int tract_compress(tract_compress_result **out, tract_pending_compression **pending, tract *t,
                   const tract_compress_options *opts)
{
	tract_compress_options defaults = TRACT_COMPRESS_OPTIONS_INIT;
	tract_pending_compression *p = NULL;
	tract_head_state hs;
	chain c = {NULL, 0};
	size_t s = 0;
	int rc, planned_only;

	if (out)
		*out = NULL;
	if (pending)
		*pending = NULL;
	if (!t)
		return tract_error_set(TRACT_EINVAL, "tract_compress: t is NULL");
	if (!opts)
		opts = &defaults;
	if (tract_version_check(opts->version, TRACT_COMPRESS_OPTIONS_VERSION,
	                        "tract_compress_options") < 0)
		return TRACT_EINVAL;
	planned_only = opts->review || opts->dry_run;
	if (planned_only ? !pending : !out)
		return tract_error_set(TRACT_EINVAL, "tract_compress: %s is NULL",
		                       planned_only ? "pending" : "out");
	if (opts->instructions && !tract_utf8_valid(opts->instructions, strlen(opts->instructions)))
		return tract_error_set(TRACT_EINVAL, "instructions are not valid UTF-8");
	p = calloc(1, sizeof(*p));
	if (!p)
		return tract_error_oom();
	if (opts->n_summaries && !planned_only) {
		/* manual: plan and write in one transaction */
		rc = write_plan(out, t, p, NULL, opts);
		tract_pending_compression_free(p);
		return rc;
	}
	/* Plan in a read transaction (LLM calls happen outside it). */
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc == 0) {
		rc = read_state(&hs, &c, t);
		if (rc == 0)
			rc = tract_compress_plan(p, t, &hs, &c, opts);
		rc = tract_txn_end(t->store, rc);
	}
	if (rc == 0) {
		for (s = 0; s < c.n && strcmp(c.rows[s].hash, p->range[0]) != 0; s++)
			;
		if (opts->n_summaries)
			rc = manual_summaries(p, opts);
		else if (opts->llm)
			for (size_t g = 0; rc == 0 && g < p->n_groups; g++)
				rc = tract_compress_llm_summary(&p->summaries[g], opts->llm, p, &c, s, g,
				                 opts->system_prompt);
		else if (!opts->dry_run)
			rc = tract_error_set(TRACT_EINVAL,
			                     "No LLM client configured and no manual content "
			                     "provided. Give a summary or an LLM.");
	}
	tract_compress_chain_dispose(&c);
	if (rc == 0)
		rc = tract_compress_estimate(p, t);
	if (rc == 0 && opts->review && !opts->dry_run) {
		random_id(p->id);
		rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
		if (rc == 0) {
			rc = pending_store(t, p);
			rc = tract_txn_end(t->store, rc);
		}
	}
	if (rc == 0 && planned_only) {
		*pending = p;
		return 0;
	}
	if (rc == 0)
		rc = write_plan(out, t, p, NULL, NULL);
	tract_pending_compression_free(p);
	return rc;
}

int tract_pending_compression_get(tract_pending_compression **out, tract *t, const char *id)
{
	int rc;

	if (!out || !t)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_pending_compression_get: NULL argument");
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = pending_load(out, t, id);
	return tract_txn_end(t->store, rc);
}

typedef struct {
	char **ids;
	size_t n, cap;
	size_t skip;
} id_acc;

static int id_cb(const char *key, const char *value, void *payload)
{
	id_acc *a = payload;
	const char *id = key + a->skip;

	(void)value;
	if (strlen(key) <= a->skip || !id_valid(id))
		return 0;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		char **q = realloc(a->ids, cap * sizeof(*q));
		if (!q)
			return TRACT_ENOMEM;
		a->ids = q;
		a->cap = cap;
	}
	if (!(a->ids[a->n] = strdup(id)))
		return TRACT_ENOMEM;
	a->n++;
	return 0;
}

void tract_pending_compression_ids_free(char **ids, size_t count)
{
	for (size_t i = 0; ids && i < count; i++)
		free(ids[i]);
	free(ids);
}

int tract_pending_compression_ids(char ***out, size_t *count, tract *t)
{
	char prefix[160];
	id_acc a = {NULL, 0, 0, 0};
	int rc;

	if (!out || !count || !t)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_pending_compression_ids: NULL argument");
	*out = NULL;
	*count = 0;
	tract_meta_key(prefix, sizeof(prefix), t->id, PENDING_PREFIX);
	a.skip = strlen(prefix);
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = t->store->be->meta_foreach(t->store->conn, prefix, id_cb, &a);
	if (rc < 0)
		rc = rc == TRACT_ENOMEM
		         ? tract_error_oom()
		         : tract_backend_error(t->store, rc, "list pending compressions");
	rc = tract_txn_end(t->store, rc);
	if (rc < 0) {
		tract_pending_compression_ids_free(a.ids, a.n);
		return rc;
	}
	*out = a.ids;
	*count = a.n;
	return 0;
}

int tract_pending_compression_edit(tract *t, const char *id, size_t index, const char *text)
{
	tract_pending_compression *p = NULL;
	int rc;

	if (!t || !text)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_pending_compression_edit: NULL argument");
	if (is_blank(text))
		return tract_error_set(TRACT_EINVAL, "Empty summary: a summary needs text");
	if (!tract_utf8_valid(text, strlen(text)))
		return tract_error_set(TRACT_EINVAL, "The summary is not valid UTF-8");
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = pending_load(&p, t, id);
	if (rc == 0 && index >= p->n_groups)
		rc = tract_error_set(TRACT_EINVAL,
		                     "Summary index %zu out of range (the compression has %zu "
		                     "group(s))",
		                     index, p->n_groups);
	if (rc == 0) {
		char *dup = strdup(text);
		if (!dup) {
			rc = tract_error_oom();
		} else {
			free(p->summaries[index]);
			p->summaries[index] = dup;
			rc = pending_store(t, p);
		}
	}
	tract_pending_compression_free(p);
	return tract_txn_end(t->store, rc);
}

int tract_pending_compression_approve(tract_compress_result **out, tract *t, const char *id)
{
	tract_pending_compression *p = NULL;
	char key[160];
	int rc;

	if (out)
		*out = NULL;
	if (!out || !t)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_pending_compression_approve: NULL argument");
	rc = tract_pending_compression_get(&p, t, id);
	if (rc < 0)
		return rc;
	pending_key(key, sizeof(key), t->id, p->id);
	rc = write_plan(out, t, p, key, NULL);
	tract_pending_compression_free(p);
	return rc;
}

int tract_pending_compression_discard(tract *t, const char *id)
{
	char key[160];
	int rc;

	if (!t)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_pending_compression_discard: t is NULL");
	if (!id_valid(id))
		return tract_error_set(TRACT_ENOTFOUND, "No pending compression %s", id ? id : "");
	pending_key(key, sizeof(key), t->id, id);
	rc = tract_txn_begin(t->store, TRACT_TXN_WRITE);
	if (rc < 0)
		return rc;
	rc = t->store->be->meta_delete(t->store->conn, key);
	if (rc == TRACT_ENOTFOUND)
		rc = tract_error_set(TRACT_ENOTFOUND, "No pending compression %s", id);
	else if (rc < 0)
		rc = tract_backend_error(t->store, rc, "discard the pending compression");
	return tract_txn_end(t->store, rc);
}

/* ---- accessors and JSON ------------------------------------------------------------- */

const char *tract_pending_compression_id(const tract_pending_compression *p)
{
	return p ? p->id : NULL;
}

size_t tract_pending_compression_group_count(const tract_pending_compression *p)
{
	return p ? p->n_groups : 0;
}

size_t tract_pending_compression_group_size(const tract_pending_compression *p, size_t i)
{
	return p && i < p->n_groups ? p->gsize[i] : 0;
}

const char *tract_pending_compression_group_commit(const tract_pending_compression *p, size_t group,
                                                   size_t k)
{
	if (!p || group >= p->n_groups || k >= p->gsize[group])
		return NULL;
	return p->range[p->members[p->gstart[group] + k]];
}

const char *tract_pending_compression_summary(const tract_pending_compression *p, size_t i)
{
	return p && i < p->n_groups ? p->summaries[i] : NULL;
}

int64_t tract_pending_compression_original_tokens(const tract_pending_compression *p)
{
	return p ? p->original_tokens : 0;
}

int64_t tract_pending_compression_estimated_tokens(const tract_pending_compression *p)
{
	return p ? p->estimated_tokens : 0;
}

static int put_list(tract_buf *b, const char *key, const tract_hash_hex *l, size_t n)
{
	int rc = tract_buf_printf(b, ", \"%s\": [", key);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = tract_buf_printf(b, "%s\"%s\"", i ? ", " : "", l[i]);
	return rc ? rc : tract_buf_putc(b, ']');
}

int tract_compress_result_to_json(char **out, const tract_compress_result *r)
{
	tract_buf b = TRACT_BUF_INIT;
	int rc = 0;

	if (!out || !r)
		return tract_error_set(TRACT_EINVAL,
		                       "tract_compress_result_to_json: NULL argument");
	*out = NULL;
	rc |= tract_buf_printf(&b,
	                       "{\"compression_id\": \"%s\", \"original_tokens\": %" PRId64
	                       ", \"summary_tokens\": %" PRId64 ", \"preserved_tokens\": %" PRId64
	                       ", \"compressed_tokens\": %" PRId64 ", \"compression_ratio\": %.6f",
	                       r->compression_id, r->original_tokens, r->summary_tokens,
	                       r->preserved_tokens, r->compressed_tokens, r->compression_ratio);
	rc |= put_list(&b, "source_commits", r->source_commits, r->n_source);
	rc |= put_list(&b, "summary_commits", r->summary_commits, r->n_summary);
	rc |= put_list(&b, "preserved_commits", r->preserved_commits, r->n_preserved);
	rc |= put_list(&b, "preserved_copies", r->preserved_copies, r->n_preserved);
	rc |= put_list(&b, "skipped_commits", r->skipped_commits, r->n_skipped);
	rc |= put_list(&b, "replayed_commits", r->replayed_commits, r->n_replayed);
	rc |= tract_buf_printf(&b, ", \"new_head\": \"%s\"}", r->new_head);
	return tract_buf_finish(out, &b, rc);
}

