/*
 * property_ops.c - one property run: the test tokenizer, verify() (cached vs
 * fresh compile vs model, log, HEAD) and the random operations (append, edit,
 * failing commits, annotate, time travel, batches).
 */
#include "property.h"

/* ------------------------------------------------------------------ */
/* one run                                                              */
/* ------------------------------------------------------------------ */

/* A test tokenizer: one token per started 3 code points of each word,
 * plus one per run of spaces; source non-empty so stored counts are
 * reused by compile. */
static int64_t words_count(void *self, const char *text, size_t len)
{
	int64_t n = 0, cps = 0;
	size_t i;

	(void)self;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if ((c & 0xc0) == 0x80)
			continue;
		if (c == ' ') {
			n += (cps + 2) / 3 + 1;
			cps = 0;
			while (i + 1 < len && text[i + 1] == ' ')
				i++;
		} else {
			cps++;
		}
	}
	return n + (cps + 2) / 3;
}

tract_tokenizer words_tokenizer = {TRACT_TOKENIZER_VERSION, "test:words3", words_count,
                                          NULL, TRACT_TOKENIZER_THREADSAFE};

unsigned long total_hits, total_compiles, total_ops;

static void head_of(run *r, char out[65])
{
	CHECK_RC(tract_head_get(out, NULL, NULL, r->t));
}

/* Plain compile on the long-lived handle vs a fresh handle, and both vs
 * the model. */
void verify(run *r, const char *what)
{
	tract_open_options fo = TRACT_OPEN_OPTIONS_INIT;
	tract *f = NULL;
	tract_context *cached = NULL, *fresh = NULL;
	mmsg *want;
	size_t n;
	char head[65];
	int was_cached;
	char w[160];

	head_of(r, head);
	was_cached = head[0] && tract_cache_get(r->t->cache, head) != NULL;
	CHECK_RC(tract_context_compile(&cached, r->t, NULL));
	r->compiles++;
	r->hits += (unsigned long)was_cached;
	if (head[0] && r->topts.compile_cache_size > 0)
		CHECK(tract_cache_get(r->t->cache, head) != NULL,
		      "%s: HEAD not cached after a plain compile", what);

	fo.compile_cache_size = 0;
	fo.tokenizer = r->tok;
	CHECK_RC(tract_open(&f, r->s, tract_id(r->t), &fo));
	CHECK_RC(tract_context_compile(&fresh, f, NULL));
	snprintf(w, sizeof(w), "%s (%s)", what, was_cached ? "cache hit" : "cache miss");

	/* the model first: it tells which side is wrong */
	want = calloc(r->m.nc + 1, sizeof(*want));
	CHECK(want != NULL, "out of memory");
	n = model_compile(want, &r->m, r->m.nc, INT64_MAX, INT64_MAX);
	{
		char wf[200];
		snprintf(wf, sizeof(wf), "fresh compile %s", w);
		check_against_model(wf, fresh, want, n, r->tok);
		snprintf(wf, sizeof(wf), "long-lived handle's compile %s", w);
		check_against_model(wf, cached, want, n, r->tok);
	}
	free(want);
	check_same_context(cached, fresh);
	CHECK(str_eq(tract_context_token_source(cached),
	             r->m.nc ? (r->tok ? r->tok : tract_tokenizer_default_get())->source : ""),
	      "%s: token_source '%s'", what, tract_context_token_source(cached));

	/* the log is the model's chain, newest first */
	{
		tract_commit_list *l = NULL;
		size_t i;
		CHECK_RC(tract_log_list(&l, r->t, NULL));
		CHECK(l->count == r->m.nc, "%s: log has %zu commits, model %zu", what, l->count,
		      r->m.nc);
		for (i = 0; i < l->count; i++)
			CHECK(str_eq(tract_commit_hash(l->items[i]), r->m.c[r->m.nc - 1 - i].hash),
			      "%s: log[%zu] %s, model %s", what, i, tract_commit_hash(l->items[i]),
			      r->m.c[r->m.nc - 1 - i].hash);
		tract_commit_list_free(l);
	}
	CHECK(str_eq(head, r->m.nc ? r->m.c[r->m.nc - 1].hash : ""), "%s: HEAD %s, model %s", what,
	      head, r->m.nc ? r->m.c[r->m.nc - 1].hash : "");
	tract_context_free(cached);
	tract_context_free(fresh);
	tract_free(f);
}

