/*
 * commit_view.c - a commit for people and programs: the show --json object
 * (log --json's object plus merge parents and content), the log --json
 * array and the one-line preview of log --oneline. Model layer.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

int tract_commit_to_json(char **out, const tract_commit *c, unsigned int flags)
{
	tract_buf b = TRACT_BUF_INIT;
	const char *content;
	char *base = NULL;
	size_t n, len;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_commit_to_json: out is NULL");
	*out = NULL;
	if (!c)
		return tract_error_set(TRACT_EINVAL, "tract_commit_to_json: commit is NULL");
	if (flags & ~(unsigned int)TRACT_COMMIT_JSON_SHOW)
		return tract_error_set(TRACT_EINVAL, "tract_commit_to_json: unknown flags %#x",
				       flags);
	rc = tract_commit_json_base(&base, c);
	if (rc < 0)
		return rc;
	/* the object without its closing brace, then the members asked for */
	len = strlen(base);
	rc = tract_buf_put(&b, base, len - 1);
	n = tract_commit_extra_parent_count(c);
	if ((flags & TRACT_COMMIT_JSON_MERGE_PARENTS) && n) {
		rc |= tract_buf_puts(&b, ", \"merge_parents\": [");
		for (size_t i = 0; i < n; i++) {
			const char *p = tract_commit_extra_parent(c, i);

			rc |= tract_buf_puts(&b, i ? ", " : "");
			rc |= tract_json_escape(&b, p, strlen(p), 0);
		}
		rc |= tract_buf_putc(&b, ']');
	}
	if (flags & TRACT_COMMIT_JSON_CONTENT) {
		/* the stored payload as it is: its numbers keep their literals */
		content = tract_commit_content(c);
		rc |= tract_buf_puts(&b, ", \"content\": ");
		rc |= tract_buf_puts(&b, content ? content : "null");
	}
	rc |= tract_buf_putc(&b, '}');
	tract_string_free(base);
	if (rc == 0)
		*out = tract_buf_detach(&b);
	if (rc || !*out) {
		tract_buf_dispose(&b);
		return tract_error_oom();
	}
	return 0;
}

int tract_commit_list_to_json(char **out, const tract_commit_list *list, unsigned int flags)
{
	tract_buf b = TRACT_BUF_INIT;
	char *item = NULL;
	int rc = 0;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_commit_list_to_json: out is NULL");
	*out = NULL;
	if (!list || (list->count && !list->items))
		return tract_error_set(TRACT_EINVAL, "tract_commit_list_to_json: list is NULL");
	if (tract_buf_putc(&b, '[')) {
		rc = tract_error_oom();
		goto done;
	}
	for (size_t i = 0; i < list->count; i++) {
		rc = tract_commit_to_json(&item, list->items[i], flags);
		if (rc < 0)
			goto done;
		if ((i && tract_buf_putc(&b, ',')) || tract_buf_puts(&b, item)) {
			rc = tract_error_oom();
			goto done;
		}
		tract_string_free(item);
		item = NULL;
	}
	if (tract_buf_putc(&b, ']') == 0)
		*out = tract_buf_detach(&b);
	if (!*out)
		rc = tract_error_oom();
done:
	tract_string_free(item);
	tract_buf_dispose(&b);
	return rc;
}

int tract_commit_preview(char **out, const tract_commit *c, size_t max_chars)
{
	const char *msg;
	char *line = NULL;
	int rc;

	if (!out)
		return tract_error_set(TRACT_EINVAL, "tract_commit_preview: out is NULL");
	*out = NULL;
	if (!c)
		return tract_error_set(TRACT_EINVAL, "tract_commit_preview: commit is NULL");
	msg = tract_commit_message(c);
	if (!msg || !msg[0])
		return tract_content_preview(out, tract_commit_content(c), max_chars);
	rc = tract_text_first_line(&line, msg);
	if (rc == 0)
		rc = tract_text_truncate(out, line, max_chars);
	tract_string_free(line);
	return rc;
}
