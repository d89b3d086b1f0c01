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

/* Elements from which the default path fuses an elementwise program: below
 * it the eager path's smaller fixed cost wins (measured: see tgrad(1)). */
#define TG_FUSE_DEFAULT_MIN 65536
/* The default path's fused evaluation (tg_run_eval without --compile): as
 * tg_compiled_eval, but only on the CPU, from TG_FUSE_DEFAULT_MIN elements
 * (smaller: from the second call with the same names, dtypes and shapes,
 * the plan kept on the program; variables all of one element are then its
 * inputs),
 * with generated code only when --compile left it in the cache (no
 * compiler is run), for programs whose every number it gives as the eager
 * path does, sums included (so not, e.g., a one-value parameter's
 * gradient that is a sum times a constant).  TG_NO (no error) otherwise,
 * and under TG_FUSE=0.  Consumes o->grad_output in every case. */
tg_status tg_fused_default_eval(tg_program *p, tg_env *env, int nvars, const tg_grad_opts *o, tg_tensor **value,
                                tg_tensor **grads);
/* false under TG_FUSE=0 (the environment as it was at the first call) */
bool tg_fuse_enabled(void);

/* compiled evaluation's plan kept on a program (compile.c); NULL is fine */
struct tg_fused_plan;
void tg_fused_plan_free(struct tg_fused_plan *pl);
#endif
