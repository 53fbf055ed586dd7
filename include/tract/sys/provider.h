/*
 * tract/sys/provider.h - ABI for LLM provider plugins (version 1).
 *
 * A provider plugin is a shared object named tract-provider-NAME.so that
 * exports one symbol, TRACT_PROVIDER_ENTRY ("tract_provider_entry"), a
 * function returning a pointer to a static tract_provider table (start
 * from TRACT_PROVIDER_INIT). The table starts with the version it was
 * written against; the core accepts any version from 1 to
 * TRACT_PROVIDER_VERSION and refuses others. New members are only ever
 * appended. This header is all a provider needs: plugins link neither
 * libtract nor its internals (plugins/example/ is a complete provider to
 * copy).
 *
 * The same shape serves an in-process provider: a program fills a
 * tract_provider table with its own functions and hands it to the core
 * (include/tract/llm.h), no shared object needed.
 *
 * Strings handed to a provider are NUL-terminated UTF-8 and borrowed for
 * the duration of the call. A reply's strings belong to the provider until
 * the core calls reply_clear() (the core copies what it keeps first).
 *
 * What a provider does not do: retries, backoff, fallback to another
 * provider, usage bookkeeping, logging of requests. The core does those
 * the same way for every provider (DESIGN.md §4). A provider makes one
 * attempt per call and classifies its failure in tract_provider_error.
 *
 * Secrets: a provider never puts an API key (or any option value named
 * like one) in an error message, a log line or the raw reply it returns.
 *
 * Every member is REQUIRED unless its comment says otherwise.
 */
#ifndef TRACT_SYS_PROVIDER_H
#define TRACT_SYS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "../common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The version of the table this header defines. */
#define TRACT_PROVIDER_VERSION 1
/** The symbol every provider plugin exports: a tract_provider_entry_fn. */
#define TRACT_PROVIDER_ENTRY "tract_provider_entry"

/** A configured client of a provider (the provider's own type). */
typedef struct tract_provider_client tract_provider_client;

/** One client option: "api_key", "base_url", "model", "timeout" (seconds),
 *  "anthropic_version", ... Unknown keys are an error (EINVAL) so typos
 *  show; a provider documents the keys it takes. */
typedef struct {
	const char *key;
	const char *value;
} tract_provider_option;

/* ---- requests ------------------------------------------------------------ */

/** A tool call: in an assistant message of a request, or in a reply. */
typedef struct {
	const char *id;             /**< call id ("call_...", "toolu_..."); never NULL */
	const char *name;           /**< the tool (function) name */
	const char *arguments_json; /**< the arguments as JSON text (an object) */
} tract_tool_call;

/**
 * One message, wire-format neutral. role is "system", "user", "assistant"
 * or "tool". An assistant message may carry tool calls (content may then
 * be NULL); a "tool" message is the result of the call tool_call_id
 * (is_error set when the tool failed).
 */
typedef struct {
	const char *role;
	const char *content;             /**< NULL = none */
	const char *name;                /**< NULL = none */
	const tract_tool_call *tool_calls;
	size_t n_tool_calls;
	const char *tool_call_id;        /**< role "tool": the call answered */
	int is_error;                    /**< role "tool": the tool failed */
} tract_chat_message;

/** The version of tract_chat_request this header defines. */
#define TRACT_CHAT_REQUEST_VERSION 1

/**
 * One chat call. Providers read version first and ignore members they do
 * not know (a newer core may append members).
 */
typedef struct {
	unsigned int version;

	/** The conversation, wire-format neutral. */
	const tract_chat_message *messages;
	size_t n_messages;

	/**
	 * The same conversation as the core renders it for the provider's
	 * wire_format (NULL when the provider declares none): a JSON object
	 * holding the message members of the request body, exactly what
	 * `tract compile --format <wire_format>` prints for the context:
	 * openai {"messages": [...]}, anthropic {"system": "...",
	 * "messages": [...]}. An HTTP provider adds its own members (model,
	 * max_tokens, tools, stream...) to this object and sends it.
	 */
	const char *body_json;

	const char *model;          /**< NULL = the client's model */
	int has_temperature;        /**< 0 = the server's default */
	double temperature;
	int64_t max_tokens;         /**< 0 = the provider's default */
	/** Tools offered: a JSON array in OpenAI's function format
	 *  ([{"type":"function","function":{name, description, parameters}}]),
	 *  NULL = none. A provider converts to its own format. */
	const char *tools_json;
	/** "auto", "none", "required" or the name of one tool; NULL = default. */
	const char *tool_choice;
	/** A JSON object whose members are added to the request body as they
	 *  are (top_p, seed, stop...), NULL = none. */
	const char *extra_json;
	/** Seconds for this attempt, 0 = the client's timeout. */
	double timeout_seconds;
} tract_chat_request;

/* ---- replies ------------------------------------------------------------- */

/** Token usage of a reply; -1 where the server did not say. */
typedef struct {
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int64_t total_tokens;
} tract_chat_usage;

