/*
 * bench_bpe.c - figures of the exact BPE counters (o200k_base, cl100k_base):
 * throughput in MB/s (10^6 bytes) and tokens/s, one thread, per category
 * (prose in many scripts, source code, JSON) and overall, on a deterministic
 * 20 MB corpus of texts of about 4 KB; in the same run the same corpus
 * through the real tiktoken (node, WASM; bench_tiktoken.js, timed inside
 * node without its start-up and table load) and the ratio; both sides'
 * token totals must agree. Then single words of 10^4 .. 10^6 characters,
 * which show the merge is not quadratic in the length of a piece.
 *
 *   bench_bpe [throughput|long]     default: both groups
 *
 * The tables come from the build tree (scripts/fetch-encodings.sh) or
 * $TRACT_ENCODINGS_DIR; tiktoken from the tarball fetch-encodings.sh keeps
 * next to them (or $BENCH_TIKTOKEN_TGZ); without node or the tarball the
 * tiktoken column is skipped. BENCH_BPE_MB=N sizes the corpus (default 20).
 * Prints one figure per line with its target; never asserts a timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "tract.h"

#ifndef BENCH_TIKTOKEN_TGZ
#define BENCH_TIKTOKEN_TGZ ""
#endif
#ifndef BENCH_TIKTOKEN_JS
#define BENCH_TIKTOKEN_JS ""
#endif

#define N_ENC 2
#define N_CAT 3
#define TEXT_BYTES 4096
#define PASSES 2

static const char *const encodings[N_ENC] = {"o200k_base", "cl100k_base"};
static const char *const cats[N_CAT] = {"prose", "code", "json"};
/* share of the corpus per category, in percent */
static const unsigned int cat_share[N_CAT] = {35, 35, 30};

typedef struct {
	uint64_t bytes, tokens;
	double secs; /* best pass; < 0 when not measured */
} figure;

/* tract_tokenizer_count's count, or its negative code. */
static int64_t count_text(tract_tokenizer *tok, const char *text, size_t len)
{
	int64_t n = 0;
	int rc = tract_tokenizer_count(&n, tok, text, len);

	return rc < 0 ? rc : n;
}

static void die_msg(const char *what)
{
	fprintf(stderr, "bench_bpe: %s\n", what);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void line(const char *name, const char *value, const char *target)
{
	printf("  %-44s %24s   %s\n", name, value, target ? target : "");
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Run argv with stdout to out (NULL: inherit); 0 when it exits 0. */
static int run(char *const argv[], const char *out)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dup2(fd, 1) < 0)
				_exit(126);
			close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- the corpus ---------------------------------------------------------- */

static void corpus_add(pc_corpus *c, const char *cat, pc_buf *b)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		pc_text *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			die_msg("out of memory");
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].cat = cat;
	c->v[c->n].flags = 0;
	c->v[c->n].bytes = b->p;
	c->v[c->n].len = b->len;
	c->v[c->n].has_unassigned = 0;
	c->n++;
	b->p = NULL;
	b->len = b->cap = 0;
}

static void build_corpus(pc_corpus *c, size_t total)
{
	pc_rng r = {PC_SEED};
	size_t k, done;

	memset(c, 0, sizeof(*c));
	for (k = 0; k < N_CAT; k++) {
		size_t want = total / 100 * cat_share[k];
		for (done = 0; done < want;) {
			pc_buf b = {0};
			if (k == 0)
				pc_gen_prose(&r, &b, TEXT_BYTES);
			else if (k == 1)
				pc_gen_code(&r, &b, TEXT_BYTES);
			else
				pc_gen_json(&r, &b, TEXT_BYTES);
			done += b.len;
			corpus_add(c, cats[k], &b);
		}
	}
}

static int cat_index(const char *name)
{
	int k;

	for (k = 0; k < N_CAT; k++)
		if (strcmp(cats[k], name) == 0)
			return k;
	return -1;
}

/* ---- tract ---------------------------------------------------------------- */

static void measure_tract(tract_tokenizer *tok, const pc_corpus *c, figure fig[N_CAT])
{
	size_t i;
	int k, p;

	/* warm-up: the first texts of every category */
	for (i = 0; i < c->n && i < 200; i++)
		(void)count_text(tok, c->v[i].bytes, c->v[i].len);
	for (k = 0; k < N_CAT; k++) {
		fig[k].bytes = fig[k].tokens = 0;
		fig[k].secs = -1;
		for (p = 0; p < PASSES; p++) {
			uint64_t tokens = 0, bytes = 0;
			double t0 = now_s(), dt;
			for (i = 0; i < c->n; i++) {
				int64_t n;
				if (strcmp(c->v[i].cat, cats[k]) != 0)
					continue;
				if ((n = count_text(tok, c->v[i].bytes, c->v[i].len)) <
				    0)
					die_msg(tract_error_last()->message);
				tokens += (uint64_t)n;
				bytes += c->v[i].len;
			}
			dt = now_s() - t0;
			if (fig[k].secs < 0 || dt < fig[k].secs)
				fig[k].secs = dt;
			fig[k].tokens = tokens;
			fig[k].bytes = bytes;
		}
	}
}

