/*
 * test_fixtures.c - interop with databases written by tract's Python
 * library (the reference): every v1..v4 file in $TRACT_FIXTURES opens (and
 * migrates to schema 4) from a copy, HEAD, compile (the decided and the
 * reference's merge-message form), branch compiles, log and fsck match
 * NAME.expected.json, and a commit written here reads back after reopening.
 * On LMDB and PostgreSQL (TRACT_TEST_BACKEND, teststore.h) each copy is
 * first cloned into a fresh store of that backend (tract_store_clone) and
 * the same checks run there; the migration check reads SQLite files only.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "internal.h"
#include "teststore.h"
#include "testutil.h"
#include "tract.h"

/* ------------------------------------------------------------------ */
/* checks: counted, and reporting what differed                        */
/* ------------------------------------------------------------------ */

static unsigned long n_checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		n_checks++;                                                                        \
		if (!(cond)) {                                                                     \
			print_error("%s:%d: check failed: %s\n  ", __FILE__, __LINE__, #cond);     \
			print_error(__VA_ARGS__);                                                  \
			print_error("\n");                                                         \
			_fail(__FILE__, __LINE__);                                                 \
		}                                                                                  \
	} while (0)

#define CHECK_RC(expr)                                                                             \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		CHECK(rc_ == 0, "%s returned %d (%s): %s", #expr, rc_, tract_error_name(rc_),      \
		      tract_error_last()->message);                                                \
	} while (0)

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

#define SHOW(s) ((s) ? (s) : "(null)")

/* ------------------------------------------------------------------ */
/* fixture files                                                        */
/* ------------------------------------------------------------------ */

typedef struct {
	const char *name; /* "v1_basic" */
	int version;      /* schema version the file was written with */
	/* filled by setup */
	int missing;   /* TRACT_FIXTURES unset or file absent */
	char dir[256]; /* temp dir holding the copy */
	char db[512];  /* the copy */
	char uri[600]; /* "sqlite:<copy>", or the clone's URI */
	cJSON *exp;    /* NAME.expected.json */
	char why[1100]; /* what was missing, for the failure message */
	ts_store clone; /* LMDB, PostgreSQL: where the copy was cloned to */
	char clone_err[700]; /* why that clone failed ("" when it did not) */
} fixture;

static int write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -1;
	ok = fwrite(data, 1, len, f) == len;
	ok &= fclose(f) == 0;
	return ok ? 0 : -1;
}

/* Copy NAME.db into a fresh temp dir and parse NAME.expected.json. The
 * original is never opened by the library (opening migrates). */
static int fixture_setup(void **state)
{
	fixture *fx = *state;
	const char *root = getenv("TRACT_FIXTURES");
	char src[1024], exp_path[1024];
	char *data, *json;
	size_t len;
	struct stat st;

	fx->missing = 1;
	fx->exp = NULL;
	fx->dir[0] = '\0';
	fx->clone_err[0] = '\0';
	memset(&fx->clone, 0, sizeof(fx->clone));
	if (!root || !*root) {
		snprintf(fx->why, sizeof(fx->why), "TRACT_FIXTURES is unset");
		return 0;
	}
	snprintf(src, sizeof(src), "%s/%s.db", root, fx->name);
	snprintf(exp_path, sizeof(exp_path), "%s/%s.expected.json", root, fx->name);
	if (stat(src, &st) != 0 || stat(exp_path, &st) != 0) {
		snprintf(fx->why, sizeof(fx->why), "%s: %s", stat(src, &st) != 0 ? src : exp_path,
		         strerror(errno));
		return 0;
	}
	json = tu_read_file(exp_path, NULL);
	if (!json)
		return -1;
	fx->exp = cJSON_Parse(json);
	free(json);
	if (!fx->exp)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/tract-fx-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/%s.db", fx->dir, fx->name);
	snprintf(fx->uri, sizeof(fx->uri), "sqlite:%s", fx->db);
	data = tu_read_file(src, &len);
	if (!data)
		return -1;
	if (write_file(fx->db, data, len) != 0) {
		free(data);
		return -1;
	}
	free(data);
	fx->missing = 0;
	if (!ts_is("sqlite")) {
		/* The same store on the backend under test. */
		if (ts_fresh(&fx->clone, "fx") != 0)
			return -1;
		if (tract_store_clone(NULL, fx->uri, fx->clone.uri, NULL) != 0)
			snprintf(fx->clone_err, sizeof(fx->clone_err), "%s", tract_error_last()->message);
		snprintf(fx->uri, sizeof(fx->uri), "%s", fx->clone.uri);
	}
	return 0;
}

static int fixture_teardown(void **state)
{
	fixture *fx = *state;

	cJSON_Delete(fx->exp);
	fx->exp = NULL;
	if (fx->dir[0])
		tu_remove_dir(fx->dir);
	fx->dir[0] = '\0';
	ts_destroy(&fx->clone);
	return 0;
}

/* Missing data is a failure, never a skip: the fixtures are in the
 * repository (tests/fixtures/py-tract), and `meson test` points
 * TRACT_FIXTURES at them. */
static void need_fixture(const fixture *fx)
{
	if (fx->missing)
		fail_msg("%s: fixture not found (%s); TRACT_FIXTURES must name "
		         "tests/fixtures/py-tract, as meson test sets it",
		         fx->name, fx->why);
	if (fx->clone_err[0])
		fail_msg("%s: clone into %s failed: %s", fx->name, ts_backend(), fx->clone_err);
}

