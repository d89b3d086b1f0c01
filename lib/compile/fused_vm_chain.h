/* fused_vm_chain.h -- the chunk loop of fused_vm.c's instructions of one
 * float type, included there once per type and vector width: VM_CHAIN
 * names the function, VM_TARGET its target attribute, VM_T the element
 * type, VM_P its codes' prefix (F_, D_), VM_VBYTES the processor's vector
 * size in bytes, VM_NACC (4 or 8) and VM_REP the accumulator's vectors,
 * kept in registers, as are the VM_NBANKS banks' (as many each),
 * VM_STREAM a non-temporal store of one;
 * each instruction jumps straight to the next one's code (threaded code:
 * the processor predicts each jump from where it is), and VM_END ends a
 * chunk.  Returns the run's VM_END. */
/* half h of accumulator vector k as doubles, added to lane vector
 * (k * VM_HALVES + h) % NLV */
#define SUM_HALF_(k, a, lv, h)                                                \
    {                                                                         \
        VD d_; /* (element by element: no address taken, no ICE of gcc 12) */  \
        for (int e_ = 0; e_ < DPV; e_++)                                      \
            d_[e_] = a##k[(h) * DPV + e_];                                    \
        lv[((k) * VM_HALVES + (h)) % NLV] += d_;                              \
    }