/* Append: random content, config, sometimes message/metadata/response_to. */
static void op_append(run *r)
{
	gen_content g;
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;
	char *config = rand_config();
	char resp[65] = "";
	mcommit *mc;

	gen_content_rand(&g);
	o.generation_config_json = config;
	if (chance(20))
		o.message = "a commit message \xc3\xa9";
	if (chance(20))
		o.metadata_json =
		    "{\"source\": \"property\", \"n\": 1, \"\xc3\xa9\": [true, null]}";
	if (r->m.nc && chance(10)) {
		/* an append answering a commit: stored, ignored by compile */
		snprintf(resp, sizeof(resp), "%s", r->m.c[rnd((unsigned)r->m.nc)].hash);
		o.response_to = resp;
	}
	note("append %s%s%s: %.120s", g.ctype, config ? " +config" : "",
	     resp[0] ? " +response_to" : "", g.json);
	CHECK_RC(tract_commit_create(&c, r->t, g.json, &o));
	mc = model_push(&r->m);
	snprintf(mc->hash, sizeof(mc->hash), "%s", tract_commit_hash(c));
	mc->ctype = g.ctype;
	mc->role = g.role;
	mc->content = g.content;
	mc->name = g.name;
	mc->config = config;
	mc->at = tract_commit_time(c);
	mc->target = -1;
	g.content = NULL;
	g.name = NULL;
	CHECK(tract_commit_operation(c) == TRACT_OP_APPEND, "append stored as %d",
	      (int)tract_commit_operation(c));
	CHECK(str_eq(tract_commit_response_to(c), resp[0] ? resp : NULL), "response_to %s",
	      SHOW(tract_commit_response_to(c)));
	CHECK(r->m.nc == 1 || str_eq(tract_commit_parent(c), r->m.c[r->m.nc - 2].hash),
	      "parent %s is not the previous HEAD", SHOW(tract_commit_parent(c)));
	tract_commit_free(c);
	gen_dispose(&g);
}

static int pick_append(run *r, int edited_only)
{
	int idx[4096];
	size_t i, n = 0;

	for (i = 0; i < r->m.nc && n < 4096; i++) {
		if (r->m.c[i].is_edit)
			continue;
		if (edited_only) {
			size_t k;
			int edited = 0;
			for (k = i + 1; k < r->m.nc; k++)
				edited |= r->m.c[k].is_edit && r->m.c[k].target == (int)i;
			if (!edited)
				continue;
		}
		idx[n++] = (int)i;
	}
	return n ? idx[rnd((unsigned)n)] : -1;
}

static int pick_edit(run *r)
{
	int idx[4096];
	size_t i, n = 0;

	for (i = 0; i < r->m.nc && n < 4096; i++)
		if (r->m.c[i].is_edit)
			idx[n++] = (int)i;
	return n ? idx[rnd((unsigned)n)] : -1;
}

/* Edit of an earlier append (sometimes one already edited; the
 * reference is the full hash or a 12-character prefix). */
static void op_edit(run *r)
{
	gen_content g;
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;
	char *config;
	char ref[65];
	int target = chance(30) ? pick_append(r, 1) : -1;
	mcommit *mc;

	if (target < 0)
		target = pick_append(r, 0);
	if (target < 0) {
		op_append(r);
		return;
	}
	config = rand_config();
	gen_content_rand(&g);
	snprintf(ref, sizeof(ref), "%s", r->m.c[target].hash);
	if (chance(25))
		ref[12] = '\0';
	o.operation = TRACT_OP_EDIT;
	o.response_to = ref;
	o.generation_config_json = config;
	note("edit #%d (%.12s) with %s%s: %.100s", target, r->m.c[target].hash, g.ctype,
	     config ? " +config" : "", g.json);
	CHECK_RC(tract_commit_create(&c, r->t, g.json, &o));
	CHECK(tract_commit_operation(c) == TRACT_OP_EDIT, "edit stored as %d",
	      (int)tract_commit_operation(c));
	CHECK(str_eq(tract_commit_response_to(c), r->m.c[target].hash),
	      "edit response_to %s, want %s", SHOW(tract_commit_response_to(c)),
	      r->m.c[target].hash);
	mc = model_push(&r->m);
	snprintf(mc->hash, sizeof(mc->hash), "%s", tract_commit_hash(c));
	mc->is_edit = 1;
	mc->target = target;
	mc->ctype = g.ctype;
	mc->role = g.role;
	mc->content = g.content;
	mc->name = g.name;
	mc->config = config;
	mc->at = tract_commit_time(c);
	g.content = NULL;
	g.name = NULL;
	tract_commit_free(c);
	gen_dispose(&g);
}

