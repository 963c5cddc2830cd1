# Sourced by scripts/mtr-galera: reading a test's outcome. Uses $OVERLAY from
# the runner. What mysql-test-run said (result_lines, failure_reason), whether
# our method ran and only ours (check_method), and what to show on a failure
# (show_failure).

# The test's result lines from mysql-test-run's output: "COMBINATIONS|RESULT|
# REST" per run (a test with combinations runs once per combination).
result_lines() {
    sed -nE "s@^.*$OVERLAY\.$2( '([^']*)')?[[:space:]]+\[ ([a-z-]+) \][[:space:]]*(.*)\$@\2|\3|\4@p" "$1"
}

# Checks that the test ran our method and nothing else; prints what is wrong.
check_method() {
    local vardir=$1 logs=() bad
    bad=$(grep -E '^[[:space:]]*(loose[-_])?wsrep[-_]sst[-_]method[[:space:]]*=' "$vardir/my.cnf" 2>/dev/null |
        grep -v '=[[:space:]]*rsync_tunnel[[:space:]]*$' || true)
    [ -z "$bad" ] || echo "the generated my.cnf sets another method: $bad"
    mapfile -t logs < <(find "$vardir/log" -name 'mysqld.*.err' 2>/dev/null)
    [ ${#logs[@]} -gt 0 ] || {
        echo "no mysqld error log in $vardir/log"
        return
    }
    bad=$(grep -ho "WSREP: Running: 'wsrep_sst_[a-z_]*" "${logs[@]}" | grep -v "wsrep_sst_rsync_tunnel\$" | sort -u || true)
    [ -z "$bad" ] || echo "another SST method ran: ${bad//WSREP: Running: \'/}"
    grep -hq "WSREP: Running: 'wsrep_sst_rsync_tunnel --role 'joiner'" "${logs[@]}" ||
        echo "mariadbd never ran wsrep_sst_rsync_tunnel as joiner"
    grep -hq "WSREP: Running: 'wsrep_sst_rsync_tunnel --role 'donor'" "${logs[@]}" ||
        echo "mariadbd never ran wsrep_sst_rsync_tunnel as donor"
}

show_failure() {
    local t=$1 vardir=$2 out=$3 f
    echo "    mysql-test-run output: $out"
    echo "    logs: $vardir/log (mysqld.N.err: mariadbd and the SST method's WSREP_SST: lines)"
    # mysql-test-run's own account of the failure: from the result line to
    # the end of its report.
    sed -n "/$OVERLAY\.$t[ ']/,/^ - saving\|^-----/p" "$out" | grep -v '^ - saving\|^-----' |
        head -n 60 | sed 's/^/    | /'
    for f in "$vardir"/log/mysqld.*.err; do
        [ -f "$f" ] || continue
        echo "    --- $f: last 15 lines of the SST method (WSREP_SST:)"
        { grep 'WSREP_SST:' "$f" || true; } | tail -n 15 | cut -c1-400 | sed 's/^/    | /'
        echo "    --- $f: last 10 errors ([ERROR])"
        { grep '\[ERROR\]' "$f" || true; } | tail -n 10 | cut -c1-400 | sed 's/^/    | /'
        echo "    --- $f: last 20 lines"
        tail -n 20 "$f" | cut -c1-400 | sed 's/^/    | /'
    done
}

# The first line of mysql-test-run's reason for a failure.
failure_reason() {
    sed -n '/^CURRENT_TEST:/,/^ - saving\|^-----/p' "$1" | sed '1d' | { grep -v '^[[:space:]]*$' || true; } |
        head -n 1 | cut -c1-200
}
