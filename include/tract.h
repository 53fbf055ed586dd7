/*
 * tract.h - umbrella header of libtract: git for an LLM agent's context.
 */
#ifndef TRACT_H
#define TRACT_H

#include "tract/common.h"
#include "tract/store.h"
#include "tract/commit.h"
#include "tract/compile.h"
#include "tract/content.h"
#include "tract/tokenizer.h"
#include "tract/plugin.h"
#include "tract/fsck.h"
#include "tract/clone.h"

#endif
