/*
 * bench_generate_mock.c - the overhead of tract_generate() against an HTTP
 * server (issue 12 item 11): the openai plugin, opened by name, talks to
 * the scripted loopback server of the tests (tests/mock_llm.c) on a
 * 10,000-message context. Per call: total wall time, the server's own
 * time (from its first read of the request to its response sent, as the
 * server measures it), and the overhead = total - server: compile, the
 * request build (neutral messages and the OpenAI body), the plugin's HTTP
 * client and reply parse, the commit. Target: overhead <= 20 ms.
 *
 * Figures (median of RUNS calls, ms, and the smallest overhead seen, the
 * least disturbed by other processes on a loaded machine; cpu is the
 * process's CPU time per call, the server's threads included, which the
 * machine's load does not inflate): with the compile cache warm (a
 * program that generates in a loop on one handle) and without it (what
 * `tract generate` does: the CLI opens a fresh handle per invocation, so
 * every call compiles the whole chain), each whole and streamed (SSE).
 * Never asserts a timing. Only 127.0.0.1.
 *
 *   bench_generate_mock [--backend sqlite|lmdb] [--messages N]
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock_llm.h"
#include "tract.h"

#define BENCH_NAME "bench_generate_mock"
#include "bench_util.h"

#define RUNS 15

static double clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char whole[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":"
    "\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Noted: the chain should be replaced.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":120000,\"completion_tokens\":9,\"total_tokens\":120009}}";

#define CHUNK(delta, fr)                                                                           \
	"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\","     \
	"\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" fr "}]}\n\n"
static const char streamed[] = CHUNK("{\"role\":\"assistant\",\"content\":\"Noted: \"}", "null")
    CHUNK("{\"content\":\"the chain \"}", "null") CHUNK("{\"content\":\"should be replaced.\"}",
                                                        "null") CHUNK("{}", "\"stop\"")
	"data: [DONE]\n\n";

static int sink(const tract_chat_delta *d, void *payload)
{
	(void)d, (void)payload;
	return 0;
}

typedef struct {
	double total, server, overhead, min_overhead, cpu;
	size_t body;
} figure;

static figure run(tract_store *s, const char *id, mock_llm *m, size_t cache, int stream)
{
	tract_open_options oo = TRACT_OPEN_OPTIONS_INIT;
	tract_llm_options lo = TRACT_LLM_OPTIONS_INIT;
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_provider_option opts[2] = {{"base_url", mock_url(m)}, {"api_key", "sk-bench"}};
	double total[RUNS], server[RUNS], over[RUNS], cpu[RUNS];
	mock_response r;
	tract_llm *llm = NULL;
	tract *t = NULL;
	figure f;
	int i;

	oo.compile_cache_size = cache;
	CHECK(tract_open(&t, s, id, &oo));
	lo.options = opts;
	lo.n_options = 2;
	lo.max_retries = 0;
	CHECK(tract_llm_open(&llm, "openai", &lo));
	if (cache) {
		tract_context *warm = NULL;
		CHECK(tract_context_compile(&warm, t, NULL));
		tract_context_free(warm);
	}
	if (stream)
		go.on_delta = sink;
	memset(&r, 0, sizeof(r));
	r.body = stream ? streamed : whole;
	if (stream) {
		r.content_type = "text/event-stream";
		r.chunked = 1;
	}
	f.body = 0;
	for (i = 0; i < RUNS; i++) {
		tract_generate_result *gr = NULL;
		double t0, c0;

		mock_script(m, &r, 1);
		c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
		t0 = now_ms();
		CHECK(tract_generate(&gr, t, llm, &go));
		total[i] = now_ms() - t0;
		cpu[i] = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
		server[i] = mock_served_ms(m);
		over[i] = total[i] - server[i];
		if (mock_request_count(m) == 1)
			f.body = mock_request_get(m, 0)->body_len;
		tract_generate_result_free(gr);
	}
	tract_llm_free(llm);
	tract_free(t);
	f.total = median(total, RUNS);
	f.server = median(server, RUNS);
	f.overhead = median(over, RUNS); /* sorts over: its first is the least */
	f.min_overhead = over[0];
	f.cpu = median(cpu, RUNS);
	return f;
}

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

static void print(const char *what, figure f)
{
	printf("  %-34s total %7.2f ms, server %6.2f ms, overhead %7.2f ms (least %6.2f ms; "
	       "target <= 20 ms), cpu %6.2f ms, body %zu bytes\n",
	       what, f.total, f.server, f.overhead, f.min_overhead, f.cpu, f.body);
}

int main(int argc, char **argv)
{
	const char *backend = "sqlite";
	char dir[] = "/tmp/tract-bench-generate-mock-XXXXXX", uri[600],
	     id[TRACT_ID_MAXLEN + 1];
	tract_store *s = NULL;
	tract *t = NULL;
	mock_llm *m;
	int i, n = 10000;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
			backend = argv[++i];
		else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_generate_mock [--backend sqlite|lmdb] "
			                "[--messages N]\n");
			return 2;
		}
	}
	if (n < 2 || (strcmp(backend, "sqlite") != 0 && strcmp(backend, "lmdb") != 0)) {
		fprintf(stderr, "bench_generate_mock: --messages >= 2, --backend sqlite or lmdb\n");
		return 2;
	}
	if (!getenv("TRACT_PLUGIN_PATH"))
		setenv("TRACT_PLUGIN_PATH", BENCH_PLUGIN_PATH, 1);
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
	m = mock_start();
	if (!m) {
		fprintf(stderr, "bench_generate_mock: cannot start the server\n");
		return 1;
	}
	printf("bench_generate_mock: %s, %d messages, openai plugin -> %s, %d calls per figure "
	       "(median)\n",
	       backend, n, mock_url(m), RUNS);
	print("warm cache, whole reply:", run(s, id, m, 8, 0));
	print("warm cache, streamed (SSE):", run(s, id, m, 8, 1));
	print("no cache (as the CLI), whole:", run(s, id, m, 0, 0));
	print("no cache (as the CLI), streamed:", run(s, id, m, 0, 1));
	mock_stop(m);
	tract_store_free(s);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
