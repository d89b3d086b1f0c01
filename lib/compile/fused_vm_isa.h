/* fused_vm_isa.h -- fused_vm.c's chain loops for one vector width: the
 * float32 one (named VM_F32) and the float64 one (VM_F64), each an
 * instance of fused_vm_chain.h.  The includer defines VM_TARGET,
 * VM_VBYTES, VM_NACC, VM_REP and VM_STREAM (fused_vm_chain.h says what
 * they are); all of them are undefined again at the end. */
#define VM_CHAIN VM_F32
#define VM_T float
#define VM_P F_
#define VM_HALVES 2 /* a vector of float32 is two of float64 */
#include "fused_vm_chain.h"
#undef VM_CHAIN
#undef VM_T
#undef VM_P
#undef VM_HALVES
#define VM_CHAIN VM_F64
#define VM_T double
#define VM_P D_
#define VM_HALVES 1
#include "fused_vm_chain.h"
#undef VM_CHAIN
#undef VM_T
#undef VM_P
#undef VM_HALVES
#undef VM_F32
#undef VM_F64
#undef VM_TARGET
#undef VM_VBYTES
#undef VM_NACC
#undef VM_REP
#undef VM_STREAM