/* ------------------------------------------------------------------ */
/* expected.json accessors                                              */
/* ------------------------------------------------------------------ */

static const cJSON *jget(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	CHECK(v != NULL, "expected.json: member '%s' missing", key);
	return v;
}

/* String member or NULL when JSON null. */
static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = jget(o, key);

	if (cJSON_IsNull(v))
		return NULL;
	CHECK(cJSON_IsString(v), "expected.json: member '%s' is not a string", key);
	return v->valuestring;
}

static const char *label_of(const cJSON *tr)
{
	return jstr(tr, "label");
}

/* Parse a JSON text the library returned (NULL / "null" = JSON null). */
static cJSON *parse_lib_json(const char *text)
{
	cJSON *v;

	if (!text)
		return cJSON_CreateNull();
	v = cJSON_Parse(text);
	CHECK(v != NULL, "library returned invalid JSON: %s", text);
	return v;
}

static void check_json_value(const char *what, const char *got_text, const cJSON *want)
{
	cJSON *got = parse_lib_json(got_text);
	char *w = cJSON_PrintUnformatted(want);
	int same = cJSON_Compare(got, want, 1);

	CHECK(same, "%s: got %s, want %s", what, SHOW(got_text), SHOW(w));
	free(w);
	cJSON_Delete(got);
}

/* ------------------------------------------------------------------ */
/* opening                                                              */
/* ------------------------------------------------------------------ */

static tract_store *open_store(const fixture *fx)
{
	tract_store *s = NULL;

	CHECK_RC(tract_store_open(&s, fx->uri, 0));
	return s;
}

static tract *open_tract(tract_store *s, const char *id)
{
	tract_open_options o = TRACT_OPEN_OPTIONS_INIT;
	tract *t = NULL;

	CHECK_RC(tract_open(&t, s, id, &o));
	return t;
}

static const cJSON *tracts_of(const fixture *fx)
{
	const cJSON *trs = jget(fx->exp, "tracts");

	CHECK(cJSON_IsArray(trs) && cJSON_GetArraySize(trs) > 0, "no tracts in expected.json");
	return trs;
}

/* ------------------------------------------------------------------ */
/* compile comparison                                                   */
/* ------------------------------------------------------------------ */

enum {
	CMP_CONFIGS = 1u << 0, /* generation_configs too */
	CMP_COUNT = 1u << 1,   /* commit_count too */
	CMP_TOKENS = 1u << 2,  /* token_count recount + token_source */
};

static void check_context(const char *what, const tract_context *ctx, const cJSON *want,
                          unsigned flags)
{
	const cJSON *msgs = jget(want, "messages"), *hashes = jget(want, "commit_hashes");
	size_t n = tract_context_count(ctx), i;
	size_t wn = (size_t)cJSON_GetArraySize(msgs);

	CHECK(n == wn, "%s: %zu messages, want %zu", what, n, wn);
	CHECK((size_t)cJSON_GetArraySize(hashes) == wn, "%s: expected.json hashes/messages", what);
	for (i = 0; i < n; i++) {
		const cJSON *m = cJSON_GetArrayItem(msgs, (int)i);
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
		const char *h = cJSON_GetArrayItem(hashes, (int)i)->valuestring;

		CHECK(str_eq(tract_context_role(ctx, i), jstr(m, "role")),
		      "%s: message %zu role '%s', want '%s'", what, i,
		      SHOW(tract_context_role(ctx, i)), jstr(m, "role"));
		CHECK(str_eq(tract_context_content(ctx, i), jstr(m, "content")),
		      "%s: message %zu content\n   got: %s\n  want: %s", what, i,
		      SHOW(tract_context_content(ctx, i)), jstr(m, "content"));
		if (name)
			CHECK(cJSON_IsString(name) &&
			          str_eq(tract_context_name(ctx, i), name->valuestring),
			      "%s: message %zu name '%s', want '%s'", what, i,
			      SHOW(tract_context_name(ctx, i)),
			      cJSON_IsString(name) ? name->valuestring : "?");
		else
			CHECK(tract_context_name(ctx, i) == NULL,
			      "%s: message %zu has name '%s', want none", what, i,
			      tract_context_name(ctx, i));
		CHECK(str_eq(tract_context_commit_hash(ctx, i), h),
		      "%s: message %zu hash %s, want %s", what, i,
		      SHOW(tract_context_commit_hash(ctx, i)), h);
		if (flags & CMP_CONFIGS) {
			const cJSON *cfgs = jget(want, "generation_configs");
			char w[256];
			CHECK((size_t)cJSON_GetArraySize(cfgs) == wn,
			      "%s: expected.json configs/messages", what);
			snprintf(w, sizeof(w), "%s: message %zu generation config", what, i);
			check_json_value(w, tract_context_generation_config(ctx, i),
			                 cJSON_GetArrayItem(cfgs, (int)i));
		}
	}
	if (flags & CMP_COUNT) {
		const cJSON *cc = jget(want, "commit_count");
		CHECK(cJSON_IsNumber(cc) && (size_t)cc->valuedouble == n,
		      "%s: commit_count %zu, want %g", what, n, cc->valuedouble);
	}
	if (flags & CMP_TOKENS) {
		/* Exact o200k_base counts come with the tokenizer work; until
		 * then the count must be the default counter's count of these
		 * very messages. */
		tract_tokenizer *tok = NULL;
		const char **roles = calloc(n + 1, sizeof(*roles));
		const char **contents = calloc(n + 1, sizeof(*contents));
		const char **names = calloc(n + 1, sizeof(*names));
		int64_t want_tokens;

		CHECK(roles && contents && names, "out of memory");
		CHECK_RC(tract_tokenizer_default(&tok));
		for (i = 0; i < n; i++) {
			roles[i] = tract_context_role(ctx, i);
			contents[i] = tract_context_content(ctx, i);
			names[i] = tract_context_name(ctx, i);
		}
		CHECK_RC(tract_tokenizer_count_messages(&want_tokens, tok, n, roles, contents, names));
		free(roles);
		free(contents);
		free(names);
		CHECK(tract_context_token_count(ctx) == want_tokens,
		      "%s: token_count %lld, want %lld (count_messages)", what,
		      (long long)tract_context_token_count(ctx), (long long)want_tokens);
		CHECK(str_eq(tract_context_token_source(ctx), tok->source),
		      "%s: token_source '%s', want '%s'", what, tract_context_token_source(ctx),
		      tok->source);
	}
}