/** A reply. Strings and arrays belong to the provider until reply_clear(). */
typedef struct {
	const char *text;                 /**< NULL when the reply is tool calls only */
	const tract_tool_call *tool_calls;
	size_t n_tool_calls;
	/** "stop", "length", "tool_calls", "content_filter" (OpenAI's names;
	 *  Anthropic's end_turn / max_tokens / tool_use map to them), NULL if
	 *  unknown. */
	const char *finish_reason;
	tract_chat_usage usage;
	const char *model;                /**< the model that answered, NULL if unknown */
	const char *raw_json;             /**< the response body (the final one when streamed) */
	void *provider_data;              /**< the provider's own, for reply_clear() */
} tract_chat_reply;

/** A streamed piece of a reply. */
typedef struct {
	const char *text;               /**< text to append, NULL = none */
	/** A tool-call piece: index says which call of the reply (0, 1...);
	 *  id and name arrive with the first piece of a call (NULL after);
	 *  arguments_fragment is appended to the call's arguments. */
	int tool_call_index;            /**< -1 = this delta holds no tool call */
	const char *tool_call_id;
	const char *tool_name;
	const char *arguments_fragment;
} tract_chat_delta;

/** Streaming callback: return 0 to go on, non-zero to stop the call (the
 *  provider then returns TRACT_PROVIDER_ERR_CANCELLED). */
typedef int (*tract_chat_delta_cb)(const tract_chat_delta *delta, void *payload);

/* ---- errors ------------------------------------------------------------- */

/** How an attempt failed; the core retries or not by kind. */
typedef enum {
	TRACT_PROVIDER_ERR_NONE = 0,
	TRACT_PROVIDER_ERR_AUTH = 1,         /**< 401, 403: never retried */
	TRACT_PROVIDER_ERR_RATE_LIMIT = 2,   /**< 429: retried after retry_after */
	TRACT_PROVIDER_ERR_SERVER = 3,       /**< 5xx (and 529): retried */
	TRACT_PROVIDER_ERR_TIMEOUT = 4,      /**< no (complete) answer in time: retried */
	TRACT_PROVIDER_ERR_TRANSPORT = 5,    /**< connection refused, reset, DNS: retried */
	TRACT_PROVIDER_ERR_BAD_RESPONSE = 6, /**< unparsable or incomplete reply: not retried */
	TRACT_PROVIDER_ERR_REQUEST = 7,      /**< other 4xx, bad options: not retried */
	TRACT_PROVIDER_ERR_CANCELLED = 8,    /**< the delta callback stopped the call */
} tract_provider_error_kind;

/** Filled by a provider when a call fails. */
typedef struct {
	tract_provider_error_kind kind;
	int http_status;       /**< 0 when there was no HTTP reply */
	double retry_after;    /**< seconds the server asked to wait, -1 = not said */
	char message[512];     /**< one line, no secrets */
} tract_provider_error;

/* ---- the table ---------------------------------------------------------- */

typedef struct tract_provider {
	/** TRACT_PROVIDER_VERSION when written against this header. */
	unsigned int version;
	/** The provider's name ("openai"), for messages and `tract plugins`. */
	const char *name;
	/** "openai" or "anthropic": the request's body_json is rendered in
	 *  that format. NULL = the provider reads only the neutral messages. */
	const char *wire_format;
	/** The model used when neither the request nor the options name one. */
	const char *default_model;

	/**
	 * Make a client from options (read the environment for what the
	 * options leave out, as the provider documents). Returns 0, or a
	 * negative TRACT_E* code with err filled (EINVAL for a bad option).
	 */
	int (*client_create)(tract_provider_client **out, const tract_provider_option *options,
			     size_t n_options, tract_provider_error *err);
	void (*client_free)(tract_provider_client *client);

	/**
	 * One attempt of a chat call. 0 with *reply filled, or a negative
	 * TRACT_E* code (TRACT_EPROVIDER when in doubt) with err filled.
	 * reply is zeroed by the core before the call.
	 */
	int (*chat)(tract_provider_client *client, const tract_chat_request *request,
		    tract_chat_reply *reply, tract_provider_error *err);

	/** Release what chat() or chat_stream() put in a reply. */
	void (*reply_clear)(tract_provider_client *client, tract_chat_reply *reply);

	/**
	 * OPTIONAL. chat() that hands the reply to cb piece by piece as it
	 * arrives, then fills *reply with the whole of it (text and tool calls
	 * assembled, usage, finish reason) exactly as chat() would. The core
	 * falls back to chat() (one delta with the whole text) without it.
	 */
	int (*chat_stream)(tract_provider_client *client, const tract_chat_request *request,
			   tract_chat_delta_cb cb, void *payload, tract_chat_reply *reply,
			   tract_provider_error *err);
} tract_provider;

/** An initializer for a provider's table: TRACT_PROVIDER_INIT, then set
 *  the members (designated initializers are the usual way). */
#define TRACT_PROVIDER_INIT {TRACT_PROVIDER_VERSION}

/** The entry symbol's type. */
typedef const tract_provider *(*tract_provider_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
