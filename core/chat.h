/*
 * chat.h - a compiled context as provider messages and request bodies
 * (internal; renderings layer). DESIGN.md §9, spec/DECISIONS.md.
 *
 * A compiled context as provider messages (DESIGN.md §9): tool calls
 * grouped into assistant messages with ids (given or derived), results as
 * role "tool" with tool_call_id and is_error, reasoning left out unless
 * TRACT_CHAT_REASONING.
 *
 * The rules, in the order they apply:
 *
 * 1. Messages. Every compiled message (edits applied, skipped commits
 *    gone: what compile gives) is one entry; reasoning (content type
 *    reasoning) is left out unless TRACT_CHAT_REASONING, and then is an
 *    ordinary assistant text (Anthropic's thinking blocks need a signature
 *    tract does not have).
 *
 * 2. Call ids. A tool call keeps the call_id it was committed with. A call
 *    without one (every history the reference wrote) gets the derived id
 *    "call_" + the first 24 hex digits of its commit's hash (the original
 *    commit's, so an edit of the call keeps it): stable across compiles,
 *    processes and backends, and valid for both APIs (OpenAI's ids are at
 *    most 40 characters, Anthropic's match ^[a-zA-Z0-9_-]+$). A call whose
 *    given id an earlier call of the context already has gets the derived
 *    id too (ids are unique within a request), and so does a call whose
 *    given id is longer than TRACT_CHAT_ID_MAXLEN (OpenAI refuses it; its
 *    results, naming the given id, still find it).
 *
 * 3. Pairing. A result with a call_id answers the call that has that id;
 *    a result without one answers the latest unanswered call of the same
 *    tool before it. A result that answers nothing (no such call, or the
 *    call already answered) is an orphan.
 *
 * 4. Groups. A run of consecutive calls and the run of results right after
 *    it form a group. A call whose result is in its group becomes a
 *    tool_calls entry of one assistant message (joined to the assistant
 *    text right before it when there is one: a reply holding text and
 *    calls), followed by one "tool" message per result, in the results'
 *    order. A call without its result in the group (unanswered at the end
 *    of the history, or answered after other messages) is kept as the
 *    assistant text compile gives it ("Tool call: NAME\n{...}"), placed
 *    before the group's tool_calls message; an orphan result is kept as
 *    user text ("Tool result: NAME\n{...}"), after the group's results.
 *    Both APIs refuse a call without its result right after it, and a
 *    result without its call, so a body stays valid whatever the history.
 *
 * 5. Contents. A call's arguments are the J-CANON JSON text of its payload
 *    (an object). A result's content is the string of its payload's only
 *    member when that member is "text" or "content" and a string (what
 *    `tract commit tool-result TEXT` stores), otherwise the payload's
 *    J-CANON JSON text. is_error is set when the result's status is
 *    "error". Other messages keep compile's role, text and name; a role
 *    other than system/user/assistant is sent as "user".
 *
 * The neutral messages' strings are borrowed from the context (held by a
 * reference until tract_chat_messages_free) and end at their NUL: a text
 * holding U+0000 is cut there in the neutral view, not in body_json.
 *
 * Wire formats (tract_chat_body_render), what `compile --format` prints:
 *
 *  openai     {"messages": [...]}: system, user, assistant ({"content"
 *             omitted when the message has only tool calls, "tool_calls":
 *             [{"id", "type": "function", "function": {"name",
 *             "arguments": "<JSON text>"}}]}), tool ({"tool_call_id",
 *             "content"}). The status has no field there.
 *  anthropic  {"system": "...", "messages": [...]}: the system texts
 *             joined by a blank line in the top-level "system" (left out
 *             when there is none); tool calls as tool_use blocks
 *             ({"id", "name", "input": <the arguments object>}), results
 *             as tool_result blocks ({"tool_use_id", "content", "is_error":
 *             true when failed}) of a user message; same-role neighbours
 *             merged into one message of blocks (a message of one text is
 *             a string); texts that are empty or only whitespace left out
 *             (the API refuses them); a message left with nothing is
 *             dropped; a final assistant turn's trailing whitespace
 *             trimmed; a leading assistant turn preceded by a user turn
 *             holding TRACT_CHAT_LEAD_TEXT (the API wants a user turn
 *             first). The name of a message has no field there.
 */
#ifndef TRACT_CORE_CHAT_H
#define TRACT_CORE_CHAT_H

#include <stddef.h>

#include "tract.h"
#include "tract/sys/provider.h"

#include "buf.h"

/** The longest call id sent: OpenAI refuses longer ones. */
#define TRACT_CHAT_ID_MAXLEN 40

/** Put reasoning messages in, as assistant text. */
#define TRACT_CHAT_REASONING 1u

/** The user turn put before a leading assistant turn in Anthropic bodies. */
#define TRACT_CHAT_LEAD_TEXT "(conversation start)"

typedef struct tract_chat_messages {
	tract_chat_message *items;
	size_t count;
	void *priv;
} tract_chat_messages;

/** Build the provider messages of ctx (rules above). Release with
 *  tract_chat_messages_free(); *out is NULL on failure. */
int tract_chat_messages_build(tract_chat_messages **out, const tract_context *ctx, unsigned flags);
void tract_chat_messages_free(tract_chat_messages *m);

/**
 * The message members of a request body in wire_format "openai"
 * ({"messages":[...]}) or "anthropic" ({"system":"...","messages":[...]}):
 * exactly what `compile --format <wire_format>` prints. Release *out with
 * free() (or tract_string_free()). TRACT_EINVAL for another wire format.
 */
int tract_chat_body_render(char **out, const tract_context *ctx, const char *wire_format,
                           unsigned flags);

/** The same into a buffer (render.c). */
int tract_chat_body_put(tract_buf *b, const tract_context *ctx, const char *wire_format,
                        unsigned flags);

/** Whether a tool call of ctx has the call id id, given or derived (the
 *  check of a result's call_id at commit). */
int tract_chat_call_id_known(const tract_context *ctx, const char *id, int *known);

/** Pairing (rule 3) over every message of ctx: (*out)[i] is the index in
 *  ctx of the call a result i answers, or of the result answering call i,
 *  or SIZE_MAX. Release with free(). For compaction (compact.c). */
int tract_chat_pairs(size_t **out, const tract_context *ctx);

#endif
