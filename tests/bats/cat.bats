#!/usr/bin/env bats
# tbroadcast --cat: .npy shards merged into one, as torch.cat joins them;
# written as it is made, whole or not at all.
load helper

@test "--cat joins shards as torch.cat does, along dim 0 or --dim" {
    cd "$TMP"
    tgrad 'x.reshape(2,3)' --at '[0,1,2,3,4,5]' --no-grad -o a.npy >/dev/null
    tgrad 'x.reshape(2,2)+50' --at '[0,1,2,3]' --no-grad -o c.npy >/dev/null
    run tbroadcast --cat a.npy '[[7,8,9]]' a.npy
    [ "$output" = '[[0,1,2],[3,4,5],[7,8,9],[0,1,2],[3,4,5]]' ]
    # a .npy output, written piece by piece: the bytes of torch.cat's result saved
    tbroadcast --cat a.npy c.npy --dim -1 -o ac.npy
    tgrad 'torch.cat([a,c],1)' --at a=a.npy --at c=c.npy --no-grad -o ref.npy >/dev/null
    cmp ac.npy ref.npy
    [ "$(tbroadcast ac.npy)" = '[[0,1,2,50,51],[3,4,5,52,53]]' ]
}

@test "--cat holds one shard at a time: four 10 MB shards under a 40 MB address space" {
    [ -z "${TG_SANITIZE:-}${TG_UNDER_VALGRIND:-}" ] || skip "ulimit -v does not work under ASan or valgrind"
    cd "$TMP"
    for k in 1 2 3 4; do tgrad 'x.expand(2500000)' --at "[$k.0]" --no-grad -o s$k.npy >/dev/null; done
    run --separate-stderr bash -c 'ulimit -v 40000; tbroadcast --cat s1.npy s2.npy s3.npy s4.npy -o all.npy'
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    [ "$(stat -c %s all.npy)" -eq $((128 + 40000000)) ]
    [ "$(tgrad 'x.shape[0] + (x[2499999] == 1) + (x[2500000] == 2) + (x[-1] == 4)' --at all.npy --no-grad)" = '{"value":10000003}' ]
}

@test "--cat refuses shards that do not go together, and leaves the old output" {
    cd "$TMP"
    tgrad 'x.reshape(2,3)' --at '[0,1,2,3,4,5]' --no-grad -o a.npy >/dev/null
    tgrad 'x.reshape(2,3)' --at '[0,1,2,3,4,5]' --dtype float64 --no-grad -o d.npy >/dev/null
    fails_with 3 "d.npy is float64 but a.npy is float32: the shards must have one dtype" tbroadcast --cat a.npy d.npy
    fails_with 3 "\[1,2\] has shape \[2\] but a.npy has \[2,3\]: the shapes must agree except in dimension 0" \
        tbroadcast --cat a.npy '[1,2]'
    fails_with 3 "\[\[1,2\]\] has shape \[1,2\] but a.npy has \[2,3\]: .* except in dimension 1" \
        tbroadcast --cat a.npy '[[1,2]]' --dim 1
    fails_with 3 "3 is 0-D: a zero-dimensional tensor cannot be concatenated" tbroadcast --cat '[1]' 3
    fails_with 3 "--dim 2 is out of range for shards of 2 dimensions" tbroadcast --cat a.npy a.npy --dim 2
    fails_with 4 "cannot open 'nope.npy'" tbroadcast --cat a.npy nope.npy
    fails_with 2 "no shards given" tbroadcast --cat
    fails_with 2 "--dim goes with --cat" tbroadcast a.npy --dim 1
    fails_with 2 "--grad does not apply" tbroadcast --cat a.npy --grad
    # a shard whose header is good and data short is found while writing:
    # the old output stays, no temporary is left
    head -c 140 a.npy >short.npy
    cp a.npy out.npy
    fails_with 3 "short.npy.*truncated" tbroadcast --cat a.npy short.npy -o out.npy
    cmp a.npy out.npy
    [ "$(ls -A | grep -c tmp)" -eq 0 ]
}