/* Operations that must fail and change nothing; inside a batch they leave
 * the batch usable (validation failures write nothing). */
static void op_fail(run *r)
{
	tract_commit_options o = TRACT_COMMIT_OPTIONS_INIT;
	tract_commit *c = NULL;
	tract_commit_list *before = NULL, *after = NULL;
	char hb[65], ha[65];
	int e = pick_edit(r), rc, want;
	const char *what;

	head_of(r, hb);
	CHECK_RC(tract_log_list(&before, r->t, NULL));
	o.operation = TRACT_OP_EDIT;
	if (e >= 0 && chance(70)) {
		o.response_to = r->m.c[e].hash;
		what = "edit of an edit commit";
		want = TRACT_EEDIT;
		note("edit of edit #%d (%.12s): must fail", e, r->m.c[e].hash);
		rc = tract_commit_create(&c, r->t,
		                         "{\"content_type\": \"dialogue\", \"role\": \"user\", "
		                         "\"text\": \"never\"}",
		                         &o);
	} else if (chance(50)) {
		o.response_to = "00000000000000000000000000000000000000000000000000000000000000ff";
		what = "edit of an unknown commit";
		want = TRACT_EEDIT;
		note("edit of an unknown commit: must fail");
		rc = tract_commit_create(&c, r->t,
		                         "{\"content_type\": \"reasoning\", \"text\": \"x\"}", &o);
	} else {
		what = "annotation of an unknown commit";
		want = TRACT_ENOTFOUND;
		note("annotate an unknown commit: must fail");
		rc = tract_annotation_create(
		    NULL, r->t, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff00",
		    TRACT_PRIORITY_SKIP, NULL);
	}
	CHECK(rc == want, "%s returned %d (%s), want %s", what, rc, tract_error_name(rc),
	      tract_error_name(want));
	CHECK(c == NULL, "%s gave a commit", what);
	head_of(r, ha);
	CHECK(str_eq(ha, hb), "%s moved HEAD", what);
	CHECK_RC(tract_log_list(&after, r->t, NULL));
	CHECK(after->count == before->count, "%s changed the log", what);
	tract_commit_list_free(before);
	tract_commit_list_free(after);
}

static void op_annotate(run *r)
{
	static const tract_priority ps[] = {TRACT_PRIORITY_SKIP, TRACT_PRIORITY_SKIP,
	                                    TRACT_PRIORITY_NORMAL, TRACT_PRIORITY_PINNED};
	tract_priority p = ps[rnd(4)];
	int target;
	int64_t id = 0;
	tract_annotation_list *list = NULL;
	tract_annotation *anns;
	size_t n;

	if (!r->m.nc) {
		op_append(r);
		return;
	}
	target = (int)rnd((unsigned)r->m.nc);
	note("annotate #%d (%.12s, %s) %s", target, r->m.c[target].hash,
	     r->m.c[target].is_edit ? "edit" : r->m.c[target].ctype, tract_priority_name(p));
	CHECK_RC(tract_annotation_create(&id, r->t, r->m.c[target].hash, p,
	                        chance(30) ? "because \xf0\x9f\x98\x80" : NULL));
	/* its time, for time travel */
	CHECK_RC(tract_annotation_list_get(&list, r->t, r->m.c[target].hash));
	anns = list->items;
	n = list->count;
	CHECK(n > 0 && anns[n - 1].id == id && anns[n - 1].priority == p,
	      "the new annotation is not the latest of its target");
	model_annotate(&r->m, target, p, anns[n - 1].created_at);
	tract_annotation_list_free(list);
}

