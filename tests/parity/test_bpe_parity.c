/*
 * test_bpe_parity.c - the BPE counters against the real tiktoken: builds
 * the corpus (corpus.c), has node count it with tiktoken (tiktoken_counts.js)
 * and counts it here with tract_tokenizer_bpe over the very same tables,
 * for o200k_base and cl100k_base; every text must agree.
 *
 *   test_bpe_parity TIKTOKEN_DIR COUNTS_JS WORKDIR
 *       TIKTOKEN_DIR  an installed tiktoken package (run_parity.sh makes
 *                     one from the tarball scripts/fetch-encodings.sh keeps)
 *       COUNTS_JS     tests/parity/tiktoken_counts.js
 *       WORKDIR       an existing directory for corpus.bin / tiktoken.txt
 *   test_bpe_parity --write FILE      only write the corpus (for a look)
 *   test_bpe_parity --seeds DIR       write each text as DIR/<index> (seeds
 *                                     for the fuzzer, tests/fuzz/fuzz_bpe.c)
 *
 * TRACT_PARITY_SEED=N and TRACT_PARITY_RANDOM=N (environment) draw another
 * corpus or more random texts than the test's (PC_SEED, PC_RANDOM), for a
 * longer hunt by hand; the test itself uses the defaults.
 *
 * Every mismatch is reported (index, category, both counts, an excerpt);
 * the texts of category newer-unicode are reported, not failed, while the
 * installed PCRE2 does not know their characters. Exit 0 when all agree,
 * 1 on a mismatch, 2 on a setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "tract.h"

static const char *const encodings[2] = {"o200k_base", "cl100k_base"};

/* tract_tokenizer_count's count, or its negative code. */
static int64_t count_text(tract_tokenizer *tok, const char *text, size_t len)
{
	int64_t n = 0;
	int rc = tract_tokenizer_count(&n, tok, text, len);

	return rc < 0 ? rc : n;
}

