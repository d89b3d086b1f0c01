/* compile.h -- what the rest of the library knows of compiled
 * evaluation (internal). */
#ifndef TG_COMPILE_COMPILE_H
#define TG_COMPILE_COMPILE_H
#include "core/core.h"

/* what compiled evaluation's generated loops would use (jit.c), for
 * tdevice: TG_JIT not 0, the compiler and whether it is found on PATH, the
 * cache folder ("" when there is none), and whether it would be used
 * (jit_cache.c's checks; else why not) */
typedef struct {
    bool enabled, compiler_found, cache_usable;
    const char *compiler;
    char cache[4096];
    char cache_refused[1024];
} tg_jit_info;
void tg_jit_describe(tg_jit_info *info);

/* compiled evaluation's plan kept on a program (compile.c); NULL is fine */
struct tg_fused_plan;
void tg_fused_plan_free(struct tg_fused_plan *pl);
#endif
