/* cpu.c -- what the processor offers, asked once. */
#include "core/core.h"

bool tg_cpu_has_fma(void)
{
#if TG_HAVE_FMA_TARGET
    static int known = -1;
    if (known < 0)
        known = __builtin_cpu_supports("fma") ? 1 : 0;
    return known;
#else
    return false;
#endif
}
