/*
 * text.h - text for people: UTF-8 checking, the 2-space JSON layout the
 * `tract` command prints, first lines and truncation for one-line
 * listings.
 */
#ifndef TRACT_TEXT_H
#define TRACT_TEXT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Check that len bytes at s are well-formed UTF-8 (no overlong forms, no
 * UTF-16 surrogates, nothing above U+10FFFF). A NUL byte is U+0000, a
 * valid character: callers that pass C strings on must refuse it
 * themselves. Returns 0 or TRACT_EINVAL.
 */
TRACT_EXTERN(int) tract_utf8_check(const char *s, size_t len);

/**
 * Re-indent JSON text with 2 spaces per level, "key": value, one member or
 * element per line, empty containers as {} and []: the layout of every
 * `tract ... --json` document. Strings and numbers are copied verbatim
 * (no re-escaping, no number reformatting). json must be valid JSON
 * (TRACT_EINVAL otherwise). Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_json_pretty(char **out, const char *json);

/**
 * Check that json is a JSON object as the `tract` command requires of
 * --json, --metadata and --config: valid UTF-8, valid JSON, an object,
 * every number finite. Returns 0 or TRACT_EINVAL with a message naming
 * the text by label ("--metadata is not valid JSON"; NULL: "the JSON
 * text").
 */
TRACT_EXTERN(int) tract_json_object_check(const char *json, const char *label);

/**
 * The members of a JSON object on one line, "key=value, key=value", each
 * value as compact JSON (how `log -v` and `show` print a generation
 * config). TRACT_EINVAL when json is not an object. Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_json_object_pairs(char **out, const char *json);

/**
 * The first line of text (up to the first CR or LF), each other control
 * character replaced by a space. Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_text_first_line(char **out, const char *text);

/**
 * A copy of text cut to at most max_chars code points, the last of them
 * "…" when text was longer; max_chars 0 copies it whole. Release *out with
 * tract_string_free().
 */
TRACT_EXTERN(int) tract_text_truncate(char **out, const char *text, size_t max_chars);

/** tract_text_sanitize() flag: keep LF and TAB (multi-line fields). */
#define TRACT_SANITIZE_KEEP_NEWLINES 1u

/**
 * A copy of len bytes of text safe to print on a terminal: every C0
 * control character and DEL becomes "\xHH" (LF and TAB are kept with
 * TRACT_SANITIZE_KEEP_NEWLINES), every C1 control and every character that
 * reorders or hides text (bidi embeddings, overrides, isolates and marks
 * U+061C, U+200E-200F, U+202A-202E, U+2066-2069; U+2028-2029; U+FFF9-FFFB;
 * U+FEFF) becomes "\uHHHH", and each byte that is not part of well-formed
 * UTF-8 becomes "\xHH". What the `tract` command prints for people goes
 * through it; JSON output does not. Release *out with tract_string_free().
 */
TRACT_EXTERN(int) tract_text_sanitize(char **out, const char *text, size_t len, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
