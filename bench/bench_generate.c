/*
 * bench_generate.c - the overhead of tract_generate() beyond the model's
 * own time: compile HEAD, build the request (neutral messages, and the
 * OpenAI body a wire-format provider gets), copy the reply out and commit
 * it, on a 10,000-message context, with an in-process provider that
 * answers at once. Target: <= 20 ms per call.
 *
 * Figures (median of RUNS calls, milliseconds): warm (the compile cache
 * holds HEAD's context, as in a program that generates in a loop) and cold
 * (no cache: every call compiles the whole chain, as `tract generate`
 * does in its own process), each with a neutral provider and an "openai"
 * wire-format one; then the parts of a cold call. Never asserts a timing.
 *
 *   bench_generate [--backend sqlite|lmdb] [--messages N]
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat.h"
#include "internal.h"
#include "llm.h"
#include "tract.h"

#define BENCH_NAME "bench_generate"
#include "bench_util.h"

#define RUNS 15

/* ---- a provider that answers at once -------------------------------------------- */

struct tract_provider_client {
	int unused;
};

static size_t body_bytes;

static int quick_create(tract_provider_client **out, const tract_provider_option *o, size_t n,
                        tract_provider_error *err)
{
	(void)o, (void)n, (void)err;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : TRACT_ENOMEM;
}

static void quick_free(tract_provider_client *c)
{
	free(c);
}

static int quick_chat(tract_provider_client *c, const tract_chat_request *req,
                      tract_chat_reply *reply, tract_provider_error *err)
{
	(void)c, (void)err;
	body_bytes = req->body_json ? strlen(req->body_json) : 0;
	reply->text = "Noted: the chain should be replaced.";
	reply->finish_reason = "stop";
	reply->model = "quick-1";
	reply->usage.prompt_tokens = 120000;
	reply->usage.completion_tokens = 9;
	reply->usage.total_tokens = 120009;
	reply->raw_json = "{\"choices\":[{\"message\":{\"content\":\"Noted.\"}}]}";
	return 0;
}

static void quick_clear(tract_provider_client *c, tract_chat_reply *reply)
{
	(void)c;
	memset(reply, 0, sizeof(*reply));
}

static const tract_provider neutral = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "quick",
    .client_create = quick_create,
    .client_free = quick_free,
    .chat = quick_chat,
    .reply_clear = quick_clear,
};

static const tract_provider openai_like = {
    .version = TRACT_PROVIDER_VERSION,
    .name = "quick-openai",
    .wire_format = "openai",
    .client_create = quick_create,
    .client_free = quick_free,
    .chat = quick_chat,
    .reply_clear = quick_clear,
};

/* ---- the store ---------------------------------------------------------------------- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void fill(tract *t, int n)
{
	char text[256];
	int i;

	CHECK(tract_batch_begin(t));
	CHECK(tract_commit_create_instruction(NULL, t, "You help customers of a bicycle shop.",
	                                      NULL));
	for (i = 1; i < n; i++) {
		snprintf(text, sizeof(text),
		         "Message %d: the chain skips under load, so we measured it at %d km and "
		         "looked at the cassette teeth.",
		         i, 1000 + i);
		CHECK(tract_commit_create_dialogue(NULL, t, i % 2 ? "user" : "assistant", text,
		                                   NULL, NULL));
	}
	CHECK(tract_batch_commit(t));
}

/* Median ms of RUNS generates; cache: the tract's compile cache size. */
static double run_generate(tract_store *s, const char *id, const tract_provider *p, size_t cache)
{
	tract_open_options oo = TRACT_OPEN_OPTIONS_INIT;
	double ms[RUNS];
	tract_llm *llm = NULL;
	tract *t = NULL;
	int i;

	oo.compile_cache_size = cache;
	CHECK(tract_open(&t, s, id, &oo));
	CHECK(tract_llm_open_provider(&llm, p, NULL));
	if (cache) {
		tract_context *warm = NULL;
		CHECK(tract_context_compile(&warm, t, NULL));
		tract_context_free(warm);
	}
	for (i = 0; i < RUNS; i++) {
		tract_generate_result *gr = NULL;
		double t0 = now_ms();
		CHECK(tract_generate(&gr, t, llm, NULL));
		ms[i] = now_ms() - t0;
		tract_generate_result_free(gr);
	}
	tract_llm_free(llm);
	tract_free(t);
	return median(ms, RUNS);
}

