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
	tract_plugin_info *infos = NULL;
	const tract_backend *be = NULL;
	size_t n = 0, i;
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
	tract_mem_free(path);
	assert_int_equal(tract_plugin_list(&infos, &n), 0);
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
	tract_plugin_info_free(infos, n);
	assert_true(saw_sqlite && saw_bad && saw_nosym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_abi_refused),
		cmocka_unit_test(test_missing_symbol_refused),
		cmocka_unit_test(test_missing_plugin_names_paths),
		cmocka_unit_test(test_sqlite_found_and_listed),
	};
	const char *p = getenv("TRACT_PLUGIN_PATH");

	snprintf(base_path, sizeof(base_path), "%s", p ? p : "");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
