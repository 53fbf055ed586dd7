/*
 * fuzz_anthropic.c - libFuzzer target for the anthropic plugin's reply parsers
 * (plugins/anthropic/anthropic_parse.c), whole and streamed: the driver and its
 * invariants are fuzz_reply.h's.
 */
#include "fuzz_reply.h"
#include "anthropic_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fr_run(&tp_anthropic_parser, data, size);
}