/* The parts of a cold call, each alone (median ms). */
static void parts(tract_store *s, const char *id)
{
	tract_open_options oo = TRACT_OPEN_OPTIONS_INIT;
	double compile[RUNS], build[RUNS], body[RUNS], commit[RUNS];
	tract *t = NULL;
	int i;

	oo.compile_cache_size = 0;
	CHECK(tract_open(&t, s, id, &oo));
	for (i = 0; i < RUNS; i++) {
		tract_context *ctx = NULL;
		tract_chat_messages *m = NULL;
		char *b = NULL;
		double t0 = now_ms(), t1, t2, t3;
		CHECK(tract_context_compile(&ctx, t, NULL));
		t1 = now_ms();
		CHECK(tract_chat_messages_build(&m, ctx, 0));
		t2 = now_ms();
		CHECK(tract_chat_body_render(&b, ctx, "openai", 0));
		t3 = now_ms();
		CHECK(tract_commit_create_dialogue(NULL, t, "assistant", "Noted.", NULL, NULL));
		commit[i] = now_ms() - t3;
		compile[i] = t1 - t0;
		build[i] = t2 - t1;
		body[i] = t3 - t2;
		free(b);
		tract_chat_messages_free(m);
		tract_context_free(ctx);
	}
	tract_free(t);
	printf("  parts of a cold call: compile %.2f ms, neutral messages %.2f ms, openai body "
	       "%.2f ms (%zu bytes), commit %.2f ms\n",
	       median(compile, RUNS), median(build, RUNS), median(body, RUNS), body_bytes,
	       median(commit, RUNS));
}

int main(int argc, char **argv)
{
	const char *backend = "sqlite";
	char dir[] = "/tmp/tract-bench-generate-XXXXXX", uri[600], id[TRACT_ID_MAXLEN + 1];
	tract_store *s = NULL;
	tract *t = NULL;
	int i, n = 10000;
	double warm_n, warm_o, cold_n, cold_o;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
			backend = argv[++i];
		else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_generate [--backend sqlite|lmdb] "
			                "[--messages N]\n");
			return 2;
		}
	}
	if (n < 2 || (strcmp(backend, "sqlite") != 0 && strcmp(backend, "lmdb") != 0)) {
		fprintf(stderr, "bench_generate: --messages >= 2, --backend sqlite or lmdb\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (strcmp(backend, "lmdb") == 0)
		snprintf(uri, sizeof(uri), "lmdb:%s/store", dir);
	else
		snprintf(uri, sizeof(uri), "sqlite:%s/t.db", dir);
	CHECK(tract_store_open(&s, uri, TRACT_STORE_CREATE));
	CHECK(tract_create(&t, s, NULL, NULL, NULL));
	snprintf(id, sizeof(id), "%s", tract_id(t));
	fill(t, n);
	tract_free(t);

	printf("bench_generate: %s, %d messages, %d calls per figure (median), provider answers "
	       "at once\n",
	       backend, n, RUNS);
	warm_n = run_generate(s, id, &neutral, 8);
	warm_o = run_generate(s, id, &openai_like, 8);
	cold_n = run_generate(s, id, &neutral, 0);
	cold_o = run_generate(s, id, &openai_like, 0);
	printf("  generate, warm cache, neutral provider:        %7.2f ms  (target <= 20 ms)\n",
	       warm_n);
	printf("  generate, warm cache, openai-format provider:  %7.2f ms  (target <= 20 ms)\n",
	       warm_o);
	printf("  generate, no cache (as the CLI), neutral:      %7.2f ms  (target <= 20 ms)\n",
	       cold_n);
	printf("  generate, no cache (as the CLI), openai body:  %7.2f ms  (target <= 20 ms)\n",
	       cold_o);
	parts(s, id);
	tract_store_free(s);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
