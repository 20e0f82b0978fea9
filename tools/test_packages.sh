#!/usr/bin/env bash
# The system programs `make test` needs besides the Python environment, installed from Debian's
# packages when missing (as root, as on CI), or else a sentence naming the command to run:
#   chromium-headless-shell  the browser tests (tests/browser) drive it through Playwright
#   redis-server, caddy      the shared-cache and deployment tests start real ones
# (The image test installs its own tools, Debian's full `chromium` among them: tools/image_test.sh.)
set -euo pipefail

programs=(chromium-headless-shell redis-server caddy)  # each in the Debian package of its name
missing=()
for program in "${programs[@]}"; do
    command -v "$program" >/dev/null 2>&1 || missing+=("$program")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

install="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "make test needs ${missing[*]}, which is not installed: as root on Debian, run $install." >&2
    exit 1
fi
echo "make test: installing ${missing[*]} from Debian's packages"
log=$(mktemp)
if ! { apt-get update && DEBIAN_FRONTEND=noninteractive $install; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    echo "make test: apt-get could not install ${missing[*]} (its output above)." >&2
    exit 1
fi
rm -f "$log"
for program in "${missing[@]}"; do
    command -v "$program" >/dev/null 2>&1 \
        || { echo "make test: $program is still missing after $install." >&2; exit 1; }
done
