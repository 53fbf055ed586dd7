/*
 * test_plugin.c - the plugin loader: search path order, refusal of bad
 * names, missing plugins, missing entry symbols and unknown ABI versions,
 * and the listing behind `tract plugins`.
 */
#include "helpers.h"

#include "plugin.h"

static char base_path[4096];

static void set_path(const char *extra)
{
	char p[8192];

	snprintf(p, sizeof(p), "%s:%s", extra, base_path);
	setenv("TRACT_PLUGIN_PATH", p, 1);
}

static void test_unknown_abi_refused(void **state)
{
	const tract_backend *be = NULL;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_plugin_backend(&be, "badabi"), TRACT_EPLUGIN);
	assert_null(be);
	assert_non_null(strstr(tract_error_last()->message, "ABI version 99"));
	assert_non_null(strstr(tract_error_last()->message, "tract-backend-badabi.so"));
}

static void test_missing_symbol_refused(void **state)
{
	const tract_backend *be = NULL;
	tract_store *s = NULL;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_plugin_backend(&be, "nosym"), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "lacks the entry symbol"));
	assert_int_equal(tract_store_open(&s, "nosym:/tmp/x", 0), TRACT_EPLUGIN);
	assert_null(s);
}

static void test_missing_plugin_names_paths(void **state)
{
	const tract_backend *be = NULL;

	(void)state;
	set_path("/nonexistent/dir");
	assert_int_equal(tract_plugin_backend(&be, "nothere"), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message,
			       "/nonexistent/dir/tract-backend-nothere.so"));
	assert_int_equal(tract_plugin_backend(&be, "sub/dir"), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "invalid plugin name"));
	assert_int_equal(tract_plugin_backend(&be, "x.so"), TRACT_EPLUGIN);
	assert_int_equal(tract_plugin_backend(&be, ""), TRACT_EPLUGIN);
}

static void test_sqlite_found_and_listed(void **state)
{
	tract_plugin_info_list *list = NULL;
	tract_plugin_info *infos;
	const tract_backend *be = NULL;
	size_t n, i;
	int saw_sqlite = 0, saw_bad = 0, saw_nosym = 0;
	char *path;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_plugin_backend(&be, "sqlite"), 0);
	assert_int_equal(be->version, TRACT_BACKEND_VERSION);
	assert_string_equal(be->name, "sqlite");
	assert_int_equal(tract_plugin_search_path(&path), 0);
	assert_non_null(path);
	/* The environment comes first. */
	assert_int_equal(strncmp(path, TEST_PLUGIN_DIR, strlen(TEST_PLUGIN_DIR)), 0);
	tract_string_free(path);
	assert_int_equal(tract_plugin_list(&list), 0);
	infos = list->items;
	n = list->count;
	for (i = 0; i < n; i++) {
		if (strcmp(infos[i].name, "sqlite") == 0) {
			saw_sqlite = 1;
			assert_int_equal(infos[i].abi_version, TRACT_BACKEND_VERSION);
			assert_null(infos[i].error);
		} else if (strcmp(infos[i].name, "badabi") == 0) {
			saw_bad = 1;
			assert_int_equal(infos[i].abi_version, 99);
		} else if (strcmp(infos[i].name, "nosym") == 0) {
			saw_nosym = 1;
			assert_non_null(infos[i].error);
		}
	}
	tract_plugin_info_list_free(list);
	assert_true(saw_sqlite && saw_bad && saw_nosym);
}

/* A table written against version 1 (no deletion members) loads; the
 * core's copy reads nothing beyond it and has the newer members NULL; the
 * store works through it. */
static void test_older_table_version_loads(void **state)
{
	char dir[] = "/tmp/tract-plugin-XXXXXX", uri[256];
	const tract_backend *be = NULL;
	tract_store *s = NULL;
	tract *t = NULL;
	tract_context *ctx = NULL;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_plugin_backend(&be, "v1table"), 0);
	assert_int_equal(be->version, 1);
	assert_string_equal(be->name, "v1table");
	assert_non_null(be->tract_foreach);
	assert_null(be->commit_delete);
	assert_null(be->spawn_delete);
	assert_non_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "v1table:%s/t.db", dir);
	assert_int_equal(tract_store_open(&s, uri, TRACT_STORE_CREATE), 0);
	assert_string_equal(tract_store_backend_name(s), "v1table");
	assert_int_equal(tract_create(&t, s, "t1", NULL, NULL), 0);
	assert_int_equal(tract_commit_create_dialogue(NULL, t, "user", "hello", NULL, NULL), 0);
	assert_int_equal(tract_context_compile(&ctx, t, NULL), 0);
	assert_int_equal(tract_context_count(ctx), 1);
	tract_context_free(ctx);
	tract_free(t);
	tract_store_free(s);
	tu_remove_dir(dir);
}

/* A table lacking a REQUIRED member is refused at load time, by name. */
static void test_missing_member_refused(void **state)
{
	const tract_backend *be = NULL;
	tract_store *s = NULL;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_int_equal(tract_plugin_backend(&be, "nomember"), TRACT_EPLUGIN);
	assert_null(be);
	assert_non_null(strstr(tract_error_last()->message, "commit_chain"));
	assert_int_equal(tract_store_open(&s, "nomember:/tmp/x.db", TRACT_STORE_CREATE),
			 TRACT_EPLUGIN);
	assert_null(s);
}

/* A scheme no plugin is named after is served by the plugin whose table
 * lists it (the core has no table of schemes of its own). */
static void test_scheme_found_by_table(void **state)
{
	char dir[] = "/tmp/tract-plugin-XXXXXX", uri[256];
	const tract_backend *be = NULL;
	tract_store *s = NULL;

	(void)state;
	set_path(TEST_PLUGIN_DIR);
	assert_non_null(mkdtemp(dir));
	snprintf(uri, sizeof(uri), "aliasdb:%s/a.db", dir);
	assert_int_equal(tract_plugin_backend_for_uri(&be, uri), 0);
	assert_string_equal(be->name, "alias");
	assert_int_equal(tract_store_open(&s, uri, TRACT_STORE_CREATE), 0);
	assert_string_equal(tract_store_backend_name(s), "alias");
	tract_store_free(s);
	/* The plugin named after a scheme must list it. */
	assert_int_equal(tract_plugin_backend_for_uri(&be, "alias:/tmp/x"), TRACT_EPLUGIN);
	assert_non_null(strstr(tract_error_last()->message, "does not serve"));
	tu_remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_abi_refused),
		cmocka_unit_test(test_missing_symbol_refused),
		cmocka_unit_test(test_missing_plugin_names_paths),
		cmocka_unit_test(test_sqlite_found_and_listed),
		cmocka_unit_test(test_older_table_version_loads),
		cmocka_unit_test(test_missing_member_refused),
		cmocka_unit_test(test_scheme_found_by_table),
	};
	const char *p = getenv("TRACT_PLUGIN_PATH");

	snprintf(base_path, sizeof(base_path), "%s", p ? p : "");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
