# mask.awk -- compares an example's output with its expected output where
# some lines depend on the machine (used by tests/bats/examples.bats and
# `make examples-update`, see mk/examples.mk).
#
#   awk -v expected=examples/expected/NN-name.out -f examples/mask.awk OUTPUT
#
# A line of the expected file that starts with "~ " (a tilde and a space) is
# a pattern: an extended regular expression that the whole output line at
# the same line number must match.  This prints OUTPUT with every line that
# matches its pattern replaced by the pattern line itself, and every other
# line as it is; so the result equals the expected file byte for byte
# exactly when the output matches it, and a diff of the two shows only the
# real differences.  A missing expected file leaves OUTPUT unchanged.
{
    e = ""
    if (expected != "" && (getline e < expected) <= 0)
        e = ""
    if (substr(e, 1, 2) == "~ " && $0 ~ ("^(" substr(e, 3) ")$"))
        print e
    else
        print
}
