// tg_cuda_check.cuh -- what the CUDA backend's entry points share: the
// dtype codes of tg_cuda_abi.h's calls, and CHECK, which ends an entry
// point with -1 and the CUDA error's text in err (en bytes) when a CUDA
// call fails: every CUDA call is checked.
#pragma once
#include <cstdio>
#include <cuda_runtime.h>

enum { DT_F32 = 0, DT_F64 = 1, DT_I64 = 2, DT_BOOL = 3 };

#define CHECK(call)                                                                        \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) {                                                           \
            snprintf(err, (size_t)en, "%s: %s", #call, cudaGetErrorString(e_));            \
            return -1;                                                                     \
        }                                                                                  \
    } while (0)
