/*
 * array.c - growing the core's arrays of fixed-size items (array.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "error.h"

int tract_array_reserve(void *items, size_t *cap, size_t need, size_t size, size_t min)
{
	size_t ncap = *cap ? *cap : (min ? min : 1);
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return tract_error_oom();
		ncap *= 2;
	}
	if (size && ncap > SIZE_MAX / size)
		return tract_error_oom();
	/* items is a T **: its pointer is read and written as bytes, so any
	 * object pointer type works without aliasing it as void *. */
	memcpy(&p, items, sizeof(p));
	if (!(p = realloc(p, ncap * size)))
		return tract_error_oom();
	memcpy(items, &p, sizeof(p));
	*cap = ncap;
	return 0;
}