/* Time travel must match the model and leave the cache alone. */
static void op_time_travel(run *r)
{
	tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
	tract_context *ctx = NULL;
	char head[65], what[160];
	size_t before, n, upto = 0;
	int head_cached;
	tract_time cutoff = INT64_MAX;
	mmsg *want;

	if (!r->m.nc) {
		op_append(r);
		return;
	}
	head_of(r, head);
	before = tract_cache_size(r->t->cache);
	head_cached = tract_cache_get(r->t->cache, head) != NULL;
	if (chance(8)) {
		/* invalid requests fail and leave the cache alone too (and,
		 * inside a batch, do not poison it) */
		int rc;
		if (rnd(2)) {
			o.at_commit =
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
			snprintf(what, sizeof(what), "compile at an unknown commit");
			note("%s", what);
			rc = tract_context_compile(&ctx, r->t, &o);
			CHECK(rc == TRACT_ENOTFOUND, "%s returned %d, want ENOTFOUND", what, rc);
		} else {
			o.at_commit = r->m.c[0].hash;
			o.at_time = r->m.c[0].at;
			snprintf(what, sizeof(what), "compile with both at_commit and at_time");
			note("%s", what);
			rc = tract_context_compile(&ctx, r->t, &o);
			CHECK(rc == TRACT_EINVAL, "%s returned %d, want EINVAL", what, rc);
		}
		CHECK(ctx == NULL, "%s gave a context", what);
		goto cache_check;
	}
	if (chance(50)) {
		size_t i = rnd((unsigned)r->m.nc);
		upto = i;
		o.at_commit = r->m.c[i].hash;
		snprintf(what, sizeof(what), "compile at_commit #%zu", i);
	} else {
		size_t i = rnd((unsigned)r->m.nc);
		tract_time a = r->m.c[i].at;
		tract_time b = i + 1 < r->m.nc ? r->m.c[i + 1].at : a + 1000;
		switch (rnd(4)) {
		case 0:
			cutoff = a;
			break; /* inclusive */
		case 1:
			cutoff = a - 1;
			break; /* just before commit i */
		default:
			cutoff = a + (b - a) / 2;
			break; /* between i and i+1 */
		}
		o.at_time = cutoff;
		upto = r->m.nc - 1;
		snprintf(what, sizeof(what), "compile at_time near #%zu", i);
	}
	if (chance(25)) {
		o.edit_markers = 1;
		strncat(what, " with edit markers", sizeof(what) - strlen(what) - 1);
	}
	note("%s", what);
	CHECK_RC(tract_context_compile(&ctx, r->t, &o));
	want = calloc(r->m.nc + 1, sizeof(*want));
	CHECK(want != NULL, "out of memory");
	/* at_commit: current annotations; at_time: those in force then */
	n = model_compile(want, &r->m, upto, cutoff, cutoff);
	if (o.edit_markers) {
		/* " [edited]" after every message an edit applies to */
		char **marked = calloc(n + 1, sizeof(*marked));
		size_t i;
		CHECK(marked != NULL, "out of memory");
		for (i = 0; i < n; i++) {
			if (!want[i].edited)
				continue;
			marked[i] = malloc(strlen(want[i].content) + 10);
			CHECK(marked[i] != NULL, "out of memory");
			strcpy(marked[i], want[i].content);
			strcat(marked[i], " [edited]");
			want[i].content = marked[i];
		}
		check_against_model(what, ctx, want, n, r->tok);
		for (i = 0; i < n; i++)
			free(marked[i]);
		free(marked);
	} else {
		check_against_model(what, ctx, want, n, r->tok);
	}
	free(want);
	tract_context_free(ctx);
cache_check:
	CHECK(tract_cache_size(r->t->cache) == before, "%s changed the cache size %zu -> %zu", what,
	      before, tract_cache_size(r->t->cache));
	CHECK((tract_cache_get(r->t->cache, head) != NULL) == head_cached,
	      "%s changed whether HEAD is cached", what);
}

/* Snapshot of what a rollback must restore. */
typedef struct {
	size_t nc, na;
	char **log;
	size_t nlog;
	char *compiled; /* JSON rendering of the plain compile */
} saved_state;

/* JSON rendering of a plain compile, on the long-lived handle or (fresh)
 * on a new cache-free handle. */
static char *render_compile(run *r, int fresh)
{
	tract_open_options fo = TRACT_OPEN_OPTIONS_INIT;
	tract_context *ctx = NULL;
	tract *f = NULL;
	char *out = NULL;

	if (fresh) {
		fo.compile_cache_size = 0;
		fo.tokenizer = r->tok;
		CHECK_RC(tract_open(&f, r->s, tract_id(r->t), &fo));
	}
	CHECK_RC(tract_context_compile(&ctx, f ? f : r->t, NULL));
	CHECK_RC(tract_context_render(&out, ctx, TRACT_FORMAT_JSON));
	tract_context_free(ctx);
	tract_free(f);
	return out;
}

