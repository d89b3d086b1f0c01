# report.awk -- bench/out/raw.tsv (from bench/bench.sh) to the table on
# standard output and, with -v json=FILE, the same rows as JSON, one per line.
# Input, tab-separated; the T lines sorted by value, so medians are the middle:
#   M KEY VALUE                          the machine, the run, the floors
#   X SIDE REASON                        a reference that cannot run
#   C WORKLOAD SIZE UNIT REFS FLOOR AMT  a case, in table order
#   F SIDE WORKLOAD CMD                  a failed command
#   T SIDE WORKLOAD SIZE VALUE           one sample (seconds, MB or bytes: B)
BEGIN { FS = "\t" }
# a key given twice: the floors (GB/s, GFLOP/s) keep the better, others the first
$1 == "M" {
    if (!($2 in m)) { m[$2] = $3; mkey[++nm] = $2 }
    else if ($2 ~ /(GBps|GFLOPs|Gps)$/ && $3 + 0 > m[$2] + 0) m[$2] = $3
}
$1 == "X" { skip[$2] = $3 }
$1 == "C" { nc++; cw[nc] = $2; cs[nc] = $3; cu[nc] = $4; cr[nc] = $5; cf[nc] = $6; ca[nc] = $7 }
$1 == "F" { failed[$2, $3] = 1 }
$1 == "T" { k = $2 SUBSEP $3 SUBSEP $4; n[k]++; v[k, n[k]] = $5 }

function cnt(k) { return (k in n) ? n[k] : 0 }
function med(k) { return n[k] % 2 ? v[k, (n[k] + 1) / 2] : (v[k, n[k] / 2] + v[k, n[k] / 2 + 1]) / 2 }
function fmt(x, u) {
    if (x == "") return "-"
    if (u == "MB") return sprintf("%.0f MB", x)
    if (u == "B") return sprintf("%.0f B", x)
    if (x < 1e-3) return sprintf("%.1f us", x * 1e6)
    if (x < 1) return sprintf("%.2f ms", x * 1e3)
    return sprintf("%.3f s", x)
}
function floor_of(i) {
    if (cf[i] == "bytes" && m["bw_GBps"] > 0) return ca[i] / (m["bw_GBps"] * 1e9)
    # bytes over the bandwidth, or the tanh of each element (AMT / 8 of
    # them) at the vectorised rate, whichever is longer
    if (cf[i] == "bytes_tanh" && m["bw_GBps"] > 0) {
        f = ca[i] / (m["bw_GBps"] * 1e9)
        t = m["tanh_Gps"] > 0 ? ca[i] / 8 / (m["tanh_Gps"] * 1e9) : 0
        return t > f ? t : f
    }
    if (cf[i] == "flop32" && m["sgemm_GFLOPs"] > 0) return ca[i] / (m["sgemm_GFLOPs"] * 1e9)
    if (cf[i] == "flop64" && m["dgemm_GFLOPs"] > 0) return ca[i] / (m["dgemm_GFLOPs"] * 1e9)
    if (cf[i] == "mem") return ca[i] / 1e6
    return ""
}
function why(side, wl) {
    if (side in skip) return "skipped: " skip[side]
    if ((side, wl) in failed) return "failed"
    return "no data"
}
function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function jnum(x) { return x == "" ? "null" : sprintf("%.6g", x) }

