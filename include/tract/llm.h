/*
 * llm.h - calling language models: providers opened by name (plugins) or
 * handed in as an in-process table, the core's retry policy and fallback
 * list, one chat call (streamed or not), and tract_generate(), which
 * compiles a tract, asks the model and commits its reply.
 *
 * A provider is described by the table of tract/sys/provider.h; the same
 * table serves a plugin (tract-provider-NAME.so) and an in-process
 * provider (a program's own functions, no plugin needed).
 *
 * Retry policy (the same for every provider, DESIGN.md §4): an attempt
 * that fails with a rate limit (429), a server error (5xx), a timeout or a
 * transport failure (connection refused, reset...) is retried after a
 * wait; authentication errors (401/403), other 4xx, bad options and
 * unparsable replies are not. The wait before retry n (n = the attempt
 * that just failed, from 1) is d = min(backoff_max, backoff_base *
 * 2^(n-1)) plus a random jitter in [0, d/2); when the server said how
 * long to wait (Retry-After) that wait is used instead, capped at 60 s.
 * max_retries counts retries AFTER the first attempt: 0 means one
 * attempt, 2 (the default) at most three. When a provider has failed
 * after its retries, the next name of the fallback list is tried; the
 * result says which provider answered. Each attempt is logged at debug
 * level (tract_debug_hook_set(); TRACT_DEBUG=1 prints them on stderr)
 * without secrets.
 *
 * Errors (after every retry and fallback, the last provider's):
 * TRACT_EAUTH (401/403), TRACT_ERATELIMIT (429), TRACT_ETIMEOUT,
 * TRACT_EPROVIDER (5xx, transport, bad reply, other 4xx), TRACT_EINVAL
 * (bad options, a bad request), TRACT_EABORTED (the delta callback stopped
 * a streamed call), TRACT_EPLUGIN (a provider plugin that cannot be
 * loaded). Messages never hold an API key: values of options named like a
 * secret and of the *_API_KEY environment variables are masked.
 */
#ifndef TRACT_LLM_H
#define TRACT_LLM_H

#include "common.h"
#include "store.h"
#include "sys/provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A set of providers (one, or a fallback list) with the retry policy. */
typedef struct tract_llm tract_llm;

/** Options of tract_llm_open(): TRACT_LLM_OPTIONS_INIT or
 *  tract_llm_options_init(). */
typedef struct {
	unsigned int version;
	/**
	 * Client options handed to each provider's client_create(). A key
	 * "NAME.KEY" goes to the provider NAME only (as KEY); a plain key to
	 * every provider of the list. NULL/0 = none.
	 */
	const tract_provider_option *options;
	size_t n_options;
	/** Retries after the first attempt, per provider (0 = one attempt);
	 *  -1 = the default, 2. */
	int max_retries;
	/** Seconds allowed for each attempt (the request's timeout_seconds
	 *  when it sets none); 0 = the provider's own default. */
	double timeout_seconds;
	/** Base of the exponential backoff in seconds; 0 = 1.0. */
	double backoff_base;
	/** Longest backoff wait in seconds (Retry-After has its own cap of
	 *  60 s); 0 = 30. */
	double backoff_max;
} tract_llm_options;

#define TRACT_LLM_OPTIONS_VERSION 1
#define TRACT_LLM_OPTIONS_INIT {TRACT_LLM_OPTIONS_VERSION, NULL, 0, -1, 0, 0, 0}

/** Initialize opts as TRACT_LLM_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_llm_options_init(tract_llm_options *opts, unsigned int version);

/** The longest wait honoured from a server's Retry-After, in seconds. */
#define TRACT_LLM_RETRY_AFTER_MAX 60.0

