/*
 * llm_resolve.c - `--llm` of merge, cherry-pick and rebase: the built-in
 * LLM resolver (include/tract/llm_resolver.h) over the provider chosen as
 * `tract generate` chooses it: --provider, else TRACT_PROVIDER, else the
 * tract's stored setting; --model, else TRACT_MODEL, else the stored
 * setting, else the provider's default. API keys come from -o
 * api_key=... or the provider's environment variables, never the store.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_llm_add_option(struct cli_llm *l, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return -1;
	if (l->n_options == CLI_LLM_MAX_OPTIONS)
		return -2;
	l->option_args[l->n_options++] = arg;
	return 0;
}

int cli_llm_check(const struct cli_llm *l)
{
	if (l->provider && cli_check_text(l->provider, strlen(l->provider), "--provider"))
		return CLI_FAIL;
	if (l->model && cli_check_text(l->model, strlen(l->model), "--model"))
		return CLI_FAIL;
	for (size_t i = 0; i < l->n_options; i++)
		if (cli_check_text(l->option_args[i], strlen(l->option_args[i]), "an --option"))
			return CLI_FAIL;
	return CLI_OK;
}

int cli_llm_open(struct cli_llm *l, tract *t)
{
	tract_llm_options lo = TRACT_LLM_OPTIONS_INIT;
	tract_llm_resolver_options ro = TRACT_LLM_RESOLVER_OPTIONS_INIT;
	const char *provider = l->provider, *model = l->model;
	size_t i;

	for (i = 0; i < l->n_options; i++) {
		const char *arg = l->option_args[i], *eq = strchr(arg, '=');
		char *key = strndup(arg, (size_t)(eq - arg));

		if (!key)
			return cli_fail("out of memory");
		l->options[i].key = key;
		l->options[i].value = eq + 1;
		l->n_keys = i + 1;
	}
	if (!provider)
		provider = getenv("TRACT_PROVIDER");
	if (provider && !*provider)
		provider = NULL;
	if (!provider) {
		if (tract_llm_setting_get(&l->stored_provider, t, "provider") != 0)
			return cli_fail_lib();
		provider = l->stored_provider;
	}
	if (!provider)
		return cli_fail("--llm needs a provider: give --provider NAME (e.g. example), set "
				"TRACT_PROVIDER, or store one with 'generate --provider NAME "
				"--save'");
	if (!model)
		model = getenv("TRACT_MODEL");
	if (model && !*model)
		model = NULL;
	if (!model) {
		if (tract_llm_setting_get(&l->stored_model, t, "model") != 0)
			return cli_fail_lib();
		model = l->stored_model;
	}
	lo.options = l->options;
	lo.n_options = l->n_keys;
	if (tract_llm_open(&l->llm, provider, &lo) != 0)
		return cli_fail_lib();
	ro.model = model;
	ro.tract = t;
	if (tract_llm_resolver_new(&l->resolver, l->llm, &ro) != 0)
		return cli_fail_lib();
	return CLI_OK;
}

void cli_llm_close(struct cli_llm *l)
{
	tract_llm_resolver_free(l->resolver);
	tract_llm_free(l->llm);
	for (size_t i = 0; i < l->n_keys; i++)
		free((char *)l->options[i].key);
	free(l->stored_provider);
	free(l->stored_model);
	l->resolver = NULL;
	l->llm = NULL;
	l->n_keys = 0;
	l->stored_provider = l->stored_model = NULL;
}
