/*
 * tract-mkbpe - build the binary form of a BPE rank table.
 *
 *   tract-mkbpe SRC DST.bin
 *
 * SRC is an encoder JSON of the tiktoken npm package (o200k_base.json) or a
 * .tiktoken rank file. The binary table is what the library maps from disk
 * at the first count of a process instead of parsing the JSON (about 50 ms
 * for o200k_base). scripts/build.sh runs this after fetching the tables;
 * the result is checked by loading it back and comparing every rank.
 */
#include <stdio.h>
#include <string.h>

#include "bpe.h"
#include "tract.h"

static int fail(const char *what)
{
	fprintf(stderr, "tract-mkbpe: %s: %s\n", what, tract_error_last()->message);
	return 1;
}

int main(int argc, char **argv)
{
	tract_bpe *src = NULL, *back = NULL;
	size_t n;
	int rc = 1;

	if (argc != 3 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc == 2 ? stdout : stderr, "usage: tract-mkbpe SRC DST.bin\n");
		return argc == 2 ? 0 : 2;
	}
	n = strlen(argv[2]);
	if (n < 4 || strcmp(argv[2] + n - 4, ".bin") != 0) {
		fprintf(stderr, "tract-mkbpe: the destination must end in .bin\n");
		return 2;
	}
	if (tract_bpe_load(argv[1], &src) < 0)
		return fail("cannot load the source table");
	if (tract_bpe_save(src, argv[2]) < 0) {
		fail("cannot write the binary table");
		goto out;
	}
	if (tract_bpe_load(argv[2], &back) < 0) {
		fail("cannot read the binary table back");
		goto out;
	}
	if (tract_bpe_equal(src, back) != 1) {
		fprintf(stderr, "tract-mkbpe: %s differs from %s after writing\n", argv[2], argv[1]);
		remove(argv[2]);
		goto out;
	}
	printf("tract-mkbpe: %s: %zu tokens\n", argv[2], tract_bpe_size(back));
	rc = 0;
out:
	tract_bpe_free(src);
	tract_bpe_free(back);
	return rc;
}
