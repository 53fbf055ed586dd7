/*
 * conformance.c - the backend conformance suite: the same tests run against
 * every storage backend, at the ABI of tract/sys/backend.h, through the
 * store factory of conformance.h. Every test gets a fresh, empty store from
 * the factory; behaviour only some backends have is told by its flags.
 *
 * A backend may hold a write back and send it with a later call of the
 * transaction (backend.h): a refused write (an existing commit, a lost
 * compare-and-swap, a missing row it names) fails at the call or, at the
 * latest, at commit(), and then nothing of the transaction is written.
 * expect_txn_fails() accepts either when the factory says so.
 *
 * The tests are in conformance_rows.c, _chain.c, _refs.c and _txn.c, their
 * helpers in conformance_util.c; this file has the fixture and the run. Only
 * public headers, cmocka and libc: the kit must build out of tree.
 */
#include "conformance_int.h"

/* ---- fixture -------------------------------------------------------------- */

/* The factory of the running suite (cmocka tests take no argument). */
const tract_conformance_factory *factory;

/* Strings kept for the current test, freed at teardown. */
static char **kept;
static size_t n_kept, cap_kept;

static char *keep_owned(char *s)
{
	if (n_kept == cap_kept) {
		cap_kept = cap_kept ? cap_kept * 2 : 64;
		kept = realloc(kept, cap_kept * sizeof(*kept));
		assert_non_null(kept);
	}
	kept[n_kept++] = s;
	return s;
}

/* A copy of s (NULL stays NULL) that lives until the end of the test. */
char *keep(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	assert_non_null(d);
	return keep_owned(d);
}

__attribute__((format(printf, 1, 2))) char *keepf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	return keep_owned(s);
}

static void free_kept(void)
{
	size_t i;

	for (i = 0; i < n_kept; i++)
		free(kept[i]);
	free(kept);
	kept = NULL;
	n_kept = cap_kept = 0;
}

bool has_flag(unsigned flag)
{
	return (factory->flags & flag) != 0;
}

/* The deletion members are OPTIONAL (all five or none, checked by run). */
bool has_deletion(const struct conf *f)
{
	return f->be->commit_delete != NULL;
}

/* A location of the backend that does not exist (NULL: not applicable);
 * *path the file-system entry that must stay absent (NULL: none). */
const char *conf_missing_location(const struct conf *f, const char **path)
{
	char *uri, *p = NULL;

	*path = NULL;
	if (!factory->missing_uri)
		return NULL;
	uri = factory->missing_uri(factory->self, f->cookie, &p);
	if (p)
		*path = keep_owned(p);
	return uri ? keep_owned(uri) : NULL;
}

int open_store(struct conf *f, unsigned flags)
{
	char err[512] = "";
	int rc = f->be->open(&f->c, f->location, flags, err, sizeof(err));

	if (rc < 0)
		print_error("open %s: %s\n", f->location, err);
	return rc;
}

