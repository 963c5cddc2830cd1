# Sourced by scripts/mtr-galera: the overlay suite's per-test files. Uses
# $STOCK (the installed galera suite), $tree and $OVERLAY from the runner.
# make_overlay TEST links the stock test and result files into the overlay and
# writes TEST.cnf: the stock .cnf !included, the SST method and [sst] overridden.

# The stock .cnf's groups that set the SST method, as "group key" lines.
method_groups() {
    awk '
        /^[ \t]*\[/ { g = $0; gsub(/[][ \t]/, "", g); next }
        /^[ \t]*(loose[-_])?wsrep[-_]sst[-_]method[ \t]*=/ {
            k = $0; sub(/[ \t]*=.*/, "", k); gsub(/[ \t]/, "", k); print g, k
        }' "$1"
}

# Whether the stock .cnf names option $2 (a regex over the key, '-' or '_')
# with a non-empty value.
cnf_sets() {
    grep -Eq "^[[:space:]]*(loose[-_])?($2)[[:space:]]*=[[:space:]]*[^[:space:]]" "$1"
}

make_overlay() {
    local t=$1 f stock_cnf cnf=$tree/suites/$OVERLAY/t/$t.cnf
    for f in "$STOCK/t/$t".* "$STOCK/t/$t"-*.opt; do
        [ -e "$f" ] || continue
        case "$f" in *.cnf) continue ;; esac
        ln -sf "$f" "$tree/suites/$OVERLAY/t/"
    done
    for f in "$STOCK/r/$t".* "$STOCK/r/$t",*; do
        [ -e "$f" ] && ln -sf "$f" "$tree/suites/$OVERLAY/r/"
    done
    stock_cnf=$STOCK/t/$t.cnf
    [ -f "$stock_cnf" ] || stock_cnf=$STOCK/my.cnf
    {
        echo "# Made by scripts/mtr-galera: MariaDB's $(basename "$stock_cnf") with the rsync_tunnel SST method."
        echo "!include $stock_cnf"
        echo
        echo "[mysqld]"
        echo "wsrep_sst_method=rsync_tunnel"
        # A group that sets the method itself (e.g. [mysqld.2]) would
        # override [mysqld]: override it there, with the same spelling.
        method_groups "$stock_cnf" | while read -r group key; do
            [ "$group" = mysqld ] && [ "$key" = wsrep_sst_method ] && continue
            echo
            echo "[$group]"
            echo "$key=rsync_tunnel"
        done
        echo
        echo "[sst]"
        if cnf_sets "$stock_cnf" 'tcert|tkey|ssl[-_]cert|ssl[-_]key|ssl[-_](server|client)[-_](cert|key)'; then
            # The test brings its own keys: keep them. mtr's std_data
            # server certificate names only CN=localhost (no subjectAltName)
            # while the joiner advertises 127.0.0.1: check that name instead
            # (on both sides). A separate donor certificate (ssl-client-*)
            # is CN=client, which the joiner would then refuse: chain only,
            # as the test's ssl-mode=VERIFY_CA asks. Without a CA, encryption
            # without verification (stunnel's REQUIRED mode).
            if ! cnf_sets "$stock_cnf" 'tca|tcapath|ssl[-_]ca|ssl[-_]capath'; then
                echo "sockopt=verify=0"
            elif cnf_sets "$stock_cnf" 'ssl[-_]client[-_]cert'; then
                echo "sockopt=commonname"
            else
                echo "sockopt=cn=localhost"
            fi
        else
            echo "tca=$tree/pki/ca.pem"
            echo "tcert=$tree/pki/localhost.crt"
            echo "tkey=$tree/pki/localhost.key"
        fi
    } >"$cnf"
}
