#!/usr/bin/env bash
# `make compose-test`: run deploy/compose.yaml for real (Redis, two web replicas, one worker, Caddy)
# with podman-compose, and check it as a visitor would, through the proxy. Needs root on Debian 12;
# installs what it lacks from Debian's packages and fails, saying what is missing, when it cannot.
#
# Why it is done this way (these machines have no Docker engine and no access to container
# registries, only to Debian's and PyPI's package repositories; tools/image_test.sh's header says
# more on podman here):
#
# - Tools: podman, runc, podman-compose (Debian's, 1.0.3) and the CNI `dnsname` plugin
#   (golang-github-containernetworking-plugin-dnsname). podman here uses the CNI network backend,
#   where a network resolves its containers' names (`redis`, `web`) only when that plugin is
#   installed: without it podman creates the compose network with no DNS, and the replicas cannot
#   find Redis nor Caddy the replicas.
# - The lab's image: tools/image_test.sh builds it (IBL_IMAGE_TEST_BUILD_ONLY=1: its tools, lint,
#   the debootstrap stand-in for python:3.11-slim and `podman build`, then no checks), and it is
#   tagged localhost/inductive-bias-lab:latest, the name compose.yaml gives it; compose then finds it
#   and does not build (`up --no-build`). IBL_COMPOSE_TEST_NO_BUILD=1 runs the image already tagged.
#   (Running this found that the build's warm step was held to a visitor's time budget: on a busy
#   2-core host it stopped twice at view 32 of 42, "would take about 10/18 minutes ... the limit is
#   5 minutes". `python -m engine warm` is no longer held to it.)
# - Redis and Caddy: docker.io/library/redis:7.2-alpine and docker.io/library/caddy:2.8-alpine
#   cannot be pulled. Stand-ins under exactly those names are built FROM the python:3.11-slim
#   stand-in (Debian 12) with Debian's packages: Redis 7.0 (redis-server, redis-cli) and Caddy 2.6.2,
#   not 7.2 and 2.8. They behave like the official images where compose.yaml relies on them:
#     redis  redis-server and redis-cli on PATH (the health check runs `redis-cli ping`), run as the
#            user redis in /data, an entrypoint that turns protected mode off when no config file is
#            given (the official build's default; Debian's Redis would refuse the other
#            containers' connections), CMD ["redis-server"];
#     caddy  CMD caddy run --config /etc/caddy/Caddyfile --adapter caddyfile, XDG_CONFIG_HOME=/config
#            and XDG_DATA_HOME=/data, WORKDIR /srv, as root.
#   Each carries the label org.inductive-bias-lab.stand-in; a real image of that name, without the
#   label (pulled where a registry can be reached), is used as it is and never replaced.
#   Built with `podman build --runtime runc --pull=never --format docker --network host`, apt-get
#   from $IBL_DEBIAN_MIRROR (and Debian's security mirror), the host's CA bundle mounted as
#   image_test.sh does; podman's layer cache makes a second run's builds instant.
# - Up: `podman-compose -p $PROJECT -f deploy/compose.yaml --podman-run-args='--runtime runc
#   --ulimit ...' up -d --no-build`. podman-compose passes those arguments to every `podman run`
#   (containers need runc and limits the host can give, as in image_test.sh). The project gets its
#   own name (IBL_COMPOSE_TEST_PROJECT, default ibl-compose-test) so it cannot touch a deployment
#   of the file's own name; podman-compose 1.0.3 ignores the file's top-level `name:` anyway.
#   The proxy is published on 8501 as the file says; when 8501 is taken on this host (or
#   IBL_COMPOSE_TEST_PORT names another port) the file is run from a copy under the cache directory
#   in which only the proxy's published port differs (podman-compose appends a second file's
#   `ports` to the first's instead of replacing them, so an override file cannot do it).
#   podman-compose 1.0.3 does not wait for `condition: service_healthy` (it starts the services in
#   dependency order) and ignores `healthcheck: disable` (compose.yaml uses `test: ["NONE"]`), and podman cannot time health checks
#   without systemd: the checks below run them with `podman healthcheck run`.
# - Checks, each printed with what it saw:
#     1. every container runs; the network's DNS gives `web` one address per replica (seen from the
#        proxy's container) and `redis` one;
#     2. through the proxy: /_stcore/health answers ok and / answers 200 with Streamlit's HTML;
#     3. each replica answers /_stcore/health at its own address;
#     4. 24 fresh browsers (no cookie) through the proxy get an ibl_replica cookie each, and the
#        cookies name both replicas: Caddy's cookie is the HMAC-SHA256 of the chosen upstream's
#        address (empty secret), matched here against each replica's IP:8501;
#     5. a browser with its cookie stays on its replica: 40 requests carrying the cookie and an
#        8 KiB header raise that replica's received bytes (IpExt InOctets of its network
#        namespace, read on the host) by at least their size, and the other replica's by less than
#        a tenth of it; the same with the other replica's cookie;
#     6. the worker is registered in Redis (`redis-cli --scan --pattern 'rq:worker:*'` in the
#        redis container);
#     7. in Chromium through the proxy (tools/browser_check.py, from the project's venv) a view
#        that is not in the cache is drawn, the worker's log gains "computed ..." lines for it, and
#        RQ's job records in Redis show its job finished by that worker, and the web replicas'
#        logs gain none (a web process logs the views it computes itself the same way);
#     8. the image's HEALTHCHECK passes in both web containers (`podman healthcheck run`), and the
#        compose file's Redis health check (`redis-cli ping`) passes in the redis container; the
#        worker has none, as the compose file says.
# - Down: podman-compose down -v, then what podman-compose 1.0.3 leaves: the containers'
#   anonymous volumes (the image's VOLUME /app/cache) and the compose network. Also on failure and
#   on Ctrl-C; IBL_COMPOSE_TEST_KEEP=1 leaves everything running for a look (and prints how to
#   take it down).
#
# Environment: IBL_COMPOSE_TEST_CACHE (default /var/tmp/ibl-compose-test), IBL_COMPOSE_TEST_PORT
# (default 8501, else a free port), IBL_COMPOSE_TEST_PROJECT, IBL_COMPOSE_TEST_KEEP=1,
# IBL_COMPOSE_TEST_NO_BUILD=1 (run the localhost/inductive-bias-lab:latest already here, unbuilt),
# IBL_DEBIAN_MIRROR, IBL_DEBIAN_SECURITY_MIRROR, IBL_CA_BUNDLE, PYTHON (default .venv/bin/python: the project's venv with
# Playwright, which `make compose-test` sets up first); image_test.sh's own variables for the build
# (its cache, IBL_IMAGE_TEST_CACHE, keeps the base root).
set -euo pipefail

