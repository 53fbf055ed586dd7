/*
 * replay.h - the replay routine of replay.c for other operations
 * (compression) (internal, operations layer).
 */
#ifndef TRACT_CORE_REPLAY_H
#define TRACT_CORE_REPLAY_H

#include "internal.h"

/**
 * Re-commit orig (read with its payload) onto the current head inside the
 * open transaction through the normal commit path: same content (its
 * content hash verified: TRACT_ECORRUPT otherwise), message, metadata and
 * generation config, operation op, response_to as given, and orig's
 * latest explicit annotation. *wrote is set once something is written.
 */
int tract_replay_commit_as(tract_commit **out, tract *t, const tract_row *orig, tract_operation op,
                           const char *response_to, int *wrote);

#endif
