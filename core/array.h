/*
 * array.h - growing the core's arrays of fixed-size items.
 *
 *     if (tract_array_reserve(&w->stack, &w->capstack, w->nstack + 1,
 *                             sizeof(*w->stack), 64) < 0)
 *             return TRACT_ENOMEM;
 *     w->stack[w->nstack++] = idx;
 */
#ifndef TRACT_CORE_ARRAY_H
#define TRACT_CORE_ARRAY_H

#include <stddef.h>

/**
 * Make room for at least `need` items of `size` bytes in the array whose
 * pointer is at `items` (any `T **`) and whose capacity is *cap: doubling
 * from `min`. 0, or TRACT_ENOMEM with the error set and the array as it
 * was (also when need * size would overflow).
 */
int tract_array_reserve(void *items, size_t *cap, size_t need, size_t size, size_t min);

#endif
