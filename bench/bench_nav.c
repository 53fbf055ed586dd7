/*
 * bench_nav.c - navigation figures on a linear history of N commits (default
 * 10,000) with B branches (default 50) spread along it, on SQLite and LMDB:
 * resolving revisions (a prefix, HEAD^^^, main~N/2, the root), reset and
 * back, checkout and checkout -, branch and tag create + delete, switch,
 * and the branch list with ahead/behind for every branch. Prints
 * microseconds per operation.
 *
 *   bench_nav [--commits N] [--branches B] [--dir DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tract.h"

#define BENCH_NAME "bench_nav"
#include "bench_util.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

#define TIME(label, reps, stmt)                                                                    \
	do {                                                                                       \
		double t0_ = now_us();                                                             \
		for (int i_ = 0; i_ < (reps); i_++) {                                              \
			if ((stmt) != 0)                                                           \
				die(label);                                                        \
		}                                                                                  \
		printf("  %-40s %10.1f us\n", label, (now_us() - t0_) / (reps));                 \
	} while (0)

static void run(const char *uri, int n, int nbranches)
{
	tract_store *s;
	tract *t;
	char hash[TRACT_HASH_HEXSIZE + 1], first[TRACT_HASH_HEXSIZE + 1], rev[64], name[32];
	tract_branch_list *list = NULL;
	double t0;
	int i;

	if (tract_store_open(&s, uri, TRACT_STORE_CREATE) != 0 ||
	    tract_create(&t, s, "bench", NULL, NULL) != 0)
		die("open");
	t0 = now_us();
	if (tract_batch_begin(t) != 0)
		die("batch");
	for (i = 0; i < n; i++) {
		char text[48];
		snprintf(text, sizeof(text), "turn %d", i);
		if (tract_commit_create_dialogue(NULL, t, i % 2 ? "assistant" : "user", text, NULL,
		                                 NULL) != 0)
			die("commit");
		if (nbranches && i % (n / nbranches ? n / nbranches : 1) == 0) {
			snprintf(name, sizeof(name), "b%05d", i);
			if (tract_branch_create(NULL, t, name, NULL, 0) != 0)
				die("branch");
		}
	}
	if (tract_batch_commit(t) != 0)
		die("batch commit");
	printf("%s: %d commits, %d branches made in %.1f s\n", uri, n, nbranches,
	       (now_us() - t0) / 1e6);
	if (tract_revision_resolve(first, t, "HEAD") != 0)
		die("HEAD");
	snprintf(rev, sizeof(rev), "%.8s", first);
	TIME("resolve an 8-digit prefix", 1000, tract_revision_resolve(hash, t, rev));
	TIME("resolve HEAD^^^", 1000, tract_revision_resolve(hash, t, "HEAD^^^"));
	snprintf(rev, sizeof(rev), "main~%d", n / 2);
	TIME("resolve main~N/2", 20, tract_revision_resolve(hash, t, rev));
	snprintf(rev, sizeof(rev), "main~%d", n - 1);
	TIME("resolve main~(N-1) (the root)", 20, tract_revision_resolve(hash, t, rev));
	TIME("reset HEAD~1 and back (ORIG_HEAD)", 200,
	     tract_reset(hash, t, "HEAD~1", TRACT_RESET_SOFT) ||
	         tract_reset(hash, t, "ORIG_HEAD", TRACT_RESET_SOFT));
	TIME("checkout HEAD~10, checkout -", 200,
	     tract_checkout(hash, t, "HEAD~10") || tract_checkout(hash, t, "-"));
	TIME("branch create + delete", 200,
	     tract_branch_create(hash, t, "tmp", "HEAD~3", 0) ||
	         tract_branch_delete(hash, t, "tmp", 1));
	TIME("tag create + delete", 200,
	     tract_tag_create(hash, t, "tmp", NULL) || tract_tag_delete(hash, t, "tmp"));
	if (nbranches) {
		snprintf(name, sizeof(name), "b%05d", 0);
		TIME("switch to a branch and back", 200,
		     tract_switch(hash, t, name, NULL) || tract_switch(hash, t, "main", NULL));
	}
	/* five lists: median wall and CPU time (the machine may be shared) */
	{
		double wall[5], cpu[5], c0;
		int k, j;

		for (k = 0; k < 5; k++) {
			t0 = now_us();
			c0 = cpu_us();
			if (tract_branch_list_get(&list, t) != 0)
				die("branch list");
			wall[k] = now_us() - t0;
			cpu[k] = cpu_us() - c0;
			if (k < 4)
				tract_branch_list_free(list);
		}
		for (k = 1; k < 5; k++)
			for (j = k; j > 0 && wall[j] < wall[j - 1]; j--) {
				double x = wall[j];
				wall[j] = wall[j - 1];
				wall[j - 1] = x;
			}
		for (k = 1; k < 5; k++)
			for (j = k; j > 0 && cpu[j] < cpu[j - 1]; j--) {
				double x = cpu[j];
				cpu[j] = cpu[j - 1];
				cpu[j - 1] = x;
			}
		printf("  %-40s %10.1f us median of 5, CPU %.1f us (%zu branches)\n",
		       "branch list with ahead/behind", wall[2], cpu[2], list->count);
		/* the same counts one walk per branch (how the list did it
		 * before it shared one graph), once */
		t0 = now_us();
		c0 = cpu_us();
		for (size_t b = 0; b < list->count; b++) {
			size_t ah, be;

			if (tract_ahead_behind(&ah, &be, t, list->items[b].name, "main") != 0)
				die("ahead/behind");
			if ((int64_t)ah != list->items[b].ahead || (int64_t)be != list->items[b].behind)
				die("ahead/behind differs from the list");
		}
		printf("  %-40s %10.1f us, CPU %.1f us\n", "...one ahead/behind walk per branch",
		       now_us() - t0, cpu_us() - c0);
		tract_branch_list_free(list);
	}
	tract_free(t);
	tract_store_free(s);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	char tmpl[] = "/tmp/bench-nav-XXXXXX", uri[600], cmd[700];
	int n = 10000, b = 50, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--commits") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--branches") == 0 && i + 1 < argc)
			b = atoi(argv[++i]);
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(stderr, "usage: bench_nav [--commits N] [--branches B] [--dir DIR]\n");
			return 2;
		}
	}
	if (n < 2 || b < 0 || b > n) {
		fprintf(stderr, "bench_nav: need --commits >= 2 and 0 <= --branches <= commits\n");
		return 2;
	}
	if (!dir && !(dir = mkdtemp(tmpl))) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(uri, sizeof(uri), "sqlite:%s/nav.db", dir);
	run(uri, n, b);
	snprintf(uri, sizeof(uri), "lmdb:%s/nav-lmdb", dir);
	run(uri, n, b);
	if (dir == tmpl) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_nav: could not remove %s\n", dir);
	}
	return 0;
}