/**
 * Open the providers named in names: one name ("openai") or a fallback
 * list, comma separated ("openai,anthropic,example"), at most 8, each a
 * bare word (letters, digits, '_' and '-'). Each is the plugin
 * tract-provider-NAME.so found on the plugin search path (plugin.h); its
 * client is created with opts' options. Errors: TRACT_EPLUGIN (missing
 * plugin, no entry symbol, unknown ABI version, missing member; the
 * message names the paths tried), TRACT_EINVAL (a bad name or option).
 * opts may be NULL. Release with tract_llm_free().
 */
TRACT_EXTERN(int) tract_llm_open(tract_llm **out, const char *names, const tract_llm_options *opts);

/**
 * The same with an in-process provider: table is the program's own
 * tract_provider (tract/sys/provider.h), checked like a plugin's and
 * borrowed: it must outlive the handle.
 */
TRACT_EXTERN(int) tract_llm_open_provider(tract_llm **out, const tract_provider *table,
					  const tract_llm_options *opts);

/**
 * Append a provider table to the fallback list of llm (tried after those
 * already there); its client is created with llm's options. The table is
 * borrowed.
 */
TRACT_EXTERN(int) tract_llm_add_provider(tract_llm *llm, const tract_provider *table);

TRACT_EXTERN(void) tract_llm_free(tract_llm *llm);

/** The number of providers of the list, and the name of the i-th. */
TRACT_EXTERN(size_t) tract_llm_provider_count(const tract_llm *llm);
TRACT_EXTERN(const char *) tract_llm_provider_name(const tract_llm *llm, size_t i);
/** The model the i-th provider uses when a request names none: the
 *  "model" option when given, else its default_model (may be NULL). */
TRACT_EXTERN(const char *) tract_llm_provider_model(const tract_llm *llm, size_t i);

/** A reply, copied out of the provider's (immutable). */
typedef struct tract_chat_result tract_chat_result;

/**
 * One chat call with the retry policy and the fallback list. req is
 * passed to each provider as given (timeout_seconds filled in from the
 * options when 0); body_json, when set, is handed to every provider of
 * the list, whatever its wire format. Release *out with
 * tract_chat_result_free().
 */
TRACT_EXTERN(int) tract_llm_chat(tract_chat_result **out, tract_llm *llm,
				 const tract_chat_request *req);

/**
 * The same, streamed: cb receives the pieces of the reply as they arrive
 * (a provider without chat_stream gives one delta with the whole text and
 * one per tool call). A failure before the first piece is retried and
 * falls back like tract_llm_chat(); once a piece was handed to cb the
 * call is not repeated (the caller has seen part of a reply) and fails.
 * cb returning non-zero stops the call: TRACT_EABORTED.
 */
TRACT_EXTERN(int) tract_llm_chat_stream(tract_chat_result **out, tract_llm *llm,
					const tract_chat_request *req, tract_chat_delta_cb cb,
					void *payload);

TRACT_EXTERN(void) tract_chat_result_free(tract_chat_result *result);

/** The reply's text, or NULL when it holds only tool calls. */
TRACT_EXTERN(const char *) tract_chat_result_text(const tract_chat_result *r);
TRACT_EXTERN(size_t) tract_chat_result_tool_call_count(const tract_chat_result *r);
/** The i-th tool call (id, name, arguments as JSON text), or NULL. */
TRACT_EXTERN(const tract_tool_call *) tract_chat_result_tool_call(const tract_chat_result *r,
								  size_t i);
/** "stop", "length", "tool_calls", "content_filter", or NULL. */
TRACT_EXTERN(const char *) tract_chat_result_finish_reason(const tract_chat_result *r);
/** Token usage; members are -1 where the server did not say. */
TRACT_EXTERN(const tract_chat_usage *) tract_chat_result_usage(const tract_chat_result *r);
/** The model that answered (the server's word, else the one asked for). */
TRACT_EXTERN(const char *) tract_chat_result_model(const tract_chat_result *r);
/** The name of the provider that answered. */
TRACT_EXTERN(const char *) tract_chat_result_provider(const tract_chat_result *r);
/** The raw response body, or NULL. */
TRACT_EXTERN(const char *) tract_chat_result_raw_json(const tract_chat_result *r);
/** How many attempts the call took, over every provider tried. */
TRACT_EXTERN(unsigned int) tract_chat_result_attempts(const tract_chat_result *r);