static int setup_error(const char *fmt, const char *arg)
{
	fputs("test_bpe_parity: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

/* node COUNTS_JS TIKTOKEN_DIR CORPUS > OUT; 0 when node exits 0. */
static int run_node(const char *js, const char *pkg, const char *corpus, const char *out)
{
	pid_t pid;
	int st, fd;

	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -1;
	}
	if (pid == 0) {
		dup2(fd, 1);
		close(fd);
		execlp("node", "node", js, pkg, corpus, (char *)NULL);
		fprintf(stderr, "test_bpe_parity: cannot run node: %s\n", strerror(errno));
		_exit(127);
	}
	close(fd);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int write_file(const char *path, const char *s, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc;

	if (!f)
		return -1;
	rc = fwrite(s, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

static void corpus_params(uint64_t *seed, size_t *n_random)
{
	const char *s = getenv("TRACT_PARITY_SEED"), *r = getenv("TRACT_PARITY_RANDOM");

	*seed = s && *s ? strtoull(s, NULL, 0) : PC_SEED;
	*n_random = r && *r ? (size_t)strtoull(r, NULL, 0) : PC_RANDOM;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	pc_corpus c;
	char path[4096], counts_path[4096], ex[100];
	tract_tokenizer *tok[2];
	int64_t(*ref)[2] = NULL, (*mine)[2] = NULL;
	uint64_t seed;
	size_t n_random, i, n_strict = 0, n_newer_differ = 0, mismatches = 0, bytes = 0;
	FILE *f;
	double t0;
	int e;

	corpus_params(&seed, &n_random);
	if (argc == 3 && strcmp(argv[1], "--write") == 0) {
		if (pc_build(&c, seed, n_random) < 0)
			return 2;
		if (pc_write(&c, argv[2]) < 0)
			return setup_error("cannot write %s", argv[2]);
		printf("%zu texts written to %s\n", c.n, argv[2]);
		pc_free(&c);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0) {
		if (pc_build(&c, seed, n_random) < 0)
			return 2;
		for (i = 0; i < c.n; i++) {
			snprintf(path, sizeof(path), "%s/%05zu", argv[2], i);
			if (write_file(path, c.v[i].bytes, c.v[i].len) < 0)
				return setup_error("cannot write %s", path);
		}
		printf("%zu texts written to %s/\n", c.n, argv[2]);
		pc_free(&c);
		return 0;
	}
	if (argc != 4) {
		fputs("usage: test_bpe_parity TIKTOKEN_DIR COUNTS_JS WORKDIR\n"
		      "       test_bpe_parity --write FILE\n"
		      "       test_bpe_parity --seeds DIR\n",
		      stderr);
		return 2;
	}

	/* The C side reads the tables of the same package tiktoken runs. */
	snprintf(path, sizeof(path), "%s/encoders", argv[1]);
	setenv("TRACT_ENCODINGS_DIR", path, 1);
	for (e = 0; e < 2; e++) {
		if (tract_tokenizer_bpe(&tok[e], encodings[e]) < 0)
			return setup_error("cannot load the table: %s",
			                   tract_error_last()->message);
	}

	if (pc_build(&c, seed, n_random) < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/corpus.bin", argv[3]);
	snprintf(counts_path, sizeof(counts_path), "%s/tiktoken.txt", argv[3]);
	if (pc_write(&c, path) < 0)
		return setup_error("cannot write %s", path);
	printf("corpus: %zu texts (seed %#" PRIx64 ", %zu random); PCRE2 Unicode %s\n", c.n, seed,
	       n_random, c.unicode_version);

	t0 = now_s();
	if (run_node(argv[2], argv[1], path, counts_path) < 0)
		return setup_error("%s", "tiktoken (node) failed; see its message above");
	printf("tiktoken (node): %.2f s\n", now_s() - t0);

	ref = calloc(c.n ? c.n : 1, sizeof(*ref));
	mine = calloc(c.n ? c.n : 1, sizeof(*mine));
	if (!ref || !mine || !(f = fopen(counts_path, "r")))
		return setup_error("cannot read %s", counts_path);
	for (i = 0; i < c.n; i++) {
		if (fscanf(f, "%" SCNd64 " %" SCNd64, &ref[i][0], &ref[i][1]) != 2) {
			fclose(f);
			return setup_error("%s: fewer counts than texts", counts_path);
		}
	}
	fclose(f);

	t0 = now_s();
	for (i = 0; i < c.n; i++) {
		const pc_text *t = &c.v[i];
		/* a newer-unicode text whose characters PCRE2 knows is strict */
		int strict = !(t->flags & PC_NEWER) || !t->has_unassigned;
		int64_t *got = mine[i];
		bytes += t->len;
		n_strict += strict;
		for (e = 0; e < 2; e++) {
			got[e] = count_text(tok[e], t->bytes, t->len);
			if (got[e] < 0) {
				fprintf(stderr, "test_bpe_parity: text %zu (%s): %s\n", i, t->cat,
				        tract_error_last()->message);
				return 1;
			}
		}
		if (got[0] == ref[i][0] && got[1] == ref[i][1])
			continue;
		pc_excerpt(t->bytes, t->len, ex, sizeof(ex));
		for (e = 0; e < 2; e++) {
			if (got[e] == ref[i][e])
				continue;
			printf("%s text %zu (%s), %s: tiktoken %" PRId64 ", tract %" PRId64
			       ": %s\n",
			       strict ? "MISMATCH" : "known difference", i, t->cat, encodings[e],
			       ref[i][e], got[e], ex);
		}
		if (strict)
			mismatches++;
		else
			n_newer_differ++;
	}
	printf("tract: %.2f s for %zu bytes x 2 encodings\n", now_s() - t0, bytes);

	/* the newer-unicode check, whatever its outcome */
	for (i = 0; i < c.n; i++) {
		const pc_text *t = &c.v[i];
		if (!(t->flags & PC_NEWER))
			continue;
		pc_excerpt(t->bytes, t->len, ex, sizeof(ex));
		printf("newer-unicode %zu (%s by PCRE2): o200k_base tiktoken %" PRId64
		       " tract %" PRId64 ", cl100k_base tiktoken %" PRId64 " tract %" PRId64
		       ": %s\n",
		       i, t->has_unassigned ? "unassigned" : "known", ref[i][0], mine[i][0],
		       ref[i][1], mine[i][1], ex);
	}
	printf("%zu of %zu strict texts agree on both encodings; %zu mismatches; "
	       "%zu newer-unicode texts differ (not failed)\n",
	       n_strict - mismatches, n_strict, mismatches, n_newer_differ);
	free(ref);
	free(mine);
	pc_free(&c);
	return mismatches ? 1 : 0;
}