/* ------------------------------------------------------------------ */
/* tests                                                                */
/* ------------------------------------------------------------------ */

/* Opening migrates the copy to schema 4 (read back through the backend). */
static int meta_value_cb(const char *key, const char *value, void *payload)
{
	(void)key;
	snprintf(payload, 64, "%s", value);
	return 0;
}

static void test_schema_migrated(void **state)
{
	fixture *fx = *state;
	const cJSON *sv;
	tract_store *s;
	char version[64] = "";
	int rc;

	need_fixture(fx);
	sv = jget(fx->exp, "schema_version");
	CHECK(cJSON_IsString(sv) && atoi(sv->valuestring) == fx->version,
	      "expected.json schema_version %s, want %d", SHOW(cJSON_GetStringValue(sv)),
	      fx->version);
	s = open_store(fx);
	rc = s->be->meta_get(s->conn, "schema_version", meta_value_cb, version);
	CHECK(rc == 0, "meta_get(schema_version) returned %d", rc);
	CHECK(strcmp(version, "4") == 0, "schema_version after open is '%s', want '4'", version);
	tract_store_free(s);
}

static void test_head(void **state)
{
	fixture *fx = *state;
	const cJSON *tr;
	tract_store *s;

	need_fixture(fx);
	s = open_store(fx);
	cJSON_ArrayForEach(tr, tracts_of(fx))
	{
		tract *t = open_tract(s, jstr(tr, "tract_id"));
		const char *want_head = jstr(tr, "head");
		const char *want_branch = jstr(tr, "current_branch");
		int want_detached = cJSON_IsTrue(jget(tr, "detached"));
		char head[65];
		char *branch = NULL;
		int detached = -1;

		CHECK_RC(tract_head_get(head, &branch, &detached, t));
		CHECK(str_eq(head, want_head ? want_head : ""), "%s: head %s, want %s",
		      label_of(tr), head, SHOW(want_head));
		CHECK(detached == want_detached, "%s: detached %d, want %d", label_of(tr), detached,
		      want_detached);
		CHECK(str_eq(branch, want_branch), "%s: branch %s, want %s", label_of(tr),
		      SHOW(branch), SHOW(want_branch));
		CHECK(str_eq(tract_id(t), jstr(tr, "tract_id")), "%s: tract_id", label_of(tr));
		tract_string_free(branch);
		tract_free(t);
	}
	tract_store_free(s);
}

static void test_compile_head(void **state)
{
	fixture *fx = *state;
	const cJSON *tr;
	tract_store *s;

	need_fixture(fx);
	s = open_store(fx);
	cJSON_ArrayForEach(tr, tracts_of(fx))
	{
		tract *t = open_tract(s, jstr(tr, "tract_id"));
		const cJSON *want = jget(jget(tr, "head_result"), "compile_decided");
		tract_context *ctx = NULL, *again = NULL;
		char what[128];

		snprintf(what, sizeof(what), "%s %s compile", fx->name, label_of(tr));
		CHECK_RC(tract_context_compile(&ctx, t, NULL));
		check_context(what, ctx, want, CMP_CONFIGS | CMP_COUNT | CMP_TOKENS);
		/* the second plain compile comes from the cache: same result */
		snprintf(what, sizeof(what), "%s %s cached compile", fx->name, label_of(tr));
		CHECK_RC(tract_context_compile(&again, t, NULL));
		check_context(what, again, want, CMP_CONFIGS | CMP_COUNT | CMP_TOKENS);
		tract_context_free(ctx);
		tract_context_free(again);
		tract_free(t);
	}
	tract_store_free(s);
}

/* merge_messages = 1 gives the reference's own compile (merge JSON message). */
static void test_compile_merge_messages(void **state)
{
	fixture *fx = *state;
	const cJSON *tr;
	tract_store *s;

	need_fixture(fx);
	s = open_store(fx);
	cJSON_ArrayForEach(tr, tracts_of(fx))
	{
		tract *t = open_tract(s, jstr(tr, "tract_id"));
		const cJSON *want = jget(jget(tr, "head_result"), "compile");
		tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
		tract_context *ctx = NULL;
		char what[128];

		o.merge_messages = 1;
		snprintf(what, sizeof(what), "%s %s compile(merge_messages)", fx->name,
		         label_of(tr));
		CHECK_RC(tract_context_compile(&ctx, t, &o));
		check_context(what, ctx, want, CMP_CONFIGS | CMP_COUNT);
		tract_context_free(ctx);
		tract_free(t);
	}
	tract_store_free(s);
}

