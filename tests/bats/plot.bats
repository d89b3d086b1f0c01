#!/usr/bin/env bats
# plot.bats -- tgrad --plot (lib/expr/plot.c, lib/io/chart*.c): the text
# chart's shape and gaps, the SVG well-formed and its curves the numbers
# of --batch, PNG through gnuplot (skipped where it is missing), gnuplot
# never taken from the current folder, and the errors.

load helper

@test "--plot as text: the legend, one line less than the height, no line wider than the width" {
    run env COLUMNS=50 LINES=15 tgrad 'sin(x)' --plot -3:3 --at 1
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 14 ]
    [[ "${lines[0]}" == "* f(x) = sin(x)   + f'(x)" ]]
    [[ "${lines[1]}" == "o. tangent at x = 1: slope 0.5403" ]]
    for l in "${lines[@]}"; do [ "${#l}" -le 50 ] || { echo "too wide: $l"; return 1; }; done
    [[ "$output" == *o* ]]
    # no terminal, no COLUMNS or LINES: 80 x 24; log(x) has a gap left of
    # 0 (f' is PyTorch's 1/x there, drawn); f = x is a diagonal of '*'
    run env -u COLUMNS -u LINES tgrad 'log(x)' --plot -1:1 --plot-points 101
    [ "$status" -eq 0 ]
    [ "${#lines[@]}" -eq 23 ]
    for l in "${lines[@]}"; do [ "${#l}" -le 80 ] || { echo "too wide: $l"; return 1; }; done
    for l in "${lines[@]:1:19}"; do # the plot's rows: no '*' left of x = 0
        local row=${l#*[|+]}
        [[ "${row:0:36}" != *'*'* ]] || { echo "f drawn where log is NaN: $l"; return 1; }
    done
    [[ "$output" == *'*'* ]]
}

@test "--plot -o FILE.svg: well-formed, and its curves and tangent are the numbers of --batch" {
    tgrad 'x*log(x)' --plot -1:2 --plot-points 31 --at 1 -o "$TMP/f.svg"
    xs=$(/usr/bin/python3 -c 'print([round(-1 + 0.1 * i, 10) for i in range(31)])')
    tgrad 'x*log(x)' --batch --at "x=$xs" > "$TMP/batch.json" 2>/dev/null
    if command -v xmllint >/dev/null; then xmllint --noout "$TMP/f.svg"; fi
    /usr/bin/python3 - "$TMP/f.svg" "$TMP/batch.json" "$xs" <<'EOF'
import json, re, sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])  # raises on XML that is not well-formed
batch, xs = json.load(open(sys.argv[2])), json.loads(sys.argv[3])
g = [e for e in doc.getElementsByTagName("g") if e.getAttribute("class") == "plot"][0]
x0, x1 = map(float, g.getAttribute("data-x").split())
y0, y1 = map(float, g.getAttribute("data-y").split())
left, top, width, height = map(float, g.getAttribute("data-box").split())
def data(px, py):
    return x0 + (px - left) / width * (x1 - x0), y1 - (py - top) / height * (y1 - y0)
def points(cls):
    p = [e for e in g.getElementsByTagName("path") if e.getAttribute("class") == cls][0]
    return [data(float(a), float(b)) for a, b in re.findall(r"[ML]([-0-9.]+) ([-0-9.]+)", p.getAttribute("d"))]
assert (x0, x1) == (-1, 2), (x0, x1)
for cls, key in (("f", "value"), ("df", "grad")):
    want = [(x, float(v)) for x, v in zip(xs, batch[key] if key == "value" else batch[key]["x"])
            if abs(float(v)) != float("inf") and float(v) == float(v)]
    got = points(cls)
    assert len(got) == len(want) == 20, (cls, len(got), len(want))  # x <= 0: gaps
    for (gx, gy), (wx, wy) in zip(got, want):
        assert abs(gx - wx) < 1e-3 * (x1 - x0) and abs(gy - wy) < 1e-3 * (y1 - y0), (cls, gx, gy, wx, wy)
(ta, fa), (tb, fb) = points("tangent")
assert abs((fb - fa) / (tb - ta) - 1) < 1e-2  # f'(1) = log(1) + 1
c = doc.getElementsByTagName("circle")[0]
cx, cy = data(float(c.getAttribute("cx")), float(c.getAttribute("cy")))
assert abs(cx - 1) < 1e-2 and abs(cy) < 1e-2, (cx, cy)
EOF
    # -o - writes the same SVG to standard output
    tgrad 'x*log(x)' --plot -1:2 --plot-points 31 --at 1 -o - | cmp - "$TMP/f.svg"
}

@test "--plot -o FILE.png through gnuplot; gnuplot never from the current folder or a relative PATH" {
    mkdir -p "$TMP/here"
    printf '#!/bin/sh\ntouch "%s/ran"\n' "$TMP" > "$TMP/here/gnuplot"
    chmod +x "$TMP/here/gnuplot"
    tool=$(command -v tgrad)
    for path in "" ":" ".:/nonexistent" "here"; do
        run -4 --separate-stderr bash -c "cd '$TMP' && PATH='$path' '$tool' 'x**2' --plot 0:1 -o '$TMP/f.png'"
        [[ "$stderr" == "tgrad: a .png plot is drawn by gnuplot, which is not installed"* ]]
    done
    [ ! -e "$TMP/ran" ] && [ ! -e "$TMP/f.png" ]
    command -v gnuplot >/dev/null || skip "gnuplot is not installed (Debian: gnuplot-nox)"
    (cd "$TMP/here" && tgrad 'sin(x)' --plot -3:3 --at '[0,2]' -o "$TMP/f.png")
    [ "$(head -c 4 "$TMP/f.png" | od -An -c | tr -d ' \n')" = '211PNG' ]
    [ ! -e "$TMP/ran" ]
}

@test "--plot: bad plots are one line, status 2 or 3, and leave the output file as it was" {
    fails_with 2 "^tgrad: --plot draws a function of one variable, and 2 are left \(x, y\)" tgrad 'x*y' --plot 0:1
    fails_with 2 "^tgrad: --plot expects LO:HI, two finite numbers with LO < HI" tgrad x --plot 1:0
    fails_with 2 "^tgrad: --at 5: a tangent's point must lie in the plotted interval \[0, 1\]" tgrad x --plot 0:1 --at 5
    fails_with 2 "^tgrad: --plot writes SVG .* not '.pdf'" tgrad x --plot 0:1 -o f.pdf
    fails_with 2 "^tgrad: --plot draws f and f' of one variable: it does not combine" tgrad x --plot 0:1 --lines
    echo old > "$TMP/f.svg"
    fails_with 3 "^tgrad: --plot draws a function whose value is one number, and at each point the result has shape \[2\]" \
        tgrad 'x*w' --at 'w=[1,2]' --plot 0:1 -o "$TMP/f.svg"
    [ "$(cat "$TMP/f.svg")" = old ]
    # a constant by --at NAME=VALUE, an op without a batching rule (a mask
    # of the point's values: point by point)
    run tgrad 'x[x > 0.5].sum() * w' --at w=2 --plot 0:1 -o "$TMP/f.svg"
    [ "$status" -eq 0 ] && [ -z "$output" ]
    grep -q 'class="f"' "$TMP/f.svg"
}
