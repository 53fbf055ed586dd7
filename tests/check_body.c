/*
 * check_body.c - request bodies checked against the providers' published
 * request schemas and the pairing rules (schema_check.h), for the shell
 * tests: check_body openai|anthropic FILE... exits 0 when every FILE is
 * valid, 1 with one line naming the first that is not and why. The
 * members the plugin adds (model, max_tokens, tools, tool_choice, stream,
 * stream_options, temperature) are checked here, then taken out: the
 * schemas hold what the core renders (tests/schemas/README.md).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("check_body: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define fail_msg die
#include "schema_check.h"

/* The plugin's members right, then removed; the rest printed. */
static char *plugin_members(const char *file, const char *body, int anthropic)
{
	static const char *const added[] = {"model",  "max_tokens",     "tools",      "tool_choice",
	                                    "stream", "stream_options", "temperature"};
	cJSON *d = cJSON_Parse(body), *t;
	const cJSON *model, *mt, *tools, *st;
	char *rest;
	size_t i;

	if (!cJSON_IsObject(d))
		die("%s: not a JSON object", file);
	model = cJSON_GetObjectItemCaseSensitive(d, "model");
	if (!cJSON_IsString(model) || !model->valuestring[0])
		die("%s: no model", file);
	mt = cJSON_GetObjectItemCaseSensitive(d, "max_tokens");
	if (anthropic && !(cJSON_IsNumber(mt) && mt->valuedouble >= 1 &&
	                   mt->valuedouble == (double)(int64_t)mt->valuedouble))
		die("%s: max_tokens is required, an integer >= 1", file);
	tools = cJSON_GetObjectItemCaseSensitive(d, "tools");
	if (tools && !cJSON_IsArray(tools))
		die("%s: tools is not an array", file);
	cJSON_ArrayForEach(t, tools)
	{
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
		const cJSON *is = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
		if (anthropic ? !(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "name")) &&
		                  cJSON_IsObject(is) && !fn)
		              : !(cJSON_IsObject(fn) &&
		                  cJSON_IsString(cJSON_GetObjectItemCaseSensitive(fn, "name"))))
			die("%s: a tool not in the %s form", file, anthropic ? "anthropic" : "openai");
	}
	st = cJSON_GetObjectItemCaseSensitive(d, "stream");
	if (st && !cJSON_IsBool(st))
		die("%s: stream is not a boolean", file);
	for (i = 0; i < sizeof(added) / sizeof(added[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(d, added[i]);
	rest = cJSON_PrintUnformatted(d);
	cJSON_Delete(d);
	if (!rest)
		die("out of memory");
	return rest;
}

int main(int argc, char **argv)
{
	const char *schema;
	int (*rules)(const char *, char *, size_t);
	char why[1024];
	int i;

	if (argc < 3 || (strcmp(argv[1], "openai") && strcmp(argv[1], "anthropic")))
		die("usage: check_body openai|anthropic FILE...");
	if (strcmp(argv[1], "openai") == 0) {
		schema = "openai-chat.schema.json";
		rules = openai_rules;
	} else {
		schema = "anthropic-messages.schema.json";
		rules = anthropic_rules;
	}
	for (i = 2; i < argc; i++) {
		char *text = tu_read_file(argv[i], NULL), *body;
		if (!text)
			die("%s: cannot read", argv[i]);
		body = plugin_members(argv[i], text, rules == anthropic_rules);
		free(text);
		why[0] = '\0';
		if (!schema_valid(schema, body, why, sizeof(why)))
			die("%s: not valid against %s: %s", argv[i], schema, why);
		if (!rules(body, why, sizeof(why)))
			die("%s: %s", argv[i], why);
		free(body);
	}
	return 0;
}