/* The merge commits expected.json lists are the ones the library sees. */
static void test_merge_commits(void **state)
{
	fixture *fx = *state;
	const cJSON *mc, *h;
	tract_store *s;

	need_fixture(fx);
	mc = jget(fx->exp, "merge_commits");
	s = open_store(fx);
	cJSON_ArrayForEach(h, mc)
	{
		const cJSON *tr;
		int found = 0;
		cJSON_ArrayForEach(tr, tracts_of(fx))
		{
			tract *t = open_tract(s, jstr(tr, "tract_id"));
			tract_commit *c = NULL;
			if (tract_commit_lookup(&c, t, h->valuestring) == 0) {
				found = 1;
				CHECK(tract_commit_extra_parent_count(c) >= 1,
				      "merge commit %s has no extra parent", h->valuestring);
				tract_commit_free(c);
			}
			tract_free(t);
		}
		CHECK(found, "merge commit %s not found in any tract", h->valuestring);
	}
	tract_store_free(s);
}

/* A compile as if HEAD were at head (internal: the full compile path). */
static tract_context *compile_as_head(tract *t, const char *head)
{
	tract_context *ctx = NULL;
	int rc;

	CHECK_RC(tract_txn_begin(t->store, TRACT_TXN_READ));
	rc = tract_compile_full(&ctx, t, head, NULL);
	rc = tract_txn_end(t->store, rc);
	CHECK(rc == 0, "tract_compile_full(%s) returned %d: %s", head, rc,
	      tract_error_last()->message);
	return ctx;
}

static int in_array(const cJSON *arr, const char *key, const char *hash)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, arr)
	{
		const cJSON *v = key ? cJSON_GetObjectItemCaseSensitive(e, key) : e;
		if (str_eq(cJSON_GetStringValue(v), hash))
			return 1;
	}
	return 0;
}

/* HEAD's compile_decided cut just after the message of hash (a copy). */
static cJSON *head_prefix(const cJSON *head_decided, const char *hash)
{
	cJSON *c = cJSON_Duplicate(head_decided, 1);
	cJSON *hashes = cJSON_GetObjectItemCaseSensitive(c, "commit_hashes");
	int i, n = cJSON_GetArraySize(hashes), cut = n;

	for (i = 0; i < n; i++)
		if (str_eq(cJSON_GetArrayItem(hashes, i)->valuestring, hash)) {
			cut = i + 1;
			break;
		}
	for (i = n - 1; i >= cut; i--) {
		cJSON_DeleteItemFromArray(hashes, i);
		cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(c, "messages"), i);
		cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(c, "generation_configs"),
		                          i);
	}
	cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "commit_count"), cut);
	return c;
}

/*
 * Branch results are the compile with HEAD at the branch tip. at_commit =
 * tip gives the same, except for a tip that HEAD's history reaches only
 * through a merge's second parent: spec/core.md §6.2 step 3 truncates
 * HEAD's *expanded* list after it, so the result is HEAD's messages up to
 * the tip (which include main-line commits the branch never had; v2's
 * `food`). The fixtures have no edit after such a tip, so that prefix is
 * HEAD's compile_decided cut at the tip.
 */
static void test_compile_branches(void **state)
{
	fixture *fx = *state;
	const cJSON *tr;
	tract_store *s;

	need_fixture(fx);
	s = open_store(fx);
	cJSON_ArrayForEach(tr, tracts_of(fx))
	{
		tract *t = open_tract(s, jstr(tr, "tract_id"));
		const cJSON *br, *branches = jget(tr, "branches");
		const cJSON *head_decided = jget(jget(tr, "head_result"), "compile_decided");
		int n = 0;

		cJSON_ArrayForEach(br, jget(tr, "branch_results"))
		{
			tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
			tract_context *ctx = NULL;
			const char *tip = jstr(br, "tip");
			const cJSON *bt = cJSON_GetObjectItemCaseSensitive(branches, br->string);
			const cJSON *want = jget(br, "compile_decided");
			cJSON *prefix = NULL;
			char what[160], resolved[65];

			CHECK(bt && str_eq(cJSON_GetStringValue(bt), tip),
			      "%s: branch %s tip disagrees with branches", label_of(tr),
			      br->string);
			/* the branch name resolves to its tip */
			CHECK_RC(tract_revision_resolve(resolved, t, br->string));
			CHECK(str_eq(resolved, tip), "%s: branch %s resolves to %s, want %s",
			      label_of(tr), br->string, resolved, tip);

			/* HEAD at the tip: exactly the branch's result */
			snprintf(what, sizeof(what), "%s %s with HEAD at branch %s", fx->name,
			         label_of(tr), br->string);
			ctx = compile_as_head(t, tip);
			check_context(what, ctx, want, CMP_CONFIGS | CMP_COUNT | CMP_TOKENS);
			tract_context_free(ctx);
			ctx = NULL;

			/* at_commit = tip */
			if (!in_array(jget(tr, "log"), "commit_hash", tip) &&
			    in_array(jget(head_decided, "commit_hashes"), NULL, tip))
				want = prefix = head_prefix(head_decided, tip);
			o.at_commit = tip;
			snprintf(what, sizeof(what), "%s %s at_commit branch %s%s", fx->name,
			         label_of(tr), br->string,
			         prefix ? " (second-parent tip: HEAD's list cut)" : "");
			CHECK_RC(tract_context_compile(&ctx, t, &o));
			check_context(what, ctx, want, CMP_CONFIGS | CMP_COUNT | CMP_TOKENS);
			tract_context_free(ctx);
			cJSON_Delete(prefix);
			n++;
		}
		CHECK(n == cJSON_GetArraySize(branches), "%s: %d branch results for %d branches",
		      label_of(tr), n, cJSON_GetArraySize(branches));
		tract_free(t);
	}
	tract_store_free(s);
}