/* ---- per-tract defaults (store metadata) --------------------------------- */

/**
 * Store a tract's default LLM setting: name "provider" (a provider name
 * or fallback list, metadata key tract:<id>:provider) or "model"
 * (tract:<id>:model); value NULL removes it. Anything else is refused
 * (TRACT_EINVAL), a name like a secret ("api_key", "token"...) with a
 * message saying keys are never stored: keys come from options or the
 * environment only.
 */
TRACT_EXTERN(int) tract_llm_setting_set(tract *t, const char *name, const char *value);
/** Read a setting of tract_llm_setting_set(): *out NULL when unset;
 *  release with tract_string_free(). */
TRACT_EXTERN(int) tract_llm_setting_get(char **out, tract *t, const char *name);

/* ---- generate ------------------------------------------------------------ */

/** Options of tract_generate(): TRACT_GENERATE_OPTIONS_INIT or
 *  tract_generate_options_init(). */
typedef struct {
	unsigned int version;
	const char *model;        /**< NULL = the provider's model */
	int has_temperature;      /**< 0 = the server's default */
	double temperature;
	int64_t max_tokens;       /**< 0 = the provider's default */
	/** Tools offered: a JSON array in OpenAI's function format, NULL = none. */
	const char *tools_json;
	const char *tool_choice;  /**< NULL = default */
	const char *extra_json;   /**< extra request members (a JSON object), NULL = none */
	/** Stream the reply to on_delta as it arrives (NULL = no streaming). */
	tract_chat_delta_cb on_delta;
	void *delta_payload;
	/** Send the reasoning commits too (left out by default). */
	int include_reasoning;
	/** Commit message of the reply commits, NULL = none. */
	const char *message;
	/** Also store the provider names and model of this call as the
	 *  tract's defaults (tract_llm_setting_set), in the reply's
	 *  transaction. */
	int save_defaults;
} tract_generate_options;

#define TRACT_GENERATE_OPTIONS_VERSION 1
#define TRACT_GENERATE_OPTIONS_INIT \
	{TRACT_GENERATE_OPTIONS_VERSION, NULL, 0, 0.0, 0, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0}

TRACT_EXTERN(int) tract_generate_options_init(tract_generate_options *opts, unsigned int version);

/** What tract_generate() did. */
typedef struct tract_generate_result tract_generate_result;

/**
 * Compile HEAD, send it to llm (with the retry policy and fallback list),
 * and commit the reply on HEAD once it has arrived, in one transaction:
 * its text as an assistant dialogue commit, then each tool call as a
 * tool_io call commit carrying the call id the model gave; every commit
 * answers (response_to) the HEAD that was sent and carries the generation
 * config {"model", "provider", "temperature",
 * "max_tokens" (those set), "finish_reason", "usage"}. The usage is also
 * recorded for the context that was sent (tract_usage_record). Nothing is
 * committed when the call fails, when a stream is stopped, or when HEAD
 * moved while the model answered (TRACT_ESTALE). Release *out with
 * tract_generate_result_free().
 */
TRACT_EXTERN(int) tract_generate(tract_generate_result **out, tract *t, tract_llm *llm,
				 const tract_generate_options *opts);

TRACT_EXTERN(void) tract_generate_result_free(tract_generate_result *r);
/** The reply (borrowed from r). */
TRACT_EXTERN(const tract_chat_result *) tract_generate_result_reply(const tract_generate_result *r);
/** The commits made, oldest first: the text's, then one per tool call. */
TRACT_EXTERN(size_t) tract_generate_result_commit_count(const tract_generate_result *r);
TRACT_EXTERN(const char *) tract_generate_result_commit_hash(const tract_generate_result *r,
							     size_t i);

#ifdef __cplusplus
}
#endif
#endif
