/*
 * property.h - what the files of the property test share (test_property.c,
 * property_gen.c, property_model.c, property_ops.c): failure reporting, the
 * generated values, the model and one run's state.
 */
#ifndef TRACT_TEST_PROPERTY_H
#define TRACT_TEST_PROPERTY_H

#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "tokenizer.h"
#include "teststore.h"
#include "testutil.h"
#include "tract.h"

#define TRACE_N 16

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		n_checks++;                                                                        \
		if (!(cond)) {                                                                     \
			print_error("%s:%d: check failed: %s\n  ", __FILE__, __LINE__, #cond);     \
			print_error(__VA_ARGS__);                                                  \
			print_error("\n");                                                         \
			dump_trace();                                                              \
			_fail(__FILE__, __LINE__);                                                 \
		}                                                                                  \
	} while (0)

#define CHECK_RC(expr)                                                                             \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		CHECK(rc_ == 0, "%s returned %d (%s): %s", #expr, rc_, tract_error_name(rc_),      \
		      tract_error_last()->message);                                                \
	} while (0)

#define SHOW(s) ((s) ? (s) : "(null)")

/* ------------------------------------------------------------------ */
/* growable string                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
	char *p;
	size_t len, cap;
} sbuf;

/* A JSON value for payloads. Object keys are kept sorted by code point
 * (the generator picks them in order); the input rendering shuffles them. */
enum { JV_NULL, JV_BOOL, JV_INT, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

typedef struct jv {
	int type;
	int b;
	const char *in;  /* number: input text */
	const char *out; /* number: expected rendering */
	char *s;
	struct jv **items;
	const char **keys;
	size_t n;
} jv;

/* One generated content: its input JSON and the message the model expects. */
typedef struct {
	char *json;
	const char *ctype;
	const char *role;
	char *content;
	char *name; /* NULL when none */
} gen_content;

/* ------------------------------------------------------------------ */
/* the model                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
	char hash[65];
	int is_edit;
	int target; /* edits: index of the edited commit */
	const char *ctype;
	const char *role;
	char *content;
	char *name;
	char *config; /* NULL = none */
	tract_time at;
} mcommit;

typedef struct {
	int target; /* index into commits */
	tract_priority p;
	tract_time at;
} mann;

typedef struct {
	mcommit *c;
	size_t nc, capc;
	mann *a;
	size_t na, capa;
} model;

typedef struct {
	const char *role, *content, *name, *config, *hash;
	int edited; /* an edit applies (for edit_markers) */
} mmsg;

typedef struct {
	unsigned seed;
	ts_store loc; /* the store's location on the backend under test */
	const char *uri;
	tract_store *s;
	tract *t;            /* the long-lived handle */
	tract_open_options topts; /* its options */
	tract_tokenizer *tok;
	model m;
	int batch_depth;
	/* held here so that teardown frees them when a check fails */
	tract *extra;
	tract_context *ctx[2];
	/* statistics */
	unsigned long hits, compiles;
} run;

/* test_property.c */
extern unsigned long n_checks;
extern unsigned cur_seed;
extern int cur_step;
extern char trace[TRACE_N][200];
extern int trace_pos;
void note(const char *fmt, ...);
void dump_trace(void);
int str_eq(const char *a, const char *b);
char *xstrdup(const char *s);

/* property_gen.c */
extern uint64_t rng_state;
unsigned rnd(unsigned n);
int chance(unsigned pct);
void gen_dispose(gen_content *g);
void gen_content_rand(gen_content *g);
char *rand_config(void);

/* property_model.c */
void model_truncate(model *m, size_t nc, size_t na);
void model_dispose(model *m);
mcommit *model_push(model *m);
void model_annotate(model *m, int target, tract_priority p, tract_time at);
size_t model_compile(mmsg *out, const model *m, size_t upto, tract_time cutoff,
                     tract_time ann_cutoff);
int json_same(const char *a, const char *b);
void check_against_model(const char *what, const tract_context *ctx, const mmsg *want,
                         size_t n, tract_tokenizer *tok);
void check_same_context(const tract_context *a, const tract_context *b);

/* property_ops.c */
extern tract_tokenizer words_tokenizer;
extern unsigned long total_hits, total_compiles, total_ops;
void verify(run *r, const char *what);
void op_any(run *r);

#endif