#if VM_HALVES == 2
#define SUM_HALF_IF2_(k, a, lv) SUM_HALF_(k, a, lv, 1)
#else
#define SUM_HALF_IF2_(k, a, lv)
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define CODE(name) CAT(CAT(VM_, VM_P), name)
#define LABEL(name) CAT(CAT(L_, VM_P), name)
VM_TARGET static const tg_vm_ins *VM_CHAIN(const tg_vm_ins *ins, const void *const *ptr, const tg_vm_span *sp)
{
    void *const *outp = sp->outp;
    double *lanes = sp->lanes;
    const tg_vm_prefetch *pf = sp->pf;
    const int npf = sp->npf;
    const bool nt = sp->stream;
    typedef VM_T V __attribute__((vector_size(VM_VBYTES)));
    typedef double VD __attribute__((vector_size(VM_VBYTES)));
    enum { CH = VM_NACC * VM_VBYTES / (int)sizeof(VM_T) };
    /* the eager sum's lanes (TG_SUM_LANES_OF), doubles a VD holds, the
     * lane vectors a chunk adds to */
    enum { NL = VM_HALVES == 2 ? 64 : 8, DPV = VM_VBYTES / 8, NLV = (CH < NL ? CH : NL) / DPV };
    _Static_assert(NL == TG_SUM_LANES_OF(VM_HALVES == 2 ? TG_FLOAT32 : TG_FLOAT64), "the eager sum's lanes");
    _Static_assert(TG_VM_CHUNK % CH == 0, "a short block is whole chunks");
    static void *const code[VM_NCODES] = {
#define LABEL_OF(name) [CODE(name)] = &&LABEL(name),
        VM_TYPED_NAMES(LABEL_OF) [VM_END] = &&L_END,
#undef LABEL_OF
    };
#define DECL_(k, a, V, _) V a##k = {0};
    VM_REP(DECL_, a, V, ) /* the accumulator */
    VM_REP(DECL_, b0_, V, ) /* the banks */
    VM_REP(DECL_, b1_, V, )
#undef DECL_
    V cv;
    const V one = (VM_T)1 - (V){0};
    const tg_vm_ins *I = ins;
    char *p, *q;
    int64_t off;
    for (int64_t c = sp->from; c < sp->to; c += CH) {
        off = c * (int64_t)sizeof(VM_T);
        for (int s = 0; s < npf; s++) /* this chunk's share of a later block's inputs */
            for (int64_t b = c * pf[s].esz; b < (c + CH) * pf[s].esz; b += 64)
                __builtin_prefetch(pf[s].p + b);
        I = ins;
        goto *code[I->code];
#define NEXT                                                                  \
    do {                                                                      \
        I++;                                                                  \
        goto *code[I->code];                                                  \
    } while (0)
/* p: the register's values for this chunk; cv: the constant in every lane
 * (c - 0 is c, -0 and NaN included) */
#define P_ p = (char *)ptr[I->reg] + off;
#define CV_ cv = CAT(VM_P, c_of)(I) - (V){0};
#define BIN_LABELS(NAME, OP)                                                  \
    LABEL(NAME##_A_R) : P_ VM_REP(A_R_, a, V, OP) NEXT;                        \
    LABEL(NAME##_R_A) : P_ VM_REP(R_A_, a, V, OP) NEXT;                        \
    LABEL(NAME##_A_C) : CV_ VM_REP(A_C_, a, cv, OP) NEXT;                      \
    LABEL(NAME##_C_A) : CV_ VM_REP(C_A_, a, cv, OP) NEXT;                      \
    LABEL(NAME##_A_A) : VM_REP(A_A_, a, V, OP) NEXT;                        \
    LABEL(NAME##_A_B0) : VM_REP(A_B_, a, b0_, OP) NEXT;                      \
    LABEL(NAME##_B0_A) : VM_REP(B_A_, a, b0_, OP) NEXT;                      \
    LABEL(NAME##_A_B1) : VM_REP(A_B_, a, b1_, OP) NEXT;                      \
    LABEL(NAME##_B1_A) : VM_REP(B_A_, a, b1_, OP) NEXT;
    LABEL(LOAD_R) : P_ VM_REP(LOAD_R_, a, V, ) NEXT;
    LABEL(LOAD_C) : CV_ VM_REP(SET_, a, cv, ) NEXT;
    LABEL(LOAD_B0) : VM_REP(MOVE_, a, b0_, ) NEXT;
    LABEL(LOAD_B1) : VM_REP(MOVE_, a, b1_, ) NEXT;
    LABEL(SAVE_B0) : VM_REP(MOVE_, b0_, a, ) NEXT;
    LABEL(SAVE_B1) : VM_REP(MOVE_, b1_, a, ) NEXT;
    LABEL(STORE) : P_ VM_REP(STORE_, a, V, ) NEXT;
    /* an output: to its tensor, with non-temporal stores where asked
     * (written once, not read here: no read of its lines into the cache
     * first), or where the caller has none for it, to the scratch block */
    LABEL(STORE_OUT) :
        if ((q = outp ? outp[I->out] : NULL)) {
            q += off;
            if (nt) {
                VM_REP(STREAM_, a, V, )
            } else {
                p = q;
                VM_REP(STORE_, a, V, )
            }
        } else {
            P_ VM_REP(STORE_, a, V, )
        }
        NEXT;
    /* a summed output: added to its lanes, each lane's elements in
     * order, the chunk's lane vectors held in registers meanwhile; where
     * the caller has no lanes, to the scratch block */
    LABEL(SUM) :
        if (lanes) {
            double *l = lanes + (int64_t)I->out * TG_SUM_LANES + c % NL;
            VD lv[NLV];
            for (int v = 0; v < NLV; v++)
                memcpy(&lv[v], l + v * DPV, sizeof(VD));
            VM_REP(SUM_ADD_, a, lv, )
            for (int v = 0; v < NLV; v++)
                memcpy(l + v * DPV, &lv[v], sizeof(VD));
        } else {
            P_ VM_REP(STORE_, a, V, )
        }
        NEXT;
    LABEL(NEG) : VM_REP(UN_, a, NEG_, ) NEXT;
    LABEL(SQ) : VM_REP(UN_, a, SQ_, ) NEXT;
    LABEL(CUBE) : VM_REP(UN_, a, CUBE_, ) NEXT;
    LABEL(RECIP) : VM_REP(UN_, a, RECIP_, one) NEXT;
    LABEL(RECIP_SQ) : VM_REP(UN_, a, RECIP_SQ_, one) NEXT;
    BIN_LABELS(ADD, +)
    BIN_LABELS(SUB, -)
    BIN_LABELS(MUL, *)
    BIN_LABELS(DIV, /)
#undef BIN_LABELS
#undef P_
#undef CV_
#undef NEXT
    L_END:;
    }
    while (I->code != VM_END) /* (no chunk ran) */
        I++;
    return I;
}
#undef CAT_
#undef CAT
#undef CODE
#undef LABEL
#undef SUM_HALF_
#undef SUM_HALF_IF2_