END {
    # the GEMM rate: also the best direct cblas product of this run
    for (i = 1; i <= nc; i++) {
        k = "cblas" SUBSEP cw[i] SUBSEP cs[i]
        r = cnt(k) && v[k, 1] > 0 ? ca[i] / v[k, 1] * 1e-9 : 0
        g = cf[i] == "flop32" ? "sgemm_GFLOPs" : "dgemm_GFLOPs"
        if (cf[i] ~ /^flop/ && r > m[g] + 0) m[g] = sprintf("%.2f", r)
    }
    printf "make bench  %s  commit %s  %s (%s cores)\n", m["date"], m["commit"], m["cpu"], m["cores"]
    printf "load average (1/5/15 min) at start %s, at end %s\n", m["load_start"], m["load_end"]
    printf "threads: %s on every side (OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=%s, torch.set_num_threads(%s)); OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s; OpenBLAS core %s\n", \
        m["threads"], m["threads"], m["threads"], m["OPENBLAS_CORETYPE"], m["OPENBLAS_L2_SIZE"], m["blas_core"]
    printf "references: torch %s, numpy %s (/usr/bin/python3), cblas = direct OpenBLAS call\n", \
        ("torch" in m) ? m["torch"] : "absent", ("numpy" in m) ? m["numpy"] : "absent"
    printf "floors: memory %s GB/s (best of memcpy and a streaming add, 1 or %s threads; first measurement: %s),\n", \
        m["bw_GBps"], m["threads"], m["bw_detail"]
    printf "        sgemm %s GFLOP/s, dgemm %s GFLOP/s (best of bench_gemm rate and this run's cblas products),\n", \
        m["sgemm_GFLOPs"], m["dgemm_GFLOPs"]
    printf "        tanh %s G/s (the float32 tanh kernel over a block in L1, %s threads; tanh rows: the longer of the two floors)\n", \
        m["tanh_Gps"], m["threads"]
    printf "times: median of all repetitions over %s alternating rounds; ratio = reference / ours (>1: we are faster or smaller);\n", m["rounds"]
    printf "(best) = the same ratio of the best repetitions; ours/floor from the median\n\n"
    hdr = "%-62s %-14s %10s  %-10s %10s %7s %7s %10s %9s\n"
    printf hdr, "workload", "size", "ours", "reference", "ref", "ratio", "(best)", "floor", "ours/floor"
    if (json != "") {
        printf "{\n\"machine\": {" > json
        for (i = 1; i <= nm; i++) printf "%s%s: %s", (i > 1 ? ", " : ""), jstr(mkey[i]), jstr(m[mkey[i]]) > json
        printf "},\n\"statistic\": \"median\",\n\"rows\": [\n" > json
    }
    rows = 0
    for (i = 1; i <= nc; i++) {
        ko = "ours" SUBSEP cw[i] SUBSEP cs[i]
        ours = (ko in n) ? med(ko) : ""
        fl = floor_of(i)
        nr = split(cr[i], refs, ",")
        for (j = 1; j <= nr; j++) {
            kr = refs[j] SUBSEP cw[i] SUBSEP cs[i]
            ref = (kr in n) ? med(kr) : ""
            ratio = (ours != "" && ref != "" && ours > 0) ? ref / ours : ""
            best = ratio == "" ? "" : v[kr, 1] / v[ko, 1]
            status = ours == "" ? "ours " why("ours", cw[i]) : ref == "" ? why(refs[j], cw[i]) : "ok"
            printf hdr, cw[i], cs[i], fmt(ours, cu[i]), refs[j], ref == "" ? why(refs[j], cw[i]) : fmt(ref, cu[i]), \
                ratio == "" ? "-" : sprintf("%.2f", ratio), best == "" ? "-" : sprintf("%.2f", best), fmt(fl, cu[i]), \
                (fl != "" && ours != "") ? sprintf("%.1fx", ours / fl) : "-"
            if (json != "")
                printf "%s{\"workload\": %s, \"size\": %s, \"unit\": %s, \"ours\": %s, \"ours_min\": %s, \"ours_n\": %d, " \
                    "\"reference\": %s, \"ref\": %s, \"ref_min\": %s, \"ref_n\": %d, \"ratio\": %s, \"ratio_best\": %s, \"floor\": %s, \"status\": %s}", \
                    rows++ ? ",\n" : "", jstr(cw[i]), jstr(cs[i]), jstr(cu[i]), jnum(ours), jnum(cnt(ko) ? v[ko, 1] : ""), cnt(ko), \
                    jstr(refs[j]), jnum(ref), jnum(cnt(kr) ? v[kr, 1] : ""), cnt(kr), jnum(ratio), jnum(best), jnum(fl), jstr(status) > json
        }
    }
    if (json != "") {
        printf "\n]\n}\n" > json
        printf "\n(written to %s)\n", json
    }
}