/* ---- tiktoken --------------------------------------------------------------- */

/* Run bench_tiktoken.js over the corpus file; fills tk (secs -1 when not
 * run) and returns 0, or -1 with the reason in why. */
static int measure_tiktoken(const char *dir, const char *corpus, figure tk[N_ENC][N_CAT], char *why,
                            size_t whylen)
{
	const char *tgz = getenv("BENCH_TIKTOKEN_TGZ");
	char pkg[4096], out[4096], passes[8], enc[64], cat[64];
	uint64_t bytes, tokens;
	double secs;
	FILE *f;
	int e, k;

	for (e = 0; e < N_ENC; e++)
		for (k = 0; k < N_CAT; k++)
			tk[e][k].secs = -1;
	if (!tgz || !*tgz)
		tgz = BENCH_TIKTOKEN_TGZ;
	if (access(tgz, R_OK) != 0) {
		snprintf(why, whylen, "no %s (run scripts/fetch-encodings.sh)", tgz);
		return -1;
	}
	{
		char *tar[] = {"tar", "-xzf", (char *)tgz, "-C", (char *)dir, "package", NULL};
		if (run(tar, NULL) < 0) {
			snprintf(why, whylen, "cannot extract %s", tgz);
			return -1;
		}
	}
	snprintf(pkg, sizeof(pkg), "%s/package", dir);
	snprintf(out, sizeof(out), "%s/tiktoken.txt", dir);
	snprintf(passes, sizeof(passes), "%d", PASSES);
	{
		char *node[] = {"node", BENCH_TIKTOKEN_JS, pkg, (char *)corpus, passes, NULL};
		if (run(node, out) < 0) {
			snprintf(why, whylen, "node %s failed (is node installed?)",
			         BENCH_TIKTOKEN_JS);
			return -1;
		}
	}
	if (!(f = fopen(out, "r"))) {
		snprintf(why, whylen, "no output from node");
		return -1;
	}
	while (fscanf(f, "%63s %63s %" SCNu64 " %" SCNu64 " %lf", enc, cat, &bytes, &tokens,
	              &secs) == 5) {
		for (e = 0; e < N_ENC; e++) {
			if (strcmp(enc, encodings[e]) != 0 || (k = cat_index(cat)) < 0)
				continue;
			tk[e][k].bytes = bytes;
			tk[e][k].tokens = tokens;
			tk[e][k].secs = secs;
		}
	}
	fclose(f);
	return 0;
}

/* ---- report ---------------------------------------------------------------- */

static void report(const char *enc, const char *cat, const figure *ours, const figure *tk,
                   int *disagree)
{
	char name[96], value[64], target[96];
	double mbs = (double)ours->bytes / ours->secs / 1e6;

	snprintf(name, sizeof(name), "%s %s: tract", enc, cat);
	snprintf(value, sizeof(value), "%.1f MB/s %5.2f Mtok/s", mbs,
	         (double)ours->tokens / ours->secs / 1e6);
	line(name, value, NULL);
	if (tk->secs <= 0)
		return;
	snprintf(name, sizeof(name), "%s %s: tiktoken (WASM)", enc, cat);
	snprintf(value, sizeof(value), "%.1f MB/s %5.2f Mtok/s", (double)tk->bytes / tk->secs / 1e6,
	         (double)tk->tokens / tk->secs / 1e6);
	line(name, value, NULL);
	snprintf(name, sizeof(name), "%s %s: ratio tract / tiktoken", enc, cat);
	snprintf(value, sizeof(value), "%.2fx", tk->secs / ours->secs);
	snprintf(target, sizeof(target), ">= 2x%s",
	         tk->tokens == ours->tokens && tk->bytes == ours->bytes ? ""
	                                                                : "   TOKEN TOTALS DIFFER");
	line(name, value, target);
	if (tk->tokens != ours->tokens || tk->bytes != ours->bytes) {
		printf("    tract %" PRIu64 " tokens, tiktoken %" PRIu64 "\n", ours->tokens,
		       tk->tokens);
		*disagree = 1;
	}
}

