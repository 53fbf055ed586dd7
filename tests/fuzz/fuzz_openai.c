/*
 * fuzz_openai.c - libFuzzer target for the openai plugin's reply parsers
 * (plugins/openai/openai_parse.c), whole and streamed: the driver and its
 * invariants are fuzz_reply.h's.
 */
#include "fuzz_reply.h"
#include "openai_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fr_run(&tp_openai_parser, data, size);
}