/*
 * Every branch of the reference's files is reachable by name: `switch`
 * attaches HEAD to it, HEAD is its recorded tip, a plain compile gives the
 * reference's recorded result for that branch, and its history reads back
 * with the revision grammar (NAME~N walks the same first parents as the
 * log from the tip). A detached tract gets its HEAD back with `checkout -`.
 */
static void test_switch_branches(void **state)
{
	fixture *fx = *state;
	const cJSON *tr;
	tract_store *s;

	need_fixture(fx);
	s = open_store(fx);
	cJSON_ArrayForEach(tr, tracts_of(fx))
	{
		tract *t = open_tract(s, jstr(tr, "tract_id"));
		const cJSON *br, *branches = jget(tr, "branches");
		const char *head0 = jstr(tr, "head");
		int detached0 = cJSON_IsTrue(jget(tr, "detached"));
		tract_branch_list *list = NULL;
		int n = 0;

		CHECK_RC(tract_branch_list_get(&list, t));
		CHECK(list->count == (size_t)cJSON_GetArraySize(branches),
		      "%s: %zu branches listed, want %d", label_of(tr), list->count,
		      cJSON_GetArraySize(branches));
		for (size_t i = 0; i < list->count; i++) {
			const cJSON *bt = cJSON_GetObjectItemCaseSensitive(branches, list->items[i].name);
			CHECK(bt && str_eq(cJSON_GetStringValue(bt), list->items[i].tip),
			      "%s: listed branch %s at %s is not the reference's", label_of(tr),
			      list->items[i].name, list->items[i].tip);
			CHECK(list->items[i].current ==
			          str_eq(list->items[i].name, jstr(tr, "current_branch")),
			      "%s: branch %s current flag", label_of(tr), list->items[i].name);
		}
		tract_branch_list_free(list);
		cJSON_ArrayForEach(br, jget(tr, "branch_results"))
		{
			tract_context *ctx = NULL;
			const char *tip = jstr(br, "tip");
			char out[65], *branch = NULL, what[200], rev[300];
			int detached = -1;

			CHECK_RC(tract_switch(out, t, br->string, NULL));
			CHECK(str_eq(out, tip), "%s: switch %s gave %s, want %s", label_of(tr),
			      br->string, out, tip);
			CHECK_RC(tract_head_get(out, &branch, &detached, t));
			CHECK(str_eq(out, tip) && str_eq(branch, br->string) && detached == 0,
			      "%s: after switch %s HEAD is %s on %s", label_of(tr), br->string, out,
			      SHOW(branch));
			tract_string_free(branch);
			CHECK_RC(tract_context_compile(&ctx, t, NULL));
			snprintf(what, sizeof(what), "%s %s after switch %s", fx->name, label_of(tr),
			         br->string);
			check_context(what, ctx, jget(br, "compile_decided"),
			              CMP_CONFIGS | CMP_COUNT | CMP_TOKENS);
			tract_context_free(ctx);
			/* HEAD~1 is the tip's first parent */
			{
				tract_commit *c = NULL;
				CHECK_RC(tract_commit_lookup(&c, t, tip));
				snprintf(rev, sizeof(rev), "%s~1", br->string);
				if (tract_commit_parent(c)) {
					CHECK_RC(tract_revision_resolve(out, t, rev));
					CHECK(str_eq(out, tract_commit_parent(c)), "%s: %s is %s, want %s",
					      label_of(tr), rev, out, tract_commit_parent(c));
					CHECK_RC(tract_revision_resolve(out, t, "HEAD^"));
					CHECK(str_eq(out, tract_commit_parent(c)), "%s: HEAD^ after switch",
					      label_of(tr));
				}
				tract_commit_free(c);
			}
			n++;
		}
		CHECK(n == cJSON_GetArraySize(branches), "%s: %d branch results for %d branches",
		      label_of(tr), n, cJSON_GetArraySize(branches));
		/* back to where the reference left HEAD */
		if (n && detached0 && head0) {
			char out[65];
			CHECK_RC(tract_checkout(out, t, head0));
			CHECK(str_eq(out, head0), "%s: checkout of the recorded HEAD", label_of(tr));
		}
		tract_free(t);
	}
	tract_store_free(s);
}

