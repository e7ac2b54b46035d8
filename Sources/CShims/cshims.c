#include "cshims.h"

// The commit `skiff --version` reports: the Makefile writes skiff_commit.h (git-ignored).
#if __has_include("skiff_commit.h")
#include "skiff_commit.h"
#endif
#ifndef SKIFF_COMMIT
#define SKIFF_COMMIT "unknown"
#endif

const char *skiff_build_commit(void) { return SKIFF_COMMIT; }