static void throughput(tract_tokenizer *tok[N_ENC])
{
	const char *mb_env = getenv("BENCH_BPE_MB");
	size_t mb = mb_env && atoi(mb_env) > 0 ? (size_t)atoi(mb_env) : 20;
	char dir[] = "/tmp/bench_bpe.XXXXXX", path[4096], why[4200] = "";
	figure ours[N_ENC][N_CAT], tk[N_ENC][N_CAT];
	pc_corpus c;
	int e, k, have_tk, disagree = 0;
	size_t i;

	build_corpus(&c, mb * 1000000);
	if (!mkdtemp(dir))
		die_msg("cannot make a temporary directory");
	snprintf(path, sizeof(path), "%s/corpus.bin", dir);
	if (pc_write(&c, path) < 0)
		die_msg("cannot write the corpus");
	{
		uint64_t per[N_CAT] = {0};
		for (i = 0; i < c.n; i++)
			per[cat_index(c.v[i].cat)] += c.v[i].len;
		printf("corpus: %zu texts of about %d bytes: prose %.1f MB, code %.1f MB, "
		       "json %.1f MB; best of %d passes\n",
		       c.n, TEXT_BYTES, (double)per[0] / 1e6, (double)per[1] / 1e6,
		       (double)per[2] / 1e6, PASSES);
	}
	for (e = 0; e < N_ENC; e++)
		measure_tract(tok[e], &c, ours[e]);
	have_tk = measure_tiktoken(dir, path, tk, why, sizeof(why)) == 0;
	if (!have_tk)
		printf("tiktoken: skipped: %s\n", why);

	for (e = 0; e < N_ENC; e++) {
		figure all = {0, 0, 0}, tall = {0, 0, 0};
		for (k = 0; k < N_CAT; k++) {
			report(encodings[e], cats[k], &ours[e][k], &tk[e][k], &disagree);
			all.bytes += ours[e][k].bytes;
			all.tokens += ours[e][k].tokens;
			all.secs += ours[e][k].secs;
			tall.bytes += tk[e][k].bytes;
			tall.tokens += tk[e][k].tokens;
			tall.secs += tk[e][k].secs;
		}
		if (!have_tk || tk[e][0].secs <= 0)
			tall.secs = -1;
		report(encodings[e], "all", &all, &tall, &disagree);
	}
	if (disagree)
		printf("bench_bpe: WARNING: token totals differ from tiktoken (run the "
		       "bpe-parity test)\n");
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	pc_free(&c);
}

/* ---- long words ------------------------------------------------------------ */

static void long_words(tract_tokenizer *tok[N_ENC])
{
	static const size_t sizes[] = {10000, 100000, 1000000};
	pc_rng r = {PC_SEED};
	size_t s, i;
	int e, kind, rep;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		char *w = malloc(n);
		if (!w)
			die_msg("out of memory");
		for (kind = 0; kind < 2; kind++) {
			for (i = 0; i < n; i++)
				w[i] = kind == 0 ? 'a' : (char)('a' + pc_below(&r, 26));
			for (e = 0; e < N_ENC; e++) {
				char name[96], value[64];
				double best = -1;
				int64_t count = 0;
				for (rep = 0; rep < 3; rep++) {
					double t0 = now_s(), dt;
					if ((count = count_text(tok[e], w, n)) < 0)
						die_msg(tract_error_last()->message);
					dt = now_s() - t0;
					if (best < 0 || dt < best)
						best = dt;
				}
				snprintf(name, sizeof(name), "%s %s x %zu", encodings[e],
				         kind == 0 ? "'a'" : "random letter", n);
				snprintf(value, sizeof(value), "%.2f ms (%" PRId64 " tokens)",
				         best * 1e3, count);
				line(name, value, n == 100000 ? "<= 50 ms" : NULL);
			}
		}
		free(w);
	}
}

int main(int argc, char **argv)
{
	tract_tokenizer *tok[N_ENC];
	const char *group = argc > 1 ? argv[1] : "all";
	int e;

	if (strcmp(group, "all") != 0 && strcmp(group, "throughput") != 0 &&
	    strcmp(group, "long") != 0) {
		fprintf(stderr, "usage: bench_bpe [throughput|long]\n");
		return 2;
	}
	for (e = 0; e < N_ENC; e++) {
		if (tract_tokenizer_bpe(&tok[e], encodings[e]) < 0) {
			fprintf(stderr, "bench_bpe: %s\n", tract_error_last()->message);
			return 1;
		}
	}
	if (strcmp(group, "long") != 0) {
		printf("throughput, one thread:\n");
		throughput(tok);
	}
	if (strcmp(group, "throughput") != 0) {
		printf("single words (min of 3):\n");
		long_words(tok);
	}
	return 0;
}