static int setup(void **state)
{
	struct conf *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->be = factory->backend;
	f->location = factory->fresh_uri(factory->self, &f->cookie);
	if (f->location)
		assert_int_equal(open_store(f, TRACT_BACKEND_CREATE), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct conf *f = *state;

	if (f->be && f->c)
		f->be->close(f->c);
	if (f->location && factory->destroy_store)
		factory->destroy_store(factory->self, f->cookie);
	free(f->location);
	free(f);
	free_kept();
	return 0;
}

/* The members every table must set (backend.h: REQUIRED). */
static const char *missing_member(const tract_backend *be)
{
#define REQUIRE(m)                                                                                 \
	if (!be->m)                                                                                \
		return #m;
	REQUIRE(name);
	REQUIRE(schemes);
	REQUIRE(open);
	REQUIRE(close);
	REQUIRE(last_error);
	REQUIRE(begin);
	REQUIRE(commit);
	REQUIRE(rollback);
	REQUIRE(blob_put);
	REQUIRE(blob_get);
	REQUIRE(blob_foreach);
	REQUIRE(commit_put);
	REQUIRE(commit_get);
	REQUIRE(commit_prefix);
	REQUIRE(commit_chain);
	REQUIRE(commit_foreach);
	REQUIRE(commit_foreach_with_config);
	REQUIRE(parent_put);
	REQUIRE(parent_list);
	REQUIRE(parent_foreach);
	REQUIRE(ref_get);
	REQUIRE(ref_cas);
	REQUIRE(ref_delete);
	REQUIRE(ref_foreach);
	REQUIRE(annotation_put);
	REQUIRE(annotation_list);
	REQUIRE(annotation_foreach);
	REQUIRE(compression_put);
	REQUIRE(compression_member_put);
	REQUIRE(compression_get);
	REQUIRE(compression_foreach);
	REQUIRE(compression_members);
	REQUIRE(spawn_put);
	REQUIRE(spawn_foreach);
	REQUIRE(spawn_by_child);
	REQUIRE(meta_get);
	REQUIRE(meta_set);
	REQUIRE(meta_delete);
	REQUIRE(meta_foreach);
	REQUIRE(tract_foreach);
#undef REQUIRE
	if (!be->schemes[0])
		return "schemes (the list is empty)";
	return NULL;
}

/* A scheme or a name: 2 to 31 letters, digits, '_' or '-' (backend.h). */
static bool valid_word(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && n <= 31 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* The table is usable by the suite: what the core's loader checks too. */
static int check_table(const tract_conformance_factory *f)
{
	const tract_backend *be = f->backend;
	const char *missing;
	int deletion;
	size_t i;

	if (!be || !f->fresh_uri) {
		fprintf(stderr, "%s: the factory has no backend table or no fresh_uri\n",
			f->name ? f->name : "conformance");
		return -1;
	}
	if (be->version < 1 || be->version > TRACT_BACKEND_VERSION) {
		fprintf(stderr, "%s: backend ABI version %u, this kit knows 1 to %d\n", f->name,
			be->version, TRACT_BACKEND_VERSION);
		return -1;
	}
	missing = missing_member(be);
	if (missing) {
		fprintf(stderr, "%s: the table lacks the required member %s\n", f->name, missing);
		return -1;
	}
	for (i = 0; be->schemes[i]; i++) {
		if (!valid_word(be->schemes[i])) {
			fprintf(stderr, "%s: invalid URI scheme '%.40s' (2 to 31 letters, digits, "
				"'_' or '-')\n", f->name, be->schemes[i]);
			return -1;
		}
	}
	deletion = !!be->commit_delete + !!be->blob_delete + !!be->annotation_delete_target +
		   !!be->compression_delete + !!be->spawn_delete;
	if (deletion != 0 && deletion != 5) {
		fprintf(stderr, "%s: the deletion members are all set or all NULL\n", f->name);
		return -1;
	}
	return 0;
}

/* Why a test does not apply to the factory (NULL: it does). */
static const char *not_applicable(const tract_conformance_factory *f, unsigned needs)
{
	if ((needs & CONF_NEEDS_MISSING_URI) && !f->missing_uri)
		return "the factory has no missing_uri";
	if ((needs & CONF_NEEDS_TWO_CONNECTIONS) && (f->flags & TRACT_CONF_SINGLE_CONNECTION))
		return "the factory says TRACT_CONF_SINGLE_CONNECTION";
	if ((needs & CONF_NEEDS_DELETION) && !f->backend->commit_delete)
		return "the backend has no deletion members";
	if ((needs & CONF_NEEDS_ANCESTRY) &&
	    (f->backend->version < 3 || !f->backend->commit_ancestry))
		return "the backend has no commit_ancestry";
	if ((needs & CONF_NEEDS_WATCH) && (f->backend->version < 4 || !f->backend->ref_watch))
		return "the backend has no ref_watch";
	if ((needs & CONF_NEEDS_SEARCH) &&
	    (f->backend->version < 5 || !f->backend->search_query))
		return "the backend has no search index";
	if ((needs & CONF_NEEDS_BATCHED_DELETION) &&
	    (f->backend->version < 5 || !f->backend->commits_delete))
		return "the backend has no batched deletion members";
	return NULL;
}

int tract_conformance_run(const tract_conformance_factory *f)
{
	static const struct conf_test *const files[] = {
		tract_conf_rows_tests,
		tract_conf_chain_tests,
		tract_conf_refs_tests,
		tract_conf_txn_tests,
		tract_conf_ancestry_tests,
		tract_conf_watch_tests,
		tract_conf_search_tests,
	};
	struct CMUnitTest *tests;
	const struct conf_test *t;
	const char *why;
	size_t i, n = 0, cap = 0;
	int failed;

	if (!f || check_table(f) < 0)
		return -1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		for (t = files[i]; t->name; t++)
			cap++;
	tests = calloc(cap, sizeof(*tests));
	if (!tests)
		return -1;
	/* A test that does not apply is not registered (nothing is reported
	 * skipped); the output says which and why. */
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		for (t = files[i]; t->name; t++) {
			why = not_applicable(f, t->needs);
			if (why) {
				printf("%s: %s does not apply: %s\n", f->name, t->name, why);
				continue;
			}
			tests[n].name = t->name;
			tests[n].test_func = t->fn;
			tests[n].setup_func = setup;
			tests[n].teardown_func = teardown;
			n++;
		}
	}
	factory = f;
	failed = _cmocka_run_group_tests(f->name, tests, n, NULL, NULL);
	factory = NULL;
	free(tests);
	return failed;
}
