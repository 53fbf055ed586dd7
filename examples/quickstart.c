/*
 * quickstart.c - the README's example: open a store, start a tract, commit
 * an instruction and a short dialogue, compile the context and print it as
 * the messages of an OpenAI Chat Completions request ({"messages": [...]}).
 *
 *   cc quickstart.c $(pkg-config --cflags --libs tract) -o quickstart
 *   ./quickstart [STORE]        (default ":memory:"; try "chat.db")
 */
#include <stdio.h>
#include <tract.h>

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : ":memory:";
	tract_store *store = NULL;
	tract *t = NULL;
	tract_commit *answer = NULL;
	tract_context *ctx = NULL;
	char *messages = NULL;
	int status = 1;

	if (tract_store_open(&store, uri, TRACT_STORE_CREATE) < 0 ||
	    tract_create(&t, store, NULL, "quickstart", NULL) < 0 ||
	    tract_commit_create_instruction(NULL, t, "You are a concise assistant.", NULL) < 0 ||
	    tract_commit_create_dialogue(NULL, t, "user", "What does tract do?", NULL, NULL) < 0 ||
	    tract_commit_create_dialogue(&answer, t, "assistant",
	                                 "It versions my context window like git versions code.",
	                                 NULL, NULL) < 0 ||
	    tract_context_compile(&ctx, t, NULL) < 0 ||
	    tract_context_render(&messages, ctx, TRACT_FORMAT_OPENAI) < 0) {
		const tract_error *err = tract_error_last();
		fprintf(stderr, "quickstart: %s (%s)\n", err->message, tract_error_name(err->code));
		goto cleanup;
	}

	printf("tract %s, answer committed as %s\n", tract_id(t), tract_commit_hash(answer));
	printf("%zu messages, %lld tokens (%s)\n", tract_context_count(ctx),
	       (long long)tract_context_token_count(ctx), tract_context_token_source(ctx));
	printf("%s\n", messages);
	status = 0;

cleanup:
	tract_string_free(messages);
	tract_context_free(ctx);
	tract_commit_free(answer);
	tract_free(t);
	tract_store_free(store);
	return status;
}