cd "$(dirname "$0")/.."

LAB_IMAGE=localhost/inductive-bias-lab:latest
BUILT_IMAGE=localhost/inductive-bias-lab:image-test
REDIS_IMAGE=docker.io/library/redis:7.2-alpine
CADDY_IMAGE=docker.io/library/caddy:2.8-alpine
BASE_IMAGE=localhost/python:3.11-slim
STAND_IN_LABEL=org.inductive-bias-lab.stand-in
COMPOSE_FILE=deploy/compose.yaml
CACHE=${IBL_COMPOSE_TEST_CACHE:-/var/tmp/ibl-compose-test}
MIRROR=${IBL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${IBL_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PROJECT=${IBL_COMPOSE_TEST_PROJECT:-ibl-compose-test}
NETWORK=${PROJECT}_default
PYTHON=${PYTHON:-.venv/bin/python}
START_TIMEOUT_S=240
FRESH_BROWSERS=24

# --- helpers ---------------------------------------------------------------------------------------

SCRIPT=compose-test
# shellcheck source=tools/phases.sh
source tools/phases.sh  # the working directory is the repository root (above)

compose() {  # podman-compose on this project, with the run arguments this host needs
    podman-compose -p "$PROJECT" -f "$RUN_FILE" --podman-run-args "${RUN_ARGS[*]}" "$@"
}
DOWN_HINT="podman rm -f -v \$(podman ps -aq --filter label=io.podman.compose.project=$PROJECT); podman network rm $NETWORK"
project_containers() {
    podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}' | sort
}

take_down() {
    local vols c
    # The containers' volumes first (the image's VOLUME gives each web/worker container an anonymous
    # one, which `podman-compose down` leaves behind), then compose's own down.
    vols=$(for c in $(project_containers); do
        podman inspect --format '{{range .Mounts}}{{if eq .Type "volume"}}{{println .Name}}{{end}}{{end}}' "$c"
    done | sort -u)
    compose down -v >"$CACHE/down.log" 2>&1 || cat "$CACHE/down.log" >&2
    for c in $(project_containers); do podman rm --force --volumes --time 5 "$c" >/dev/null 2>&1 || true; done
    for c in $vols; do podman volume rm --force "$c" >/dev/null 2>&1 || true; done
    if podman network exists "$NETWORK" 2>/dev/null; then
        podman network rm --force "$NETWORK" >/dev/null || true
    fi
    local left
    left="$(project_containers)$(podman network ls -q --filter "name=^${NETWORK}\$")"
    if [ -n "$left" ]; then echo "compose-test: left behind after teardown: $left" >&2; fi
}

cleanup() {
    local status=$?
    trap - INT TERM
    if [ -n "${UP_STARTED:-}" ]; then
        if [ "$status" -ne 0 ]; then
            for c in $(project_containers); do
                echo "--- $c: state $(podman inspect --format '{{.State.Status}}' "$c" 2>/dev/null), log (last 25 lines):" >&2
                podman logs --tail 25 "$c" >&2 2>&1 || true
            done
        fi
        if [ "${IBL_COMPOSE_TEST_KEEP:-}" = 1 ]; then
            echo "compose-test: left the deployment running (IBL_COMPOSE_TEST_KEEP=1) on http://127.0.0.1:$PORT"
            echo "  take it down (the containers with their anonymous volumes, then the network):"
            echo "    $DOWN_HINT"
        else
            echo "compose-test: taking the deployment down"
            begin "podman-compose down, and what it leaves"
            take_down
            end
        fi
    fi
    print_timings
    if [ "$status" -eq 0 ]; then
        echo "compose-test: PASSED"
    else
        echo "compose-test: FAILED (exit $status)" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. tools ------------------------------------------------------------------------------------
begin "tools (podman, runc, podman-compose, CNI dnsname)"
[ "$(id -u)" -eq 0 ] || fail "needs root (rootful podman, as tools/image_test.sh); run it as root."
command -v python3 >/dev/null || fail "python3 is missing on the host (needed for the HTTP checks)."
DNSNAME=/usr/lib/cni/dnsname
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v podman-compose >/dev/null || missing+=(podman-compose)
[ -x "$DNSNAME" ] || missing+=(golang-github-containernetworking-plugin-dnsname)
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || fail "missing ${missing[*]} and no apt-get to install them."
    echo "installing ${missing[*]} from Debian's packages"
    mkdir -p "$CACHE"
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends "${missing[@]}"; } >"$CACHE/apt.log" 2>&1; then
        tail -n 30 "$CACHE/apt.log" >&2
        fail "apt-get could not install ${missing[*]} (its output above)."
    fi
fi
for tool in podman runc podman-compose; do
    command -v "$tool" >/dev/null || fail "$tool is still missing after apt-get install."
done
[ -x "$DNSNAME" ] || fail "the CNI dnsname plugin is not at $DNSNAME after apt-get install."
backend=$(podman info --format '{{.Host.NetworkBackend}}')
[ "$backend" = cni ] || echo "note: podman's network backend is $backend, not cni (dnsname is CNI's)"
podman --version
runc --version | head -n 1
PC_VERSION=$(podman-compose version 2>/dev/null | sed -n 's/^podman-compose[a-z]* version *//p' | head -n 1)
echo "podman-compose $PC_VERSION"
"$PYTHON" -c 'import playwright' 2>/dev/null \
    || fail "$PYTHON cannot import playwright: run \`make venv\` (make compose-test does) or set PYTHON."
mkdir -p "$CACHE"
# A deployment of this project already here (IBL_COMPOSE_TEST_KEEP=1 before, or another run).
if [ -n "$(project_containers)" ]; then
    fail "containers of project $PROJECT exist already ($(project_containers | tr '\n' ' ')); take them down: $DOWN_HINT"
fi
end

# The limits `podman run` asks for: no more than this host gives (as tools/image_test.sh).
hard_limit() {  # ULIMIT_FLAG CAP -> the host's hard limit, at most CAP
    local v
    v=$(ulimit -H "$1")
    if [ "$v" = unlimited ] || [ "$v" -gt "$2" ]; then v=$2; fi
    echo "$v"
}
NOFILE=$(hard_limit -n 1048576)
NPROC=$(hard_limit -u 4096)
RUN_ARGS=(--runtime runc --ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC")

# --- 2. the lab's image ---------------------------------------------------------------------------
begin "the lab's image (tools/image_test.sh, build only)"
if [ "${IBL_COMPOSE_TEST_NO_BUILD:-}" = 1 ]; then
    podman image exists "$LAB_IMAGE" || fail "IBL_COMPOSE_TEST_NO_BUILD=1, but there is no $LAB_IMAGE."
    echo "IBL_COMPOSE_TEST_NO_BUILD=1: using $LAB_IMAGE as it is"
else
    IBL_IMAGE_TEST_BUILD_ONLY=1 PYTHON="$PYTHON" bash tools/image_test.sh \
        || fail "tools/image_test.sh could not build the image (its output above)."
    podman tag "$BUILT_IMAGE" "$LAB_IMAGE" || fail "could not tag $BUILT_IMAGE as $LAB_IMAGE."
fi
pass "$LAB_IMAGE = $(podman image inspect --format '{{.Id}}' "$LAB_IMAGE" | cut -c1-12)"
end

# --- 3. stand-ins for Redis and Caddy -------------------------------------------------------------
begin "stand-ins for $REDIS_IMAGE and $CADDY_IMAGE"
podman image exists "$BASE_IMAGE" || fail "$BASE_IMAGE is missing (tools/image_test.sh makes it)."
CA=${IBL_CA_BUNDLE:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}
[ -r "$CA" ] || fail "no CA bundle at $CA for apt-get inside the builds (set IBL_CA_BUNDLE)."

# Debian's packages, with the suite's updates and security fixes; no service started while
# installing (policy-rc.d), no package lists left in the image.
APT_INSTALL='printf "deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n" "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" >/etc/apt/sources.list \
    && printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends'
APT_CLEAN='rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/sbin/policy-rc.d'

mkdir -p "$CACHE/redis" "$CACHE/caddy"
cat >"$CACHE/redis/Containerfile" <<EOF
# A stand-in for $REDIS_IMAGE (written by tools/compose_test.sh): Debian 12's Redis 7.0.
FROM $BASE_IMAGE
ARG DEBIAN_MIRROR
ARG DEBIAN_SECURITY_MIRROR
RUN $APT_INSTALL redis-server \\
    && $APT_CLEAN \\
    && mkdir -p /data && chown redis:redis /data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
LABEL $STAND_IN_LABEL="Debian 12 redis-server for $REDIS_IMAGE"
WORKDIR /data
USER redis
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
EOF
cat >"$CACHE/redis/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# As the official image's entrypoint: options alone run redis-server with them; and, as its build's
# default, protected mode is off (a server without a password takes other containers' connections)
# unless a config file is given, which then decides.
set -e
case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
    case "$2" in
        ""|-*) shift; set -- redis-server --protected-mode no "$@" ;;
    esac
fi
exec "$@"
EOF
chmod 755 "$CACHE/redis/docker-entrypoint.sh"
cat >"$CACHE/caddy/Containerfile" <<EOF
# A stand-in for $CADDY_IMAGE (written by tools/compose_test.sh): Debian 12's Caddy 2.6.2.
FROM $BASE_IMAGE
ARG DEBIAN_MIRROR
ARG DEBIAN_SECURITY_MIRROR
RUN $APT_INSTALL caddy media-types \\
    && $APT_CLEAN \\
    && mkdir -p /config/caddy /data/caddy /etc/caddy /srv
LABEL $STAND_IN_LABEL="Debian 12 caddy for $CADDY_IMAGE"
ENV XDG_CONFIG_HOME=/config \\
    XDG_DATA_HOME=/data
EXPOSE 80 443 443/udp 2019
WORKDIR /srv
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
EOF

stand_in() {  # IMAGE DIR: build the stand-in unless a real image of that name is here
    local image=$1 dir=$2 label
    if podman image exists "$image"; then
        label=$(podman image inspect --format "{{index .Labels \"$STAND_IN_LABEL\"}}" "$image")
        if [ -z "$label" ] || [ "$label" = "<no value>" ]; then
            pass "$image: a real image is here (no $STAND_IN_LABEL label): used as it is"
            return
        fi
    fi
    podman build --runtime runc --pull=never --format docker --network host \
        --volume "$(realpath "$CA"):/etc/ssl/certs/ca-certificates.crt:ro" \
        --build-arg "DEBIAN_MIRROR=$MIRROR" --build-arg "DEBIAN_SECURITY_MIRROR=$SECURITY_MIRROR" \
        --tag "$image" "$dir" >"$dir/build.log" 2>&1 \
        || { tail -n 30 "$dir/build.log" >&2; fail "podman build of the $image stand-in failed (above)."; }
    pass "$image: built, $(podman image inspect --format '{{.Id}}' "$image" | cut -c1-12)"
}
stand_in "$REDIS_IMAGE" "$CACHE/redis"
stand_in "$CADDY_IMAGE" "$CACHE/caddy"
# The images as compose runs them: what is on PATH, and the versions.
podman run --rm "${RUN_ARGS[@]}" --network none --entrypoint sh "$REDIS_IMAGE" -c \
    'command -v redis-server redis-cli >/dev/null && redis-server --version' \
    | sed 's/^/        /' || fail "$REDIS_IMAGE has no redis-server and redis-cli on PATH."
podman run --rm "${RUN_ARGS[@]}" --network none "$CADDY_IMAGE" caddy version \
    | sed 's/^/        /' || fail "$CADDY_IMAGE does not run caddy."
cmd=$(podman image inspect --format '{{json .Config.Cmd}}' "$CADDY_IMAGE")
[ "$cmd" = '["caddy","run","--config","/etc/caddy/Caddyfile","--adapter","caddyfile"]' ] \
    || fail "$CADDY_IMAGE's CMD is $cmd, not the official image's."
pass "$CADDY_IMAGE CMD $cmd"
# Images without a tag that descend from the stand-in base (earlier stand-ins), as image_test.sh.
podman image prune --force --filter "label=$STAND_IN_LABEL" >/dev/null || true
end

# --- 4. up -----------------------------------------------------------------------------------------
begin "podman-compose up"
port_free() {
    python3 -c 'import socket, sys; s = socket.socket(); s.bind(("0.0.0.0", int(sys.argv[1])))' "$1" \
        2>/dev/null
}
PORT=${IBL_COMPOSE_TEST_PORT:-8501}
if [ -z "${IBL_COMPOSE_TEST_PORT:-}" ] && ! port_free 8501; then
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])')
    echo "port 8501 is taken on this host: publishing the proxy on $PORT instead"
