/*
 * row.h - helpers of the model layer shared by the files that read
 * commits (internal): copying a backend row in a callback, growing a
 * public commit list.
 */
#ifndef TRACT_CORE_ROW_H
#define TRACT_CORE_ROW_H

#include "internal.h"

/** A tract_commit_cb that copies the row into the tract_row at payload. */
int tract_row_copy_cb(const tract_commit_row *row, void *payload);

/** Append a commit made of r (taken) to a list whose capacity is *cap. */
int tract_commit_list_push(tract_commit_list *l, size_t *cap, tract_row *r);

#endif
