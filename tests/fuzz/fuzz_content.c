/*
 * fuzz_content.c - libFuzzer target for content validation and
 * normalization (core/content.h): a JSON value is normalized or refused with
 * TRACT_EINVAL; normalized content normalizes to itself, yields its count
 * text and its message, and the fast read of a stored payload gives the same
 * message as the parsed path.
 */
#include <stdint.h>
#include <string.h>

#include "content.h"
#include "fuzz_common.h"
#include "json.h"

static void check_message(const cJSON *n)
{
	tract_message_parts m, f;
	char *stored;
	int rc;

	memset(&m, 0, sizeof(m));
	memset(&f, 0, sizeof(f));
	rc = tract_content_message(&m, n);
	if (!fz_rc_in(rc, TRACT_ENOMEM, 1))
		fz_fail("message of normalized content returned %d", rc);
	if (rc != 0)
		return;
	if (!(stored = tract_json_render_str(n, TRACT_JSON_STORE)))
		abort();
	rc = tract_content_message_flat(&f, stored, strlen(stored));
	if (rc == 1) {
		if (f.content_len != m.content_len ||
		    memcmp(f.content, m.content, m.content_len) != 0)
			fz_fail("flat message differs from the parsed one for %s", stored);
		if ((f.name == NULL) != (m.name == NULL) ||
		    (f.name && (f.name_len != m.name_len ||
				memcmp(f.name, m.name, m.name_len) != 0)))
			fz_fail("flat message name differs for %s", stored);
		if (strcmp(f.role, m.role) != 0)
			fz_fail("flat role %s, parsed %s for %s", f.role, m.role, stored);
	} else if (rc != 0 && rc != TRACT_ENOMEM) {
		fz_fail("flat message returned %d", rc);
	}
	tract_message_parts_dispose(&f);
	tract_message_parts_dispose(&m);
	free(stored);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *in = NULL, *n = NULL, *n2 = NULL;
	char err[256], *a, *b;
	tract_buf text = TRACT_BUF_INIT;
	tract_text_kind kind;
	int rc;

	if (tract_json_parse(&in, (const char *)data, size, TRACT_JSON_NONFINITE_TO_NULL, err,
			     sizeof(err)) != 0)
		return 0;
	rc = tract_content_normalize_json(&n, NULL, in);
	if (rc != 0) {
		if (rc != TRACT_EINVAL && rc != TRACT_ENOMEM)
			fz_fail("normalize returned %d", rc);
		cJSON_Delete(in);
		return 0;
	}
	rc = tract_content_normalize_json(&n2, NULL, n);
	if (rc != 0)
		fz_fail("normalized content is refused (%d)", rc);
	a = tract_json_render_str(n, TRACT_JSON_CANON);
	b = tract_json_render_str(n2, TRACT_JSON_CANON);
	if (!a || !b)
		abort();
	if (strcmp(a, b) != 0)
		fz_fail("normalize is not idempotent: %s -> %s", a, b);
	rc = tract_content_count_text(&text, &kind, n);
	if (!fz_rc_in(rc, TRACT_ENOMEM, 1))
		fz_fail("count text returned %d for %s", rc, a);
	check_message(n);
	tract_buf_dispose(&text);
	free(a);
	free(b);
	cJSON_Delete(n2);
	cJSON_Delete(n);
	cJSON_Delete(in);
	return 0;
}
