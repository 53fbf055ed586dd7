/*
 * merge_priv.h - what the files of the merge share (core/merge.c,
 * merge_sides.c, merge_conflicts.c, merge_resolve.c, merge_result.c):
 * the result object, the sides and the steps tract_merge runs in order.
 * Private to core/.
 */
#ifndef TRACT_MERGE_PRIV_H
#define TRACT_MERGE_PRIV_H

#include "internal.h"

#define SKIPPED_TEXT "[SKIPPED]"
#define UNAVAILABLE_TEXT "[content unavailable]"

typedef struct {
	tract_issue issue;
	char key[65], target[65], a[65], b[65];
	char *text_a, *text_b, *description;
	int editor_a;    /* the edit this conflict is about is the current side's */
	char *unchanged; /* the target's text as the other side left it (strategies) */
} merge_conflict;

/* One resolution per distinct key, in the order of the first conflict
 * that has the key. */
typedef struct {
	char key[65];
	char *text;      /* NULL: unresolved */
	char *reasoning; /* NULL: none */
	char *config;    /* JSON object text or NULL */
} merge_resolution;

struct tract_merge_result {
	tract *t;
	tract_merge_type type;
	int committed;
	int delete_branch;
	char *source, *target;
	char base[65], source_tip[65], target_tip[65], commit[65];
	merge_conflict *conflicts;
	size_t n_conflicts;
	merge_resolution *res;
	size_t n_res;
	char (*merged)[65];
	size_t n_merged;
};

/* What tract_merge hands its built-in resolvers as payload: with it, a
 * side that did not make the conflict's edit resolves to the target as
 * that side left it (its message at the merge base, or its own text when
 * it compiles to none there: a skipped one), not to the other commit the
 * conflict names (an append, "[SKIPPED]"). */
#define STRATEGY_MAGIC 0x6d657267u

typedef struct {
	unsigned magic;
	tract_merge_result *r;
	tract_context *base_ctx; /* compiled at the merge base, once */
	int base_done;
} strategy_ctx;

/* What conflict detection needs of a commit. */
typedef struct {
	char hash[65];
	tract_operation op;
	char response_to[65];
	char content_hash[65];
	tract_time at;
} side_commit;

typedef struct {
	side_commit *items;
	size_t count;
	int has_append;
	size_t first_append; /* index of the first APPEND when has_append */
} side;

/* merge_result.c */
merge_resolution *merge_res_find(const tract_merge_result *r, const char *key);
int merge_set_str(char **dst, const char *src);

/* merge_sides.c */
int merge_linear_base(char base[65], side *a, side *b, tract *t, const char *tip_a,
		      const char *tip_b);
int merge_collect_side(side *out, tract *t, const char *tip, const char *base);

/* merge_conflicts.c */
int merge_content_text(char **out, tract_store *s, const char *content_hash);
int merge_detect_conflicts(tract_merge_result *r, tract *t, const side *a, const side *b);
void merge_fix_issues(tract_merge_result *r);
int merge_resolution_slots(tract_merge_result *r);

/* merge_resolve.c */
int merge_run_resolver(tract_merge_result *r, tract_resolver_cb cb, void *payload);

#endif
