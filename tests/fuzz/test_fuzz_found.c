/*
 * test_fuzz_found.c - the bugs the fuzzers of tests/fuzz/ found, each as a
 * plain cmocka test (those a reproducer file shows are replayed by the
 * fuzz-regressions suite instead). Runs under the build's sanitizers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tract.h"
#include "tract/store.h"

/*
 * fuzz_store_lmdb: listing the tracts of a store that has none sorted a NULL
 * array (qsort(NULL, 0, ...): undefined behaviour, UBSan's nonnull check).
 * A new store has no tract either.
 */
static void test_list_tracts_of_an_empty_store(void **state)
{
	tract_store *s = NULL;
	tract_info_list *list = NULL;

	(void)state;
	assert_int_equal(tract_store_open(&s, ":memory:", TRACT_STORE_CREATE), 0);
	assert_int_equal(tract_store_list_tracts(&list, s), 0);
	assert_non_null(list);
	tract_info_list_free(list);
	tract_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_tracts_of_an_empty_store),
	};
	return cmocka_run_group_tests_name("fuzz-found", tests, NULL, NULL);
}
