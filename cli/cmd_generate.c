/*
 * cmd_generate.c - `tract generate`: compile HEAD, call the configured
 * provider (or the first of a fallback list that answers), commit the
 * reply (text or tool calls) with its generation config and usage, print
 * it. A thin user of tract_llm_open() and tract_generate() (llm.h).
 *
 * Provider: --provider, else TRACT_PROVIDER, else the tract's stored
 * setting (tract_llm_setting_get). Model: --model, else TRACT_MODEL, else
 * the stored setting, else the provider's default. API keys come from -o
 * api_key=... or the environment the provider reads, never from the store.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

#define MAX_OPTIONS 32

typedef struct {
	int failed; /* stdout could not be written: the stream is stopped */
	int any;    /* some text was printed */
} stream_out;

static int print_delta(const tract_chat_delta *d, void *payload)
{
	stream_out *s = payload;

	if (d->text && *d->text) {
		fputs(cli_safe_ml(d->text), stdout);
		cli_safe_release();
		s->any = 1;
		if (fflush(stdout) != 0 || ferror(stdout)) {
			s->failed = 1;
			return 1;
		}
	}
	return 0;
}

static int parse_double(double *out, const char *text, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (!text[0] || *end || errno || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The reply as `generate --json` prints it. */
static int print_json(const tract_generate_result *gr)
{
	const tract_chat_result *r = tract_generate_result_reply(gr);
	const tract_chat_usage *u = tract_chat_result_usage(r);
	cJSON *o = cJSON_CreateObject(), *arr, *calls, *usage;
	size_t i;

	if (!o)
		return cli_fail("out of memory");
	arr = cJSON_AddArrayToObject(o, "commits");
	for (i = 0; arr && i < tract_generate_result_commit_count(gr); i++)
		cJSON_AddItemToArray(arr,
		                     cJSON_CreateString(tract_generate_result_commit_hash(gr, i)));
	cJSON_AddStringToObject(o, "provider", tract_chat_result_provider(r));
	if (tract_chat_result_model(r))
		cJSON_AddStringToObject(o, "model", tract_chat_result_model(r));
	else
		cJSON_AddNullToObject(o, "model");
	if (tract_chat_result_text(r))
		cJSON_AddStringToObject(o, "text", tract_chat_result_text(r));
	else
		cJSON_AddNullToObject(o, "text");
	calls = cJSON_AddArrayToObject(o, "tool_calls");
	for (i = 0; calls && i < tract_chat_result_tool_call_count(r); i++) {
		const tract_tool_call *c = tract_chat_result_tool_call(r, i);
		cJSON *item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "id", c->id);
		cJSON_AddStringToObject(item, "name", c->name);
		cJSON_AddStringToObject(item, "arguments", c->arguments_json);
		cJSON_AddItemToArray(calls, item);
	}
	if (tract_chat_result_finish_reason(r))
		cJSON_AddStringToObject(o, "finish_reason", tract_chat_result_finish_reason(r));
	else
		cJSON_AddNullToObject(o, "finish_reason");
	usage = cJSON_AddObjectToObject(o, "usage");
	if (usage) {
		if (u->prompt_tokens >= 0)
			cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u->prompt_tokens);
		if (u->completion_tokens >= 0)
			cJSON_AddNumberToObject(usage, "completion_tokens",
			                        (double)u->completion_tokens);
		if (u->total_tokens >= 0)
			cJSON_AddNumberToObject(usage, "total_tokens", (double)u->total_tokens);
	}
	cJSON_AddNumberToObject(o, "attempts", tract_chat_result_attempts(r));
	return cli_print_cjson(o);
}

