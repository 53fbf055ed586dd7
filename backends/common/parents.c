/*
 * parents.c - splitting the packed merge parents of a chain row (see
 * parents.h): one allocation per growth of the scratch, items sorted by
 * position in place.
 */
#include <stdlib.h>
#include <string.h>

#include "tract/common.h"

#include "parents.h"

static int grow_items(struct bc_parent_list *pl, size_t need)
{
	const char **items;
	int64_t *positions;

	if (need <= pl->items_cap)
		return 0;
	items = realloc(pl->items, need * sizeof(*items));
	if (!items)
		return TRACT_ENOMEM;
	pl->items = items;
	positions = realloc(pl->positions, need * sizeof(*positions));
	if (!positions)
		return TRACT_ENOMEM;
	pl->positions = positions;
	pl->items_cap = need;
	return 0;
}

/* Append one "position SP hash" item (NUL-terminated in place). */
static int add_parent(struct bc_parent_list *pl, char *item)
{
	char *hash = strchr(item, ' ');
	size_t i;

	if (!hash)
		return TRACT_ECORRUPT;
	*hash++ = '\0';
	/* Insertion sort by position: merge commits have a handful of
	 * parents, and items that come in order cost one comparison each. */
	i = pl->n++;
	pl->positions[i] = strtoll(item, NULL, 10);
	pl->items[i] = hash;
	for (; i > 0 && pl->positions[i - 1] > pl->positions[i]; i--) {
		int64_t p = pl->positions[i];
		const char *h = pl->items[i];
		pl->positions[i] = pl->positions[i - 1];
		pl->items[i] = pl->items[i - 1];
		pl->positions[i - 1] = p;
		pl->items[i - 1] = h;
	}
	return 0;
}

int bc_parents_split(struct bc_parent_list *pl, const char *packed)
{
	size_t len, count = 1, i;
	char *s, *sep;
	int rc;

	pl->n = 0;
	if (!packed || !*packed)
		return 0;
	len = strlen(packed);
	for (i = 0; i < len; i++)
		count += packed[i] == BC_PARENT_SEP;
	if (len + 1 > pl->text_cap) {
		char *t = realloc(pl->text, len + 1);
		if (!t)
			return TRACT_ENOMEM;
		pl->text = t;
		pl->text_cap = len + 1;
	}
	rc = grow_items(pl, count);
	if (rc < 0)
		return rc;
	memcpy(pl->text, packed, len + 1);
	for (s = pl->text;; s = sep + 1) {
		sep = strchr(s, BC_PARENT_SEP);
		if (sep)
			*sep = '\0';
		rc = add_parent(pl, s);
		if (rc < 0 || !sep)
			return rc;
	}
}

void bc_parents_free(struct bc_parent_list *pl)
{
	free(pl->text);
	free(pl->items);
	free(pl->positions);
	memset(pl, 0, sizeof(*pl));
}
