/*
 * graph.h - history drawn as `git log --graph` draws it: every commit
 * reachable from the chosen tips (HEAD, a revision, or every branch and
 * tag), in git's graph order, with the column lines (`*`, `|`, `/`, `\`,
 * `_`, `-`, `.`) that join each commit to its parents, merge parents
 * included.
 */
#ifndef TRACT_GRAPH_H
#define TRACT_GRAPH_H

#include "common.h"
#include "commit.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of tract_graph_foreach(): TRACT_GRAPH_OPTIONS_INIT or
 *  tract_graph_options_init(). */
typedef struct {
	unsigned int version;
	/** Start at this revision (tract_revision_resolve()); NULL = HEAD
	 *  unless all is set. */
	const char *start;
	/** Start at every branch (refs/heads/...), every tag (refs/tags/...)
	 *  and HEAD, plus start when given. */
	int all;
	/** Stop after this many commits; 0 = every commit reachable. */
	size_t limit;
} tract_graph_options;

#define TRACT_GRAPH_OPTIONS_VERSION 1
#define TRACT_GRAPH_OPTIONS_INIT {TRACT_GRAPH_OPTIONS_VERSION, NULL, 0, 0}

/** Initialize opts as TRACT_GRAPH_OPTIONS_INIT with the given version. */
TRACT_EXTERN(int) tract_graph_options_init(tract_graph_options *opts, unsigned int version);

/** One line of the drawing. */
typedef struct {
	/** The graph columns of this line, padded with spaces to the width
	 *  the graph has around this commit (as git pads them, so text
	 *  after them lines up); ASCII. */
	const char *graph;
	/** On a commit's own line (the `*`), the commit (borrowed for the
	 *  call); NULL on the lines that only join columns. */
	const tract_commit *commit;
	/** On a commit's line, its refs as git decorates them: "HEAD ->
	 *  main, tag: v1, feature" (HEAD first, "HEAD -> B" when HEAD is
	 *  attached to B, then tags and branches); "" when none. */
	const char *decoration;
} tract_graph_line;

/**
 * Callback of tract_graph_foreach(): 0 to go on, a positive value to stop
 * (the walk returns 0), a negative TRACT_E* code to stop with it (set the
 * error first).
 */
typedef int (*tract_graph_cb)(const tract_graph_line *line, void *payload);

/**
 * Draw the history line by line, as `git log --graph --decorate` does:
 * commits in git's graph order (a commit after all its children; after a
 * commit, its last ready parent first, so a merged branch is drawn before
 * the line it was merged into; the tips newest first). The walk is lazy:
 * it reads commits newer than the oldest parent of what it has printed
 * (dates order the walk, assuming a commit is not older than its
 * parents), so a limit of 50 does not read a long history. flags:
 * TRACT_LOG_CONTENT reads each printed commit's content.
 */
TRACT_EXTERN(int) tract_graph_foreach(tract *t, const tract_graph_options *opts,
				      unsigned int flags, tract_graph_cb cb, void *payload);

#ifdef __cplusplus
}
#endif
#endif
