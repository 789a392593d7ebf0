# bench/quiet.sh: sourced by the benchmark scripts. Ratios are only comparable when both sides get the
# same machine: before measuring, wait until the 1-minute load average is below BENCH_MAX_LOAD
# (default 1.0) for up to BENCH_QUIET_WAIT seconds (default 180), then refuse (exit 3) unless
# BENCH_ALLOW_LOAD=1, in which case the figures are printed with a warning that the machine was busy.
wait_for_quiet() {
    local max=${BENCH_MAX_LOAD:-1.0} wait=${BENCH_QUIET_WAIT:-180} waited=0 load
    while :; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        if awk -v l="$load" -v m="$max" 'BEGIN { exit !(l < m) }'; then return 0; fi
        if ((waited >= wait)); then
            if [[ ${BENCH_ALLOW_LOAD:-0} == 1 ]]; then
                printf '# WARNING: load average %s is above %s: the machine is busy, ratios may be off\n' "$load" "$max"
                return 0
            fi
            printf '%s: load average %s stayed above %s for %ss: the machine is busy (set BENCH_ALLOW_LOAD=1 to measure anyway)\n' \
                "${0##*/}" "$load" "$max" "$wait" >&2
            exit 3
        fi
        ((waited == 0)) && printf 'waiting for a quiet machine (load average %s, want < %s) ...\n' "$load" "$max" >&2
        sleep 5
        waited=$((waited + 5))
    done
}
