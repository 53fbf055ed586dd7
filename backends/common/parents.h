/*
 * parents.h - the merge parents a chain walk packs into one column: items
 * "POSITION SP HASH" joined by BC_PARENT_SEP (ASCII US), in any order
 * (SQLite's group_concat cannot order them), split into the hashes in
 * position order that tract_chain_row.extra_parents hands over.
 */
#ifndef TRACT_BACKEND_COMMON_PARENTS_H
#define TRACT_BACKEND_COMMON_PARENTS_H

#include <stddef.h>
#include <stdint.h>

/* Separator of the packed items (ASCII US, char(31) / chr(31) in SQL). */
#define BC_PARENT_SEP '\x1f'

/* Per-walk scratch for the merge parents of the current row, reused row
 * after row; zero-initialise, release with bc_parents_free(). */
struct bc_parent_list {
	char *text;
	size_t text_cap;
	const char **items; /* the hashes in position order, pointing into text */
	int64_t *positions;
	size_t items_cap;
	size_t n;
};

/*
 * Split packed (NULL or "" : none) into pl->items / pl->n, valid until the
 * next call. TRACT_ENOMEM, or TRACT_ECORRUPT for an item without its
 * position.
 */
int bc_parents_split(struct bc_parent_list *pl, const char *packed);

void bc_parents_free(struct bc_parent_list *pl);

#endif