static void check_log_entry(const char *what, const tract_commit *c, const cJSON *e)
{
	const cJSON *tc = jget(e, "token_count");
	const char *op = jstr(e, "operation");
	char when[48], w[160];
	char *json = NULL;
	cJSON *parsed;
	const cJSON *m;

	CHECK(str_eq(tract_commit_hash(c), jstr(e, "commit_hash")), "%s: hash %s, want %s", what,
	      tract_commit_hash(c), jstr(e, "commit_hash"));
	CHECK(str_eq(tract_commit_tract_id(c), jstr(e, "tract_id")), "%s: tract_id", what);
	CHECK(str_eq(tract_commit_parent(c), jstr(e, "parent_hash")), "%s: parent %s, want %s",
	      what, SHOW(tract_commit_parent(c)), SHOW(jstr(e, "parent_hash")));
	CHECK(str_eq(tract_commit_content_hash(c), jstr(e, "content_hash")), "%s: content_hash",
	      what);
	CHECK(str_eq(tract_commit_content_type(c), jstr(e, "content_type")),
	      "%s: content_type %s, want %s", what, tract_commit_content_type(c),
	      jstr(e, "content_type"));
	CHECK((strcmp(op, "append") == 0 && tract_commit_operation(c) == TRACT_OP_APPEND) ||
	          (strcmp(op, "edit") == 0 && tract_commit_operation(c) == TRACT_OP_EDIT),
	      "%s: operation %d, want %s", what, (int)tract_commit_operation(c), op);
	CHECK(str_eq(tract_commit_response_to(c), jstr(e, "response_to")),
	      "%s: response_to %s, want %s", what, SHOW(tract_commit_response_to(c)),
	      SHOW(jstr(e, "response_to")));
	CHECK(str_eq(tract_commit_message(c), jstr(e, "message")), "%s: message %s, want %s", what,
	      SHOW(tract_commit_message(c)), SHOW(jstr(e, "message")));
	CHECK(cJSON_IsNumber(tc) && (double)tract_commit_token_count(c) == tc->valuedouble,
	      "%s: token_count %lld, want %g", what, (long long)tract_commit_token_count(c),
	      tc->valuedouble);
	tract_time_format(when, sizeof(when), tract_commit_time(c));
	CHECK(str_eq(when, jstr(e, "created_at")), "%s: created_at %s, want %s", what, when,
	      jstr(e, "created_at"));
	/* "null" text and SQL NULL both mean none */
	snprintf(w, sizeof(w), "%s: metadata", what);
	check_json_value(w, tract_commit_metadata(c), jget(e, "metadata"));
	snprintf(w, sizeof(w), "%s: generation_config", what);
	check_json_value(w, tract_commit_generation_config(c), jget(e, "generation_config"));

	/* The CLI's JSON object has the same members and values. */
	CHECK_RC(tract_commit_to_json(&json, c, 0));
	parsed = cJSON_Parse(json);
	CHECK(parsed != NULL, "%s: tract_commit_to_json gave invalid JSON: %s", what, json);
	cJSON_ArrayForEach(m, e)
	{
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(parsed, m->string);
		CHECK(g != NULL, "%s: commit JSON lacks '%s'", what, m->string);
		CHECK(cJSON_Compare(g, m, 1), "%s: commit JSON member '%s' differs: %s", what,
		      m->string, json);
	}
	cJSON_Delete(parsed);
	tract_string_free(json);
}

static void test_log(void **state)
{
	fixture *fx = *state;
	const cJSON *tr;
	tract_store *s;

	need_fixture(fx);
	s = open_store(fx);
	cJSON_ArrayForEach(tr, tracts_of(fx))
	{
		tract *t = open_tract(s, jstr(tr, "tract_id"));
		const cJSON *log = jget(tr, "log");
		tract_commit_list *l = NULL;
		size_t i, wn = (size_t)cJSON_GetArraySize(log);

		CHECK_RC(tract_log_list(&l, t, NULL));
		CHECK(l->count == wn, "%s %s: log has %zu commits, want %zu", fx->name, label_of(tr),
		      l->count, wn);
		for (i = 0; i < l->count; i++) {
			char what[128];
			snprintf(what, sizeof(what), "%s %s log[%zu]", fx->name, label_of(tr), i);
			check_log_entry(what, l->items[i], cJSON_GetArrayItem(log, (int)i));
		}
		tract_commit_list_free(l);
		tract_free(t);
	}
	tract_store_free(s);
}

/* fsck: no ERROR-severity problem (warnings: DECISIONS.md "Facts about
 * files the reference wrote"). */
static void check_fsck_clean(const char *what, tract_store *s)
{
	tract_fsck_report *r = NULL;
	tract_fsck_problem *p;
	size_t n, i, errors = 0;

	CHECK_RC(tract_fsck_run(&r, s));
	p = r->problems;
	n = r->count;
	for (i = 0; i < n; i++) {
		if (p[i].severity == TRACT_FSCK_ERROR) {
			errors++;
			print_error("%s: fsck ERROR %s: %s\n", what, SHOW(p[i].object),
			            SHOW(p[i].message));
		}
	}
	CHECK(errors == 0, "%s: fsck reported %zu errors", what, errors);
	tract_fsck_report_free(r);
}

static void test_fsck(void **state)
{
	fixture *fx = *state;
	tract_store *s;

	need_fixture(fx);
	s = open_store(fx);
	check_fsck_clean(fx->name, s);
	tract_store_free(s);
}

static const cJSON *find_tract(const fixture *fx, const char *id)
{
	const cJSON *tr;

	cJSON_ArrayForEach(tr, tracts_of(fx)) if (str_eq(jstr(tr, "tract_id"), id)) return tr;
	CHECK(0, "tract %s not in expected.json", id);
	return NULL;
}

