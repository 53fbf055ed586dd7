/*
 * resolver.c - names of the issues a resolver is handed (tract/resolver.h).
 */
#include "tract/resolver.h"

const char *tract_issue_kind_name(tract_issue_kind kind)
{
	switch (kind) {
	case TRACT_ISSUE_BOTH_EDIT: return "both_edit";
	case TRACT_ISSUE_SKIP_VS_EDIT: return "skip_vs_edit";
	case TRACT_ISSUE_EDIT_PLUS_APPEND: return "edit_plus_append";
	case TRACT_ISSUE_EDIT_TARGET_MISSING: return "edit_target_missing";
	}
	return "unknown";
}
