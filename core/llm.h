/*
 * llm.h - the provider layer's internals: the hooks tests use to see the
 * retry waits without sleeping, the chat call tract_generate() makes
 * with a request body rendered per provider wire format, and the one the
 * core's own prompts use (resolver, collapse, compression) (internal).
 */
#ifndef TRACT_CORE_LLM_H
#define TRACT_CORE_LLM_H

#include "tract/llm.h"

/** A wait of the retry policy (seconds); the default sleeps. */
typedef void (*tract_llm_sleep_fn)(double seconds, void *payload);
/** A uniform random number in [0, 1) for the jitter. */
typedef double (*tract_llm_random_fn)(void *payload);

/** Replace the sleep and the random source of every tract_llm of the
 *  process (NULL restores the defaults). For tests. */
void tract_llm_test_hooks_set(tract_llm_sleep_fn sleep_fn, tract_llm_random_fn random_fn,
			      void *payload);

/**
 * The body_json of a request for a provider of wire format wire_format
 * (never NULL here): a string that lives until the call ends, or NULL
 * with the thread's error set (the call then fails with that error).
 */
typedef const char *(*tract_llm_body_fn)(const char *wire_format, void *payload);

/**
 * tract_llm_chat / tract_llm_chat_stream (cb NULL: not streamed) with
 * body_json rendered by body for each provider that declares a wire
 * format (NULL for the others).
 */
int tract_llm_chat_with_body(tract_chat_result **out, tract_llm *llm,
			     const tract_chat_request *req, tract_llm_body_fn body,
			     void *body_payload, tract_chat_delta_cb cb, void *payload);

/**
 * tract_llm_chat for the core's own prompts (the resolver, collapse,
 * compression): req's messages, plain text with roles system, user and
 * assistant, are rendered for each provider that declares a wire format
 * (openai: {"messages": [{role, content}...]}; anthropic: the system
 * messages joined by a blank line as "system", the others as "messages");
 * the others read the neutral messages. req must carry no body_json and
 * no tools (TRACT_EINVAL), nor messages with tool calls or other roles.
 */
int tract_llm_chat_messages(tract_chat_result **out, tract_llm *llm,
			    const tract_chat_request *req);

/** The names of the providers as a comma-separated list ("a,b"). */
const char *tract_llm_names(const tract_llm *llm);

/** Mask secrets in text (in place, NUL-terminated): the values of llm's
 *  options named like a secret (llm may be NULL) and of the environment's
 *  *_API_KEY / *_TOKEN / *SECRET* / *PASSWORD* variables. */
void tract_llm_mask_secrets(const tract_llm *llm, char *text, size_t size);

#endif
