/*
 * hash.h - SHA-256 (through libcrypto) and the content and commit hashes
 * of spec/core.md §2.2 and §2.4 (internal).
 */
#ifndef TRACT_CORE_HASH_H
#define TRACT_CORE_HASH_H

#include <stddef.h>

#include "json.h"
#include "tract/common.h"

/** Lowercase hex SHA-256 of data into out (65 bytes). */
int tract_sha256_hex(char out[65], const void *data, size_t len);
/** The same of a JSON rendering, streamed: the rendering is never held whole. */
int tract_json_sha256_hex(char out[65], const cJSON *item, tract_json_style style);

/** Inputs of a commit hash. */
typedef struct {
	const char *content_hash;
	const char *parent_hash;   /* NULL for a root */
	const char *content_type;
	tract_operation operation;
	const char *response_to;   /* NULL when none */
	tract_time created_at;
	/* Extra parents: when n_extra > 0 the hash takes the parent_hashes
	 * form (sorted [parent or "", extras...]). */
	const char *const *extra_parents;
	size_t n_extra;
} tract_commit_hash_input;

/** Compute a commit hash (hex, 65 bytes). */
int tract_commit_hash_compute(char out[65], const tract_commit_hash_input *in);

/** True for 64 lowercase hex characters. */
int tract_is_full_hash(const char *s);

#endif
