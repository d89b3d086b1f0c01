/* internal.h -- what the library's files share and users do not need: the
 * layers' headers, lowest first.  A file that needs one layer only may
 * include that header alone. */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H
#include "core/core.h"
#include "ops/ops.h"
#include "backend/backend.h"
#include "autograd/autograd.h"
#include "io/io.h"
#include "expr/names.h"
#include "compile/compile.h"
#endif
