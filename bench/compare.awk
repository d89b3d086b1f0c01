# compare.awk -- two results.json files of make bench (old, then new): our
# median and the ratio to each reference, old and new, row by row.
#   awk -f bench/compare.awk bench/out/results.prev.json bench/out/results.json
# Reads the one-row-per-line layout that report.awk writes.
function field(s, key,    i, r) {
    i = index(s, "\"" key "\": ")
    if (!i) return ""
    r = substr(s, i + length(key) + 4)
    if (substr(r, 1, 1) == "\"") { r = substr(r, 2); return substr(r, 1, index(r, "\"") - 1) }
    match(r, /^[^,}]*/)
    return substr(r, 1, RLENGTH)
}
function num(x, u) {
    if (x == "" || x == "null") return "-"
    x += 0
    if (u == "MB") return sprintf("%.0fMB", x)
    return x < 1e-3 ? sprintf("%.1fus", x * 1e6) : x < 1 ? sprintf("%.2fms", x * 1e3) : sprintf("%.3fs", x)
}
/^\{"workload"/ {
    k = field($0, "workload") SUBSEP field($0, "size") SUBSEP field($0, "reference")
    if (FNR == NR) { old[k] = field($0, "ours"); oldr[k] = field($0, "ratio"); next }
    nrow++; key[nrow] = k; unit[nrow] = field($0, "unit")
    new[k] = field($0, "ours"); newr[k] = field($0, "ratio")
}
END {
    f = "%-62s %-14s %-10s %10s %10s %8s   %6s -> %-6s\n"
    printf f, "workload", "size", "reference", "ours old", "ours new", "change", "ratio", "ratio"
    for (i = 1; i <= nrow; i++) {
        k = key[i]
        split(k, p, SUBSEP)
        o = (k in old) ? old[k] : ""
        ch = (o != "" && o != "null" && o + 0 > 0 && new[k] != "null") ? sprintf("%+.0f%%", (new[k] / o - 1) * 100) : "-"
        printf f, p[1], p[2], p[3], num(o, unit[i]), num(new[k], unit[i]), ch, \
            (k in oldr) && oldr[k] != "null" ? sprintf("%.2f", oldr[k]) : "-", newr[k] != "null" ? sprintf("%.2f", newr[k]) : "-"
    }
}