static void print_human(const tract_generate_result *gr, int streamed, int stream_any)
{
	const tract_chat_result *r = tract_generate_result_reply(gr);
	const char *text = tract_chat_result_text(r);
	size_t i;

	if (streamed) {
		if (stream_any)
			fputc('\n', stdout);
	} else if (text && (*text || !tract_chat_result_tool_call_count(r))) {
		fputs(cli_safe_ml(text), stdout);
		fputc('\n', stdout);
	}
	for (i = 0; i < tract_chat_result_tool_call_count(r); i++) {
		const tract_tool_call *c = tract_chat_result_tool_call(r, i);
		printf("Tool call: %s (id %s) %s\n", cli_safe(c->name), cli_safe(c->id),
		       cli_safe(c->arguments_json));
	}
}

int cmd_generate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"provider", required_argument, NULL, 'P'},
	    {"model", required_argument, NULL, 'M'},
	    {"stream", no_argument, NULL, 's'},
	    {"tools", required_argument, NULL, 'T'},
	    {"tool-choice", required_argument, NULL, 'C'},
	    {"temperature", required_argument, NULL, 't'},
	    {"max-tokens", required_argument, NULL, 'x'},
	    {"option", required_argument, NULL, 'o'},
	    {"retries", required_argument, NULL, 'r'},
	    {"timeout", required_argument, NULL, 'w'},
	    {"message", required_argument, NULL, 'm'},
	    {"reasoning", no_argument, NULL, 'R'},
	    {"save", no_argument, NULL, 'S'},
	    {"json", no_argument, NULL, 'J'},
	    {"max-size", required_argument, NULL, 'z'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	tract_provider_option options[MAX_OPTIONS];
	char *option_keys[MAX_OPTIONS];
	size_t n_options = 0, i;
	const char *provider = NULL, *model = NULL, *tools_file = NULL, *tool_choice = NULL;
	const char *message = NULL;
	char *tools = NULL, *stored_provider = NULL, *stored_model = NULL;
	tract_llm_options lo = TRACT_LLM_OPTIONS_INIT;
	tract_generate_options go = TRACT_GENERATE_OPTIONS_INIT;
	tract_generate_result *gr = NULL;
	tract_llm *llm = NULL;
	tract_store *store = NULL;
	tract *t = NULL;
	stream_out so = {0, 0};
	size_t max_size = 0;
	int c, rc = CLI_OK, stream = 0, json = 0;

	cli_getopt_reset(cli, argv);
	while ((c = getopt_long(argc, argv, ":o:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			provider = optarg;
			break;
		case 'M':
			model = optarg;
			break;
		case 's':
			stream = 1;
			break;
		case 'T':
			tools_file = optarg;
			break;
		case 'C':
			tool_choice = optarg;
			break;
		case 't':
			if (parse_double(&go.temperature, optarg, 0, 100) != 0)
				return cli_usage(cli,
				                 "invalid --temperature '%s' (a number from 0 "
				                 "to 100)",
				                 optarg);
			go.has_temperature = 1;
			break;
		case 'x':
			if (cli_parse_int(&go.max_tokens, optarg, 1) != 0)
				return cli_usage(cli, "invalid --max-tokens '%s' (an integer >= 1)",
				                 optarg);
			break;
		case 'o': {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				return cli_usage(cli, "invalid --option (KEY=VALUE expected)");
			if (n_options == MAX_OPTIONS)
				return cli_usage(cli, "at most %d --option", MAX_OPTIONS);
			/* Keep the key apart; the value is never printed. */
			option_keys[n_options] = optarg;
			options[n_options].key = NULL;
			options[n_options].value = eq + 1;
			n_options++;
			break;
		}
		case 'r': {
			int64_t v;
			if (cli_parse_int(&v, optarg, 0) != 0 || v > 100)
				return cli_usage(cli, "invalid --retries '%s' (0 to 100)", optarg);
			lo.max_retries = (int)v;
			break;
		}
		case 'w':
			if (parse_double(&lo.timeout_seconds, optarg, 0.001, 86400) != 0)
				return cli_usage(cli, "invalid --timeout '%s' (seconds, > 0)",
				                 optarg);
			break;
		case 'm':
			message = optarg;
			break;
		case 'R':
			go.include_reasoning = 1;
			break;
		case 'S':
			go.save_defaults = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'z':
			if (cli_parse_size(&max_size, optarg) != 0)
				return cli_usage(cli,
				                 "invalid --max-size '%s' (bytes >= 1, with "
				                 "an optional K, M or G suffix)",
				                 optarg);
			break;
		case 'h':
			return cli_help(cli);
		default:
			return cli_getopt_error(cli, c, argv);
		}
	}
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);
	if (provider && cli_check_text(provider, strlen(provider), "--provider"))
		return CLI_FAIL;
	if (model && cli_check_text(model, strlen(model), "--model"))
		return CLI_FAIL;
	if (message && cli_check_text(message, strlen(message), "the message"))
		return CLI_FAIL;
	if (tool_choice && cli_check_text(tool_choice, strlen(tool_choice), "--tool-choice"))
		return CLI_FAIL;
	if (stream && json)
		return cli_usage(cli, "--stream and --json are exclusive");
	if (go.save_defaults && !provider && !model)
		return cli_usage(cli, "--save needs --provider or --model");
	if (cli_input_limit_set(max_size))
		return CLI_FAIL;
	for (i = 0; i < n_options; i++) {
		size_t klen = (size_t)(options[i].value - 1 - option_keys[i]);
		char *key = strndup(option_keys[i], klen);
		if (!key) {
			rc = cli_fail("out of memory");
			n_options = i;
			goto done;
		}
		options[i].key = key;
		if (cli_check_text(key, klen, "an --option key") ||
		    cli_check_text(options[i].value, strlen(options[i].value),
		                   "an --option value")) {
			n_options = i + 1;
			rc = CLI_FAIL;
			goto done;
		}
	}
	if (tools_file) {
		size_t len;
		rc = cli_read_file(&tools, &len, tools_file);
		if (rc == 0 && memchr(tools, '\0', len))
			rc = cli_fail("%s contains a NUL byte", tools_file);
		if (rc == 0 && cli_check_text(tools, len, tools_file))
			rc = CLI_FAIL;
		if (rc)
			goto done;
	}

	if (cli_open_tract(cli, &store, &t)) {
		rc = CLI_FAIL;
		goto done;
	}
	if (!provider)
		provider = getenv("TRACT_PROVIDER");
	if (provider && !*provider)
		provider = NULL;
	if (!provider) {
		if (tract_llm_setting_get(&stored_provider, t, "provider") != 0) {
			rc = cli_fail_lib();
			goto done;
		}
		provider = stored_provider;
	}
	if (!provider) {
		rc = cli_fail(
		    "no provider: give --provider NAME (e.g. example), set TRACT_PROVIDER, "
		    "or store one with 'generate --provider NAME --save'");
		goto done;
	}
	if (!model)
		model = getenv("TRACT_MODEL");
	if (model && !*model)
		model = NULL;
	if (!model) {
		if (tract_llm_setting_get(&stored_model, t, "model") != 0) {
			rc = cli_fail_lib();
			goto done;
		}
		model = stored_model;
	}
	lo.options = options;
	lo.n_options = n_options;
	if (tract_llm_open(&llm, provider, &lo) != 0) {
		rc = cli_fail_lib();
		goto done;
	}
	go.model = model;
	go.tools_json = tools;
	go.tool_choice = tool_choice;
	go.message = message;
	if (stream) {
		go.on_delta = print_delta;
		go.delta_payload = &so;
	}
	if (tract_generate(&gr, t, llm, &go) != 0) {
		if (so.any)
			fputc('\n', stdout);
		rc = so.failed ? cli_fail("cannot write to standard output: the stream was stopped "
		                          "and nothing was committed")
		               : cli_fail_lib();
		goto done;
	}
	cli->stored = 1;
	if (json)
		rc = print_json(gr);
	else
		print_human(gr, stream, so.any);
done:
	tract_generate_result_free(gr);
	tract_llm_free(llm);
	for (i = 0; i < n_options; i++)
		free((char *)options[i].key);
	free(tools);
	free(stored_provider);
	free(stored_model);
	if (store)
		cli_close(store, t);
	return rc;
}