static void save_state(run *r, saved_state *st)
{
	tract_commit_list *l = NULL;
	size_t i;

	st->nc = r->m.nc;
	st->na = r->m.na;
	CHECK_RC(tract_log_list(&l, r->t, NULL));
	st->nlog = l->count;
	st->log = calloc(l->count + 1, sizeof(*st->log));
	CHECK(st->log != NULL, "out of memory");
	for (i = 0; i < l->count; i++)
		st->log[i] = xstrdup(tract_commit_hash(l->items[i]));
	tract_commit_list_free(l);
	/* cache-free: the long-lived handle may hold the known config bug */
	st->compiled = render_compile(r, 1);
}

static void saved_dispose(saved_state *st)
{
	size_t i;

	for (i = 0; i < st->nlog; i++)
		free(st->log[i]);
	free(st->log);
	tract_string_free(st->compiled);
	memset(st, 0, sizeof(*st));
}

static void check_restored(run *r, const saved_state *st)
{
	tract_commit_list *l = NULL;
	char *now;
	size_t i;

	CHECK_RC(tract_log_list(&l, r->t, NULL));
	CHECK(l->count == st->nlog, "after rollback the log has %zu commits, before %zu", l->count,
	      st->nlog);
	for (i = 0; i < l->count; i++)
		CHECK(str_eq(tract_commit_hash(l->items[i]), st->log[i]),
		      "after rollback log[%zu] is %s, before %s", i, tract_commit_hash(l->items[i]),
		      st->log[i]);
	tract_commit_list_free(l);
	now = render_compile(r, 0);
	CHECK(str_eq(now, st->compiled), "after rollback compile is\n  %s\nbefore\n  %s", now,
	      st->compiled);
	tract_string_free(now);
	now = render_compile(r, 1);
	CHECK(str_eq(now, st->compiled), "after rollback a fresh compile is\n  %s\nbefore\n  %s",
	      now, st->compiled);
	tract_string_free(now);
}

static void op_simple(run *r);

/* Batch: a few operations, sometimes a nested batch, then commit or
 * rollback. */
static void op_batch(run *r)
{
	saved_state st;
	int i, n = 1 + (int)rnd(4), nested = chance(25), rollback = chance(45);
	char what[64];

	save_state(r, &st);
	note("batch begin (%d ops%s, then %s)", n, nested ? ", nested" : "",
	     rollback ? "rollback" : "commit");
	CHECK_RC(tract_batch_begin(r->t));
	r->batch_depth++;
	CHECK(tract_cache_size(r->t->cache) == 0, "batch begin did not clear the cache");
	for (i = 0; i < n; i++) {
		if (nested && i == n / 2) {
			note("nested batch begin");
			CHECK_RC(tract_batch_begin(r->t));
			op_simple(r);
			snprintf(what, sizeof(what), "inside nested batch");
			verify(r, what);
			note("nested batch commit");
			CHECK_RC(tract_batch_commit(r->t));
		}
		if (chance(15))
			op_fail(r);
		else
			op_simple(r);
		snprintf(what, sizeof(what), "inside batch, op %d", i);
		verify(r, what);
	}
	if (rollback) {
		note("batch rollback");
		CHECK_RC(tract_batch_rollback(r->t));
		model_truncate(&r->m, st.nc, st.na);
		check_restored(r, &st);
	} else {
		note("batch commit");
		CHECK_RC(tract_batch_commit(r->t));
	}
	r->batch_depth--;
	saved_dispose(&st);
}

/* The operations allowed anywhere (they succeed). */
static void op_simple(run *r)
{
	unsigned k = rnd(100);

	if (k < 40 || r->m.nc == 0)
		op_append(r);
	else if (k < 62)
		op_edit(r);
	else if (k < 82)
		op_annotate(r);
	else
		op_time_travel(r);
}

void op_any(run *r)
{
	unsigned k = rnd(100);

	if (k < 8 && r->m.nc)
		op_fail(r);
	else if (k < 16 && r->m.nc)
		op_batch(r);
	else if (k < 19) {
		/* a plain compile from the long-lived handle only: refreshes
		 * recency / fills the cache between writes */
		tract_context *ctx = NULL;
		note("plain compile");
		CHECK_RC(tract_context_compile(&ctx, r->t, NULL));
		tract_context_free(ctx);
	} else {
		op_simple(r);
	}
}
