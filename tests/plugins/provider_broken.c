/*
 * provider_broken.c - provider plugins the loader must refuse, one per
 * BROKEN_KIND: 1 a table of ABI version 99, 2 a table lacking the required
 * member chat, 3 a table naming another provider than its file.
 */
#include <stddef.h>

#include "tract/sys/provider.h"

static int no_create(tract_provider_client **out, const tract_provider_option *o, size_t n,
                     tract_provider_error *err)
{
	(void)o, (void)n, (void)err;
	*out = NULL;
	return TRACT_EPROVIDER;
}

static void no_free(tract_provider_client *c)
{
	(void)c;
}

static int no_chat(tract_provider_client *c, const tract_chat_request *r, tract_chat_reply *reply,
                   tract_provider_error *err)
{
	(void)c, (void)r, (void)reply, (void)err;
	return TRACT_EPROVIDER;
}

static void no_clear(tract_provider_client *c, tract_chat_reply *reply)
{
	(void)c, (void)reply;
}

#if BROKEN_KIND == 1
static const tract_provider table = {.version = 99,
                                     .name = "badabi",
                                     .client_create = no_create,
                                     .client_free = no_free,
                                     .chat = no_chat,
                                     .reply_clear = no_clear};
#elif BROKEN_KIND == 2
static const tract_provider table = {.version = 1,
                                     .name = "nomember",
                                     .client_create = no_create,
                                     .client_free = no_free,
                                     .reply_clear = no_clear};
#else
static const tract_provider table = {.version = 1,
                                     .name = "someone-else",
                                     .client_create = no_create,
                                     .client_free = no_free,
                                     .chat = no_chat,
                                     .reply_clear = no_clear};
#endif

__attribute__((visibility("default"))) const tract_provider *tract_provider_entry(void);
const tract_provider *tract_provider_entry(void)
{
	(void)no_chat;
	return &table;
}
