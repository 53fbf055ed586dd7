/*
 * fuzz_json.c - libFuzzer target for the JSON parser and the six renderings
 * (core/json.h): any input parses or is refused with TRACT_EINVAL; a parsed
 * value renders in every style, each rendering parses back to the same
 * canonical form, and canonical JSON is a fixed point (parse -> CANON ->
 * parse -> CANON gives the same bytes).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "json.h"

static char *render(const cJSON *item, tract_json_style style, size_t *len)
{
	tract_buf b = TRACT_BUF_INIT;

	if (tract_json_render(&b, item, style) != 0)
		fz_fail("render in style %d", (int)style);
	if (tract_buf_putc(&b, '\0') != 0)
		abort();
	*len = b.len - 1;
	return b.ptr;
}

static void check(const uint8_t *data, size_t size, unsigned flags)
{
	char err[256], *canon, *text, *again;
	size_t canon_len, len, again_len;
	cJSON *a = NULL, *b = NULL;
	int rc, style;

	rc = tract_json_parse(&a, (const char *)data, size, flags, err, sizeof(err));
	if (rc != 0) {
		if (rc != TRACT_EINVAL && rc != TRACT_ENOMEM)
			fz_fail("parse returned %d", rc);
		if (a)
			fz_fail("a refused text left a tree");
		return;
	}
	canon = render(a, TRACT_JSON_CANON, &canon_len);
	for (style = TRACT_JSON_CANON; style <= TRACT_JSON_FLAT; style++) {
		text = render(a, (tract_json_style)style, &len);
		/* flags 0: the rendering of a value with null for a non-finite
		 * number holds null, which every parse accepts */
		if (tract_json_parse(&b, text, len, 0, err, sizeof(err)) != 0)
			fz_fail("style %d does not parse back: %s: %s", style, err, text);
		again = render(b, TRACT_JSON_CANON, &again_len);
		if (again_len != canon_len || memcmp(again, canon, canon_len) != 0)
			fz_fail("style %d changes the value: %s -> %s", style, canon, again);
		free(again);
		cJSON_Delete(b);
		b = NULL;
		free(text);
	}
	free(canon);
	cJSON_Delete(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, 0);
	check(data, size, TRACT_JSON_NONFINITE_TO_NULL);
	return 0;
}