fi
if [ "$PORT" = 8501 ]; then
    RUN_FILE=$COMPOSE_FILE
else
    # The same file with only the proxy's published port changed, its relative paths made absolute.
    RUN_FILE=$CACHE/compose-port-$PORT.yaml
    python3 - "$COMPOSE_FILE" "$RUN_FILE" "$PORT" <<'EOF' || fail "could not write $RUN_FILE."
import os, sys, yaml
source, target, port = sys.argv[1:]
base = os.path.dirname(os.path.realpath(source))
with open(source) as f:
    spec = yaml.safe_load(f)
for service in spec["services"].values():
    build = service.get("build")
    if isinstance(build, dict) and "context" in build:
        build["context"] = os.path.normpath(os.path.join(base, build["context"]))
    if service.get("volumes"):
        service["volumes"] = [
            os.path.normpath(os.path.join(base, v.split(":")[0])) + v[len(v.split(":")[0]):]
            if v.startswith(".") else v for v in service["volumes"]]
ports = spec["services"]["proxy"]["ports"]
assert ports == ["8501:8080"], ports
spec["services"]["proxy"]["ports"] = [f"{port}:8080"]
with open(target, "w") as f:
    f.write(f"# {source} with the proxy published on {port} (tools/compose_test.sh)\n")
    class Dumper(yaml.SafeDumper):  # written out in full, no anchors
        def ignore_aliases(self, data):
            return True
    yaml.dump(spec, f, Dumper=Dumper, sort_keys=False)
