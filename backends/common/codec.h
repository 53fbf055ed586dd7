/*
 * codec.h - big-endian 64-bit integers, the byte order in which stored keys
 * sort numerically, for the backend plugins (backend_common, a static
 * library they link).
 *
 * The two are C99 inline definitions: they sit on the hot key paths of the
 * plugins (a chain walk reads one per step), so callers get them inlined,
 * and codec.c holds the one external definition a call that is not inlined
 * links to.
 */
#ifndef TRACT_BACKEND_COMMON_CODEC_H
#define TRACT_BACKEND_COMMON_CODEC_H

#include <stdint.h>

/* Store v in p[0..7], most significant byte first. */
inline void bc_put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

/* The value stored in p[0..7] by bc_put_be64(). */
inline uint64_t bc_get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

#endif
