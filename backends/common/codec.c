/*
 * codec.c - the external definitions of the inline codecs of codec.h, for
 * the calls a compiler does not inline (C99: an inline definition emits no
 * symbol; these declarations make this file emit one).
 */
#include "codec.h"

extern inline void bc_put_be64(unsigned char *p, uint64_t v);
extern inline uint64_t bc_get_be64(const unsigned char *p);
