/*
 * common.h - error codes, version, the last-error API and shared types.
 *
 * Every fallible call in libtract returns 0 on success or a negative
 * TRACT_E* code; tract_error_last() then explains the failure for the
 * calling thread.
 */
#ifndef TRACT_COMMON_H
#define TRACT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(TRACT_STATIC)
#define TRACT_EXTERN(type) __attribute__((visibility("default"))) type
#else
#define TRACT_EXTERN(type) type
#endif

#define TRACT_VERSION_MAJOR 0
#define TRACT_VERSION_MINOR 1
#define TRACT_VERSION_PATCH 0
#define TRACT_VERSION "0.1.0"

/** Error codes. Every code is negative; 0 means success. */
typedef enum {
	TRACT_OK = 0,
	TRACT_ERROR = -1,      /**< generic failure */
	TRACT_ENOTFOUND = -2,  /**< commit, ref, tract, blob... not found */
	TRACT_EAMBIGUOUS = -3, /**< a hash prefix matches several commits */
	TRACT_EINVAL = -4,     /**< invalid input (content, JSON, names...) */
	TRACT_ECONFLICT = -5,  /**< a merge, pick or rebase has unresolved conflicts */
	TRACT_ESTALE = -6,     /**< a ref moved under us (compare-and-swap lost) */
	TRACT_EBUDGET = -7,    /**< token budget exceeded (action reject) */
	TRACT_EDETACHED = -8,  /**< operation refused in detached HEAD state */
	TRACT_EPROVIDER = -9,  /**< LLM provider failed: server error, transport, bad reply */
	TRACT_EAUTH = -10,     /**< LLM provider refused the credentials (401/403) */
	TRACT_ERATELIMIT = -11, /**< LLM provider rate limit, after every retry */
	TRACT_ETIMEOUT = -12,  /**< a call or a wait timed out */
	TRACT_EPLUGIN = -13,   /**< plugin missing, bad symbol, table or ABI version */
	TRACT_ESTORAGE = -14,  /**< storage backend failure */
	TRACT_ENOMEM = -15,    /**< out of memory */
	TRACT_ECORRUPT = -16,  /**< stored data is malformed */
	TRACT_EEDIT = -17,     /**< edit target rule violated */
	TRACT_EEXISTS = -18,   /**< object already exists */
	TRACT_EABORTED = -19,  /**< a resolver or callback aborted the operation */
	TRACT_EVERSION = -20,  /**< store schema version not supported */
	TRACT_EUNMERGED = -21, /**< branch has commits not merged (delete without force) */
} tract_error_code;

/** Hex digits of a hash (SHA-256); buffers hold TRACT_HASH_HEXSIZE + 1. */
#define TRACT_HASH_HEXSIZE 64
/** Longest tract id (1-64 of [A-Za-z0-9._-]); buffers hold TRACT_ID_MAXLEN + 1. */
#define TRACT_ID_MAXLEN 64

/** The last error of the calling thread. */
typedef struct {
	int code;            /**< a tract_error_code */
	const char *message; /**< human readable, never NULL */
} tract_error;

/**
 * Return the calling thread's last error. Never NULL: when no error has
 * happened the code is TRACT_OK and the message is empty. The pointer
 * stays valid until the next failing call on the same thread.
 */
TRACT_EXTERN(const tract_error *) tract_error_last(void);

/** Clear the calling thread's last error. */
TRACT_EXTERN(void) tract_error_clear(void);

/** Short symbolic name of a code ("ENOTFOUND"...). */
TRACT_EXTERN(const char *) tract_error_name(int code);

/** Library version string ("0.1.0"). */
TRACT_EXTERN(const char *) tract_version(void);

/** Priorities of annotations. */
typedef enum {
	TRACT_PRIORITY_NONE = -1, /**< no annotation */
	TRACT_PRIORITY_SKIP = 0,
	TRACT_PRIORITY_NORMAL = 1,
	TRACT_PRIORITY_PINNED = 2,
} tract_priority;

/** Commit operations. */
typedef enum {
	TRACT_OP_UNKNOWN = -1, /**< stored value not recognised (corrupt row) */
	TRACT_OP_APPEND = 0,
	TRACT_OP_EDIT = 1,
} tract_operation;

/** A token counter (tokenizer.h). */
typedef struct tract_tokenizer tract_tokenizer;

/** Microseconds since the Unix epoch, UTC. */
typedef int64_t tract_time;

/** Sentinel: no time given. */
#define TRACT_TIME_NONE INT64_MIN

/** Current time (UTC, microseconds), strictly increasing in this process. */
TRACT_EXTERN(tract_time) tract_time_now(void);

/** Room for tract_time_format()'s text and its NUL. */
#define TRACT_TIME_BUFSIZE 40

/**
 * Format a time as ISO 8601 "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" into buf
 * (TRACT_TIME_BUFSIZE bytes are always enough). TRACT_EINVAL when len is
 * too small (buf then holds "").
 */
TRACT_EXTERN(int) tract_time_format(char *buf, size_t len, tract_time t);

/**
 * Parse an ISO 8601 instant ("2024-01-02T03:04:05[.ffffff][Z|+HH:MM]", a
 * space is accepted for the T; a value without a zone is UTC) and convert
 * it to UTC. Returns 0 or TRACT_EINVAL.
 */
TRACT_EXTERN(int) tract_time_parse(tract_time *out, const char *text);

/** Free a string the library allocated for the caller. NULL is a no-op. */
TRACT_EXTERN(void) tract_string_free(char *str);

/** Warning hook (budget warn, missing tokenizer data...). */
typedef void (*tract_warning_cb)(const char *message, void *payload);
/** Set the process-wide warning hook; NULL restores the default (a line
 *  "tract: warning: ..." on stderr). */
TRACT_EXTERN(void) tract_warning_hook_set(tract_warning_cb cb, void *payload);

/** Debug hook (each LLM call attempt...), same shape as the warning hook.
 *  NULL restores the default: a line "tract: debug: ..." on stderr when
 *  the environment variable TRACT_DEBUG is set to a value other than ""
 *  and "0", nothing otherwise. Debug lines never hold secrets. */
TRACT_EXTERN(void) tract_debug_hook_set(tract_warning_cb cb, void *payload);

#ifdef __cplusplus
}
#endif
#endif
