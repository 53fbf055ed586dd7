/*
 * warning.h - warnings from the core (budget warn, missing tokenizer data),
 * routed to the hook set with tract_warning_hook_set() (internal).
 */
#ifndef TRACT_CORE_WARNING_H
#define TRACT_CORE_WARNING_H

void tract_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** A debug line, routed to tract_debug_hook_set()'s hook. */
void tract_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Whether a debug line would go anywhere (skip building it otherwise). */
int tract_debug_enabled(void);

#endif