EOF
    echo "running $RUN_FILE: $COMPOSE_FILE with the proxy on port $PORT"
fi
podman image exists "$LAB_IMAGE" || fail "$LAB_IMAGE is missing."
UP_STARTED=1
compose up -d --no-build >"$CACHE/up.log" 2>&1 \
    || { cat "$CACHE/up.log" >&2; fail "podman-compose up failed (above)."; }
# podman-compose goes on past a failed `podman run`: every one must have exited 0.
if grep -q '^exit code: [1-9]' "$CACHE/up.log"; then
    cat "$CACHE/up.log" >&2
    fail "a podman command of podman-compose up failed (above)."
fi
project_containers | sed 's/^/        /'
WEBS=()
while read -r c; do WEBS+=("$c"); done < <(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" \
    --filter label=com.docker.compose.service=web --format '{{.Names}}' | sort)
REDIS_C=${PROJECT}_redis_1
WORKER_C=${PROJECT}_worker_1
PROXY_C=${PROJECT}_proxy_1
[ "${#WEBS[@]}" -eq 2 ] || fail "expected 2 web replicas (deploy.replicas), found ${#WEBS[@]}: ${WEBS[*]}."
URL=http://127.0.0.1:$PORT
deadline=$(( $(date +%s) + START_TIMEOUT_S ))
while :; do
    for c in "$REDIS_C" "${WEBS[@]}" "$WORKER_C" "$PROXY_C"; do
        [ "$(podman inspect --format '{{.State.Status}}' "$c" 2>/dev/null)" = running ] \
            || fail "container $c is not running (its log below)."
    done
    answer=$(http_get "$URL/_stcore/health")
    [ "${answer#*$'\n'}" = ok ] && break
    [ "$(date +%s)" -lt "$deadline" ] \
        || fail "$URL/_stcore/health did not answer ok within ${START_TIMEOUT_S} s (last: $answer)."
    sleep 1
done
pass "all $(project_containers | wc -l) containers run: $(project_containers | tr '\n' ' ')"
end

# --- 5. checks -------------------------------------------------------------------------------------
begin "network and DNS"
declare -A IP
for c in "$REDIS_C" "${WEBS[@]}" "$WORKER_C" "$PROXY_C"; do
    IP[$c]=$(podman inspect --format "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" "$c")
    [ -n "${IP[$c]}" ] || fail "$c has no address on network $NETWORK."
done
dns=$(podman network inspect --format '{{.DNSEnabled}} {{range .Subnets}}{{.Subnet}}{{end}}' "$NETWORK")
[ "${dns%% *}" = true ] \
    || fail "network $NETWORK has no DNS (dns_enabled: ${dns%% *}): is the CNI dnsname plugin installed?"
pass "network $NETWORK, ${dns#* }, DNS enabled (CNI dnsname)"
# What the proxy resolves (Caddy's `dynamic a web 8501`) and what the replicas resolve (redis).
web_dns=$(podman exec "$PROXY_C" getent ahostsv4 web | awk '{ print $1 }' | sort -u | tr '\n' ' ')
want=$(for c in "${WEBS[@]}"; do echo "${IP[$c]}"; done | sort -u | tr '\n' ' ')
[ "$web_dns" = "$want" ] || fail "in the proxy, web resolves to '${web_dns}', not the replicas' '${want}'."
pass "in the proxy, web -> $web_dns(${WEBS[*]})"
redis_dns=$(podman exec "${WEBS[0]}" python -c 'import socket; print(socket.gethostbyname("redis"))')
[ "$redis_dns" = "${IP[$REDIS_C]}" ] || fail "in ${WEBS[0]}, redis resolves to '$redis_dns', not ${IP[$REDIS_C]}."
pass "in ${WEBS[0]}, redis -> $redis_dns"
end

begin "through the proxy: health and home page"
answer=$(http_get "$URL/_stcore/health")
[ "${answer#*$'\n'}" = ok ] || fail "GET $URL/_stcore/health: $answer"
pass "GET $URL/_stcore/health -> ${answer%%$'\n'*} ok"
home=$(http_get "$URL/")
status=${home%%$'\n'*}
[ "$status" = 200 ] || fail "GET $URL/ answered $status."
if ! grep -q '<title>Streamlit</title>' <<<"$home" || ! grep -q 'id="root"' <<<"$home"; then
    fail "GET $URL/ is not Streamlit's page: ${home:0:300}"
fi
pass "GET $URL/ -> 200, Streamlit's HTML (${#home} characters)"
for c in "${WEBS[@]}"; do
    answer=$(http_get "http://${IP[$c]}:8501/_stcore/health")
    [ "${answer#*$'\n'}" = ok ] || fail "replica $c at ${IP[$c]}:8501 does not answer ok: $answer"
    pass "replica $c at ${IP[$c]}:8501: /_stcore/health ok"
done
end

begin "Caddy's balancing: fresh browsers spread, a cookie sticks"
# Each replica's network namespace by a process in it (its received bytes, read on the host).
replicas_arg=()
for c in "${WEBS[@]}"; do
    replicas_arg+=("$c=${IP[$c]}=$(podman inspect --format '{{.State.Pid}}' "$c")")
done
python3 - "$URL" "$FRESH_BROWSERS" "${replicas_arg[@]}" <<'EOF' || fail "Caddy does not balance as deploy/Caddyfile says (above)."
import collections, hashlib, hmac, sys, time, urllib.request

url, fresh = sys.argv[1], int(sys.argv[2])
replicas = {}  # cookie value -> (container, ip, pid)
for arg in sys.argv[3:]:
    name, ip, pid = arg.split("=")
    # Caddy's cookie policy: hex HMAC-SHA256 of the upstream's dial address, keyed by the secret
    # (none in deploy/Caddyfile).
    replicas[hmac.new(b"", f"{ip}:8501".encode(), hashlib.sha256).hexdigest()] = (name, ip, pid)

def get(cookie=None, pad=0):
    request = urllib.request.Request(url + "/_stcore/health")
    if cookie:
        request.add_header("Cookie", f"ibl_replica={cookie}")
    if pad:
        request.add_header("X-Pad", "x" * pad)
    with urllib.request.urlopen(request, timeout=10) as r:
        body = r.read().decode()
        sets = [v for k, v in r.headers.items() if k.lower() == "set-cookie"]
    assert body == "ok", body
    return sets

def in_octets(pid):
    lines = open(f"/proc/{pid}/net/netstat").read().splitlines()
    for head, values in zip(lines[::2], lines[1::2]):
        if head.startswith("IpExt:"):
            return int(dict(zip(head.split()[1:], values.split()[1:]))["InOctets"])
    raise SystemExit(f"no IpExt InOctets in /proc/{pid}/net/netstat")

# 1. fresh browsers: no cookie, each gets one; count which replica each names.
seen = collections.Counter()
for _ in range(fresh):
    sets = [s for s in get() if s.startswith("ibl_replica=")]
    if len(sets) != 1:
        raise SystemExit(f"a fresh request got Set-Cookie {sets}, not one ibl_replica cookie")
    value = sets[0].split(";")[0].split("=", 1)[1]
    if value not in replicas:
        raise SystemExit(f"cookie ibl_replica={value} names no replica "
                         f"(expected one of {sorted(replicas)})")
    seen[value] += 1
print("        Set-Cookie, e.g.: " + sets[0])
spread = ", ".join(f"{replicas[v][0]} ({replicas[v][1]}) {n}" for v, n in seen.most_common())
if len(seen) < len(replicas):
    raise SystemExit(f"{fresh} fresh browsers all went to one replica: {spread}")
print(f"  ok    {fresh} fresh browsers (no cookie) spread over both replicas: {spread}")

# 2. a browser with the cookie stays: its requests (with an 8 KiB header: the server takes up to
# 16 KiB of headers) reach only its replica.
pad, n = 8 * 1024, 40
for value, (name, ip, pid) in replicas.items():
    before = {v: in_octets(p) for v, (_, _, p) in replicas.items()}
    for _ in range(n):
        if any(s.startswith("ibl_replica=") for s in get(value, pad)):
            raise SystemExit(f"Caddy set a new cookie for a browser that had one ({name})")
    time.sleep(0.5)
    delta = {v: in_octets(p) - before[v] for v, (_, _, p) in replicas.items()}
    others = {replicas[v][0]: d for v, d in delta.items() if v != value}
    line = (f"{n} requests with ibl_replica={value[:12]}...: {name} received {delta[value]:,} bytes, "
            + ", ".join(f"{o} {d:,}" for o, d in others.items()))
    if delta[value] < n * pad or any(d > n * pad / 10 for d in others.values()):
        raise SystemExit("not kept on one replica: " + line)
    print("  ok    kept on " + line)
EOF
end

begin "the worker, registered in Redis"
workers=$(podman exec "$REDIS_C" redis-cli --scan --pattern 'rq:worker:*' | sort)
[ -n "$workers" ] || fail "no rq:worker:* key in Redis: the worker is not registered."
pass "rq:worker:* in Redis: $(tr '\n' ' ' <<<"$workers")"
state=$(podman exec "$REDIS_C" redis-cli hget "$(head -n 1 <<<"$workers")" state)
pass "its state: $state"
end

begin "a new view in Chromium, computed on the worker"
count_computed() { podman logs "$1" 2>&1 | grep -c 'computed ' || true; }
declare -A BEFORE
for c in "$WORKER_C" "${WEBS[@]}"; do BEFORE[$c]=$(count_computed "$c"); done
# Eigenstructure at d = 9: not among the views the image warms, and Redis starts empty anyway.
"$PYTHON" tools/browser_check.py "$URL" "/eigenstructure?d=9:2" \
    || fail "the page did not draw its charts through the proxy in Chromium (above)."
after=$(count_computed "$WORKER_C")
[ "$after" -gt "${BEFORE[$WORKER_C]}" ] \
    || fail "the worker's log has no new 'computed' line (${BEFORE[$WORKER_C]} -> $after): the view was not computed on the worker."
podman logs "$WORKER_C" 2>&1 | grep 'computed ' | tail -n "$((after - BEFORE[$WORKER_C]))" | sed 's/^/        worker: /'
pass "the worker's log: $((after - BEFORE[$WORKER_C])) new 'computed' line(s)"
# RQ's record of the jobs (kept 600 s, engine/jobs.py): each finished, by the registered worker.
worker_name=$(head -n 1 <<<"$workers"); worker_name=${worker_name#rq:worker:}
jobs_seen=0
for job in $(podman exec "$REDIS_C" redis-cli --scan --pattern 'rq:job:*'); do
    [ "$(podman exec "$REDIS_C" redis-cli type "$job")" = hash ] || continue
    job_status=$(podman exec "$REDIS_C" redis-cli hget "$job" status)
    job_worker=$(podman exec "$REDIS_C" redis-cli hget "$job" worker_name)
    echo "        $job: status $job_status, worker $job_worker"
    [ "$job_worker" = "$worker_name" ] && [ "$job_status" = finished ] && jobs_seen=$((jobs_seen + 1))
done
[ "$jobs_seen" -gt 0 ] || fail "no job in Redis finished by the worker $worker_name."
pass "$jobs_seen queued job(s) finished by the worker $worker_name (RQ's job records in Redis)"
# The web processes log a line per view they compute too (app.py's _log_engine): none of theirs.
for c in "${WEBS[@]}"; do
    n=$(count_computed "$c")
    [ "$n" -eq "${BEFORE[$c]}" ] || fail "$c computed views itself ('computed' lines ${BEFORE[$c]} -> $n)."
done
pass "the web replicas computed nothing themselves ('computed' lines in their logs: $(
    for c in "${WEBS[@]}"; do printf '%s %s -> %s; ' "${c#"$PROJECT"_}" "${BEFORE[$c]}" "$(count_computed "$c")"; done))"
end

begin "health checks"
for c in "${WEBS[@]}"; do
    podman healthcheck run "$c" || fail "the image's HEALTHCHECK failed in $c."
    pass "$c: the image's HEALTHCHECK passes (podman healthcheck run)"
done
podman healthcheck run "$REDIS_C" || fail "compose.yaml's Redis health check (redis-cli ping) failed."
pass "$REDIS_C: compose.yaml's health check (redis-cli ping) passes"
# compose.yaml turns the worker's health check off (`test: ["NONE"]`: it serves no HTTP; the image's
# check would fail there). podman-compose 1.0.3 ignores the other form, `disable: true`.
worker_check=$(podman inspect --format '{{json .Config.Healthcheck.Test}}' "$WORKER_C")
[ "$worker_check" = '["NONE"]' ] ||
    fail "$WORKER_C has the health check $worker_check, not none as compose.yaml says."
pass "$WORKER_C: no health check, as compose.yaml says"
end