/* A commit written here is HEAD after reopening, on top of the old head. */
static void test_writeback(void **state)
{
	fixture *fx = *state;
	const char *id, *old_head;
	const cJSON *tr, *want;
	tract_store *s;
	tract *t;
	tract_commit *c = NULL;
	tract_context *ctx = NULL;
	char hash[65], head[65];
	char *branch = NULL;
	const char *text =
	    "Writeback from libtract: d\xc3\xa9j\xc3\xa0 vu \xe2\x82\xac 5 \xf0\x9f\x98\x80";
	size_t n;
	int detached = -1;

	need_fixture(fx);
	id = jstr(fx->exp, "writeback_tract");
	tr = find_tract(fx, id);
	old_head = jstr(tr, "head");
	CHECK(old_head && !cJSON_IsTrue(jget(tr, "detached")),
	      "writeback tract must have an attached HEAD");
	want = jget(jget(tr, "head_result"), "compile_decided");

	s = open_store(fx);
	t = open_tract(s, id);
	CHECK_RC(tract_commit_create_dialogue(&c, t, "user", text, NULL, NULL));
	snprintf(hash, sizeof(hash), "%s", tract_commit_hash(c));
	CHECK(str_eq(tract_commit_parent(c), old_head), "new commit's parent %s, want %s",
	      SHOW(tract_commit_parent(c)), old_head);
	tract_commit_free(c);
	c = NULL;
	tract_free(t);
	tract_store_free(s);

	s = open_store(fx);
	t = open_tract(s, id);
	CHECK_RC(tract_head_get(head, &branch, &detached, t));
	CHECK(str_eq(head, hash), "after reopen HEAD is %s, want the new commit %s", head, hash);
	CHECK(detached == 0 && str_eq(branch, jstr(tr, "current_branch")),
	      "after reopen: detached %d branch %s", detached, SHOW(branch));
	tract_string_free(branch);
	CHECK_RC(tract_commit_lookup(&c, t, hash));
	CHECK(str_eq(tract_commit_parent(c), old_head), "reread parent %s, want %s",
	      SHOW(tract_commit_parent(c)), old_head);
	CHECK(str_eq(tract_commit_content_type(c), "dialogue"), "reread content_type %s",
	      tract_commit_content_type(c));
	CHECK(tract_commit_operation(c) == TRACT_OP_APPEND, "reread operation");
	tract_commit_free(c);
	check_fsck_clean("after writeback", s);

	CHECK_RC(tract_context_compile(&ctx, t, NULL));
	n = (size_t)cJSON_GetArraySize(jget(want, "messages"));
	CHECK(tract_context_count(ctx) == n + 1, "after writeback: %zu messages, want %zu",
	      tract_context_count(ctx), n + 1);
	{
		/* the old messages, unchanged, then the new one */
		tract_context *old = NULL;
		tract_compile_options o = TRACT_COMPILE_OPTIONS_INIT;
		o.at_commit = old_head;
		CHECK_RC(tract_context_compile(&old, t, &o));
		check_context("after writeback, at old head", old, want,
		              CMP_CONFIGS | CMP_COUNT | CMP_TOKENS);
		tract_context_free(old);
		for (size_t i = 0; i < n; i++) {
			const cJSON *m = cJSON_GetArrayItem(jget(want, "messages"), (int)i);
			CHECK(str_eq(tract_context_content(ctx, i), jstr(m, "content")) &&
			          str_eq(tract_context_role(ctx, i), jstr(m, "role")),
			      "after writeback: message %zu changed", i);
			CHECK(str_eq(tract_context_commit_hash(ctx, i),
			             cJSON_GetArrayItem(jget(want, "commit_hashes"), (int)i)
			                 ->valuestring),
			      "after writeback: hash %zu changed", i);
		}
	}
	CHECK(str_eq(tract_context_role(ctx, n), "user") &&
	          str_eq(tract_context_content(ctx, n), text) &&
	          tract_context_name(ctx, n) == NULL &&
	          str_eq(tract_context_commit_hash(ctx, n), hash),
	      "after writeback: last message is %s/%s", SHOW(tract_context_role(ctx, n)),
	      SHOW(tract_context_content(ctx, n)));
	tract_context_free(ctx);

	/* The other tracts are untouched. */
	cJSON_ArrayForEach(tr, tracts_of(fx))
	{
		tract *o;
		char h[65];
		if (str_eq(jstr(tr, "tract_id"), id))
			continue;
		o = open_tract(s, jstr(tr, "tract_id"));
		CHECK_RC(tract_head_get(h, NULL, NULL, o));
		CHECK(str_eq(h, jstr(tr, "head") ? jstr(tr, "head") : ""),
		      "%s: head moved by the writeback", label_of(tr));
		tract_free(o);
	}
	tract_free(t);
	tract_store_free(s);
}

