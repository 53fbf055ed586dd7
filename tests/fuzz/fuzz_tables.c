/*
 * fuzz_tables.c - libFuzzer target for the BPE table loaders (core/bpe.h):
 * the encoder JSON, the .tiktoken rank file and the binary .bin table (the
 * bytes written to a temporary file and mapped). The first input byte picks
 * the loader. A corrupt table is an error, never a crash; a table that loads
 * counts a text, and a loaded JSON table saved as .bin loads back equal.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "fuzz_common.h"

static char dir[128], bin_path[160], save_path[160];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%.64s/tract-fuzz-tables-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("fuzz_tables: mkdtemp");
		exit(1);
	}
	snprintf(bin_path, sizeof(bin_path), "%s/in.bin", dir);
	snprintf(save_path, sizeof(save_path), "%s/saved.bin", dir);
	return 0;
}

static void cleanup(void) __attribute__((destructor));
static void cleanup(void)
{
	if (!dir[0])
		return;
	unlink(bin_path);
	unlink(save_path);
	rmdir(dir);
}

static void use(const tract_bpe *bpe, int from_json)
{
	static const char text[] = "Hello, world! 123 h\xc3\xa9llo  \n\n\t x";
	tract_bpe *back = NULL;
	int64_t n;
	int rc;

	n = tract_bpe_count(bpe, text, sizeof(text) - 1);
	if (n < 0 && !fz_rc_in((int)n, TRACT_ERROR, TRACT_ENOMEM, TRACT_EINVAL, 1))
		fz_fail("count returned %lld", (long long)n);
	if (n > (int64_t)sizeof(text))
		fz_fail("count %lld above the bytes", (long long)n);
	if (!from_json)
		return;
	rc = tract_bpe_save(bpe, save_path);
	if (rc != 0)
		fz_fail("save of a loaded table returned %d", rc);
	rc = tract_bpe_load(save_path, &back);
	if (rc != 0)
		fz_fail("a saved table does not load (%d)", rc);
	if (!tract_bpe_equal(bpe, back))
		fz_fail("the saved table differs");
	tract_bpe_free(back);
}

static int load_bin(const uint8_t *data, size_t size, tract_bpe **out)
{
	FILE *f = fopen(bin_path, "wb");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror("fuzz_tables: write");
		abort();
	}
	return tract_bpe_load(bin_path, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tract_bpe *bpe = NULL;
	int rc, mode;

	if (!dir[0])
		LLVMFuzzerInitialize(NULL, NULL);
	if (size < 1)
		return 0;
	mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0)
		rc = tract_bpe_load_json((const char *)data, size, &bpe);
	else if (mode == 1)
		rc = tract_bpe_load_tiktoken((const char *)data, size,
					     tract_bpe_known_pattern("cl100k_base"), &bpe);
	else
		rc = load_bin(data, size, &bpe);
	if (rc != 0) {
		if (!fz_rc_in(rc, TRACT_ECORRUPT, TRACT_EINVAL, TRACT_ENOMEM, TRACT_EVERSION,
			      TRACT_ERROR, 1))
			fz_fail("loader %d returned %d", mode, rc);
		if (bpe)
			fz_fail("a refused table was handed out");
		return 0;
	}
	use(bpe, mode == 0);
	tract_bpe_free(bpe);
	return 0;
}
