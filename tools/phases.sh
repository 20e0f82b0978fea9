# Phases, checks and timings shared by tools/image_test.sh and tools/compose_test.sh, which source
# this file after setting SCRIPT (the name they print: image-test, compose-test). `begin NAME` and
# `end` time a phase, `pass` and `fail` report a check (`fail` exits 1), `print_timings` lists the
# phases and the total since this file was sourced. `http_get URL` prints the status on its first
# line, then the body (0 and the error when there is no answer in $HTTP_TIMEOUT_S, default 10 s).
PHASES=()
phase_start=0
current=""
now() { date +%s.%N; }
begin() {
    current=$1
    phase_start=$(now)
    printf '\n=== %s: %s\n' "$SCRIPT" "$current"
}
end() {
    local took
    took=$(awk -v a="$phase_start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    PHASES+=("$(printf '%-48s %7s s' "$current" "$took")")
    printf '=== %s: %s done in %s s\n' "$SCRIPT" "$current" "$took"
    current=""
}
fail() {
    printf '\n%s: FAILED%s: %s\n' "$SCRIPT" "${current:+ ($current)}" "$*" >&2
    exit 1
}
pass() { printf '  ok    %s\n' "$*"; }
print_timings() {
    local p
    echo
    echo "$SCRIPT: timings"
    for p in "${PHASES[@]}"; do echo "  $p"; done
    printf '  %-48s %7s s\n' total \
        "$(awk -v a="$TOTAL_START" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')"
}
TOTAL_START=$(now)
http_get() {
    python3 - "$1" "${HTTP_TIMEOUT_S:-10}" <<'EOF'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:
        print(r.status); sys.stdout.write(r.read().decode("utf-8", "replace"))
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print(0); print(f"{type(e).__name__}: {e}")
EOF
}