/* v4: both tracts listed, the child's parent is the orchestrator. */
static void test_list_tracts(void **state)
{
	fixture *fx = *state;
	const cJSON *lt, *sp, *e;
	tract_store *s;
	tract_info_list *list = NULL;
	tract_info *infos;
	size_t n, i;

	need_fixture(fx);
	lt = cJSON_GetObjectItemCaseSensitive(fx->exp, "list_tracts");
	sp = cJSON_GetObjectItemCaseSensitive(fx->exp, "spawn_pointers");
	if (fx->version < 4) {
		CHECK(lt == NULL && sp == NULL, "list_tracts/spawn_pointers before v4");
	} else {
		CHECK(cJSON_IsArray(lt) && cJSON_IsArray(sp) && cJSON_GetArraySize(sp) > 0,
		      "v4 expected.json lacks list_tracts or spawn_pointers");
	}
	s = open_store(fx);
	CHECK_RC(tract_store_list_tracts(&list, s));
	infos = list->items;
	n = list->count;
	CHECK(n == (size_t)cJSON_GetArraySize(tracts_of(fx)), "%s: %zu tracts listed, want %d",
	      fx->name, n, cJSON_GetArraySize(tracts_of(fx)));
	for (i = 0; i < n; i++) {
		const cJSON *tr = find_tract(fx, infos[i].tract_id);
		const char *want_head = jstr(tr, "head");
		CHECK(str_eq(infos[i].head, want_head), "%s: listed head %s, want %s", label_of(tr),
		      SHOW(infos[i].head), SHOW(want_head));
		CHECK(str_eq(infos[i].branch, jstr(tr, "current_branch")),
		      "%s: listed branch %s, want %s", label_of(tr), SHOW(infos[i].branch),
		      SHOW(jstr(tr, "current_branch")));
		CHECK(infos[i].commit_count == (int64_t)jget(tr, "commit_rows")->valuedouble,
		      "%s: listed commit_count %lld, want %g", label_of(tr),
		      (long long)infos[i].commit_count, jget(tr, "commit_rows")->valuedouble);
	}
	if (fx->version >= 4) {
		cJSON_ArrayForEach(e, lt)
		{
			const char *id = jstr(e, "tract_id");
			const char *parent = jstr(e, "parent_tract_id");
			const tract_info *it = NULL;
			for (i = 0; i < n; i++)
				if (str_eq(infos[i].tract_id, id))
					it = &infos[i];
			CHECK(it != NULL, "tract %s not listed", id);
			CHECK(str_eq(it->parent_tract_id, parent),
			      "%s: parent_tract_id %s, want %s", id, SHOW(it->parent_tract_id),
			      SHOW(parent));
			CHECK(it->commit_count == (int64_t)jget(e, "commit_count")->valuedouble,
			      "%s: commit_count %lld", id, (long long)it->commit_count);
			if (jstr(e, "display_name"))
				CHECK(str_eq(it->display_name, jstr(e, "display_name")),
				      "%s: display_name %s, want %s", id, SHOW(it->display_name),
				      jstr(e, "display_name"));
		}
		/* every spawn pointer's child names its parent */
		cJSON_ArrayForEach(e, sp)
		{
			const char *child = jstr(e, "child_tract_id");
			int seen = 0;
			for (i = 0; i < n; i++) {
				if (!str_eq(infos[i].tract_id, child))
					continue;
				seen = 1;
				CHECK(str_eq(infos[i].parent_tract_id, jstr(e, "parent_tract_id")),
				      "child %s: parent %s, want %s", child,
				      SHOW(infos[i].parent_tract_id), jstr(e, "parent_tract_id"));
				CHECK(str_eq(label_of(find_tract(fx, jstr(e, "parent_tract_id"))),
				             "orchestrator"),
				      "spawn parent is not the orchestrator");
			}
			CHECK(seen, "spawned child %s not listed", child);
		}
	} else {
		for (i = 0; i < n; i++)
			CHECK(infos[i].parent_tract_id == NULL, "%s: parent_tract_id %s before v4",
			      infos[i].tract_id, infos[i].parent_tract_id);
	}
	tract_info_list_free(list);
	tract_store_free(s);
}

/* ------------------------------------------------------------------ */

static fixture fx_v1 = {.name = "v1_basic", .version = 1};
static fixture fx_v2 = {.name = "v2_basic", .version = 2};
static fixture fx_v3 = {.name = "v3_basic", .version = 3};
static fixture fx_v4 = {.name = "v4_basic", .version = 4};

#define FX_TEST(fx, fn)                                                                            \
	{                                                                                          \
#fx ": " #fn, fn, fixture_setup, fixture_teardown, &fx                             \
	}
#define FX_TESTS(fx)                                                                               \
	FX_TEST(fx, test_head), FX_TEST(fx, test_compile_head),                                    \
	    FX_TEST(fx, test_compile_merge_messages), FX_TEST(fx, test_merge_commits),             \
	    FX_TEST(fx, test_compile_branches), FX_TEST(fx, test_log), FX_TEST(fx, test_fsck),     \
	    FX_TEST(fx, test_writeback), FX_TEST(fx, test_list_tracts),                          \
	    FX_TEST(fx, test_switch_branches)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    FX_TESTS(fx_v1),
	    FX_TESTS(fx_v2),
	    FX_TESTS(fx_v3),
	    FX_TESTS(fx_v4),
	};
	/* The migration of the reference's SQLite files. */
	const struct CMUnitTest sqlite_only[] = {
	    FX_TEST(fx_v1, test_schema_migrated),
	    FX_TEST(fx_v2, test_schema_migrated),
	    FX_TEST(fx_v3, test_schema_migrated),
	    FX_TEST(fx_v4, test_schema_migrated),
	};
	int failed = ts_init("fixtures");

	if (failed)
		return failed;
	failed = ts_run("fixtures", tests, TS_COUNT(tests), sqlite_only, TS_COUNT(sqlite_only));

	print_message("fixtures: %lu checks run\n", n_checks);
	return failed;
}
