/*
 * badabi.c - a backend plugin from the future: its table claims ABI
 * version 99, which the loader must refuse.
 */
#include "tract/sys/backend.h"

static const tract_backend table = {.version = 99, .name = "badabi"};

__attribute__((visibility("default"))) const tract_backend *tract_backend_entry(void);
const tract_backend *tract_backend_entry(void)
{
	return &table;
}
