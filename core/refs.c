/*
 * refs.c - reading refs and resolving HEAD (symbolic or detached) to its
 * commit (model layer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "json.h"

static int ref_copy_cb(const tract_ref_row *row, void *payload)
{
	tract_ref_value *v = payload;

	v->exists = 1;
	snprintf(v->commit, sizeof(v->commit), "%s", row->commit_hash ? row->commit_hash : "");
	snprintf(v->symbolic, sizeof(v->symbolic), "%s",
		 row->symbolic_target ? row->symbolic_target : "");
	return 0;
}

int tract_ref_read(tract_ref_value *out, tract_store *s, const char *tract_id, const char *name)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = s->be->ref_get(s->conn, tract_id, name, ref_copy_cb, out);
	if (rc == TRACT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return tract_backend_error(s, rc, "read ref");
	return 0;
}

int tract_head_read(tract_head_state *out, tract *t)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = tract_ref_read(&out->head, t->store, t->id, "HEAD");
	if (rc < 0 || !out->head.exists)
		return rc;
	if (out->head.commit[0]) {
		memcpy(out->hash, out->head.commit, sizeof(out->hash));
		return 0;
	}
	rc = tract_ref_read(&out->branch, t->store, t->id, out->head.symbolic);
	if (rc == 0 && out->branch.exists)
		memcpy(out->hash, out->branch.commit, sizeof(out->hash));
	return rc;
}

int tract_head_get(char out_hash[TRACT_HASH_HEXSIZE + 1], char **out_branch, int *out_detached,
		   tract *t)
{
	tract_head_state hs;
	int rc;

	if (!out_hash || !t)
		return tract_error_set(TRACT_EINVAL, "tract_head_get: NULL argument");
	if (out_branch)
		*out_branch = NULL;
	rc = tract_txn_begin(t->store, TRACT_TXN_READ);
	if (rc < 0)
		return rc;
	rc = tract_head_read(&hs, t);
	rc = tract_txn_end(t->store, rc);
	if (rc < 0)
		return rc;
	memcpy(out_hash, hs.hash, 65);
	if (out_detached)
		*out_detached = hs.head.exists && !hs.head.symbolic[0];
	if (out_branch && hs.head.exists && strncmp(hs.head.symbolic, "refs/heads/", 11) == 0) {
		*out_branch = strdup(hs.head.symbolic + 11);
		if (!*out_branch)
			return tract_error_oom();
	}
	return 0;
}

int tract_head_check_attached(const tract_head_state *hs, const tract *t)
{
	if (hs->head.exists && !hs->head.symbolic[0])
		return tract_error_set(TRACT_EDETACHED,
				       "Cannot commit in detached HEAD state. Use 'tract checkout "
				       "%s' to return to your branch.",
				       t->default_branch);
	return 0;
}

/* Code point at s (valid UTF-8), its length in *len. */
static unsigned long utf8_at(const unsigned char *s, size_t *len)
{
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xE0) == 0xC0) {
		*len = 2;
		return ((s[0] & 0x1Ful) << 6) | (s[1] & 0x3Ful);
	}
	if ((s[0] & 0xF0) == 0xE0) {
		*len = 3;
		return ((s[0] & 0x0Ful) << 12) | ((s[1] & 0x3Ful) << 6) | (s[2] & 0x3Ful);
	}
	*len = 4;
	return ((s[0] & 0x07ul) << 18) | ((s[1] & 0x3Ful) << 12) | ((s[2] & 0x3Ful) << 6) |
	       (s[3] & 0x3Ful);
}

/* Unicode whitespace as the reference's check sees it (Python's str
 * whitespace: \s of its re module). */
static int is_unicode_space(unsigned long c)
{
	return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 ||
	       c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
	       c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* C0, DEL, C1 and the bidirectional controls (what tract_text_sanitize
 * escapes): a name shows as it is written. */
static int is_control(unsigned long c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x061C || c == 0x200E ||
	       c == 0x200F || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The first rule a name breaks, or NULL: spec/history.md §5.1's seven in
 * their order, then git's check-ref-format rules (DECISIONS.md). */
static const char *refname_problem(const char *name, char *buf, size_t cap)
{
	const unsigned char *u = (const unsigned char *)name;
	size_t n = strlen(name), i, len;
	const char *comp;

	if (n == 0)
		return "name cannot be empty";
	if (!tract_utf8_valid(name, n))
		return "name is not valid UTF-8";
	if (strstr(name, ".."))
		return "name cannot contain '..'";
	if (ends_with(name, n, ".lock"))
		return "name cannot end with '.lock'";
	if (name[0] == '.')
		return "name cannot start with '.'";
	if (name[n - 1] == '.')
		return "name cannot end with '.'";
	for (i = 0; i < n; i += len) {
		unsigned long c = utf8_at(u + i, &len);
		if (is_unicode_space(c) || (c < 0x80 && strchr("~^:?*[\\", (int)c)))
			return "name contains forbidden characters (whitespace, ~, ^, :, ?, *, "
			       "[, \\)";
	}
	if (name[0] == '/' || name[n - 1] == '/' || strstr(name, "//"))
		return "name has invalid slash usage";
	for (i = 0; i < n; i += len) {
		unsigned long c = utf8_at(u + i, &len);
		if (is_control(c))
			return "name cannot contain control characters";
	}
	if (strstr(name, "@{"))
		return "name cannot contain '@{'";
	if (strcmp(name, "@") == 0)
		return "name cannot be '@'";
	if (strcmp(name, "HEAD") == 0)
		return "name cannot be 'HEAD'";
	if (name[0] == '-')
		return "name cannot start with '-'";
	for (comp = name; comp; comp = strchr(comp, '/') ? strchr(comp, '/') + 1 : NULL) {
		size_t clen = strcspn(comp, "/");
		if (comp[0] == '.')
			return "name has a component starting with '.'";
		if (ends_with(comp, clen, ".lock"))
			return "name has a component ending with '.lock'";
	}
	if (n > TRACT_BRANCH_NAME_MAX) {
		snprintf(buf, cap, "name is longer than %d bytes", TRACT_BRANCH_NAME_MAX);
		return buf;
	}
	return NULL;
}

int tract_refname_check(const char *kind, const char *name)
{
	char buf[64];
	const char *why;

	if (!name)
		return tract_error_set(TRACT_EINVAL, "Invalid %s name: none given", kind);
	why = refname_problem(name, buf, sizeof(buf));
	if (why)
		return tract_error_set(TRACT_EINVAL, "Invalid %s name '%.300s': %s %s", kind, name,
				       kind, why);
	return 0;
}

int tract_branch_name_check(const char *name)
{
	return tract_refname_check("branch", name);
}

int tract_tag_name_check(const char *name)
{
	return tract_refname_check("tag", name);
}
