#!/usr/bin/env bash
# Load benchmark for Tenantry: requests/s and p99 latency of
#   1. GET /healthz  (bare route, no DB, no session: the ceiling)
#   2. GET /login    (anonymous page: template + CSRF binding cookie, no DB)
#   3. GET /         (signed-in dashboard) on SQLite
#   4. GET /         (signed-in dashboard) on PostgreSQL, if one is reachable
# and the dashboard-to-ceiling ratio (product goal: >= 25 %).
#
# Usage: benches/load.sh          (see benches/README.md for the knobs)
#
# Every server this script starts is killed on exit, the temp dir removed
# and the throw-away PostgreSQL database dropped.

set -euo pipefail

# --- Settings (all overridable from the environment) -----------------------

DURATION=${BENCH_DURATION:-10s}     # measured run per scenario
WARMUP=${BENCH_WARMUP:-3s}          # unmeasured run before each scenario
THREADS=${BENCH_THREADS:-2}         # wrk threads
CONNECTIONS=${BENCH_CONNECTIONS:-32} # wrk open connections
PG_URL=${BENCH_POSTGRES_URL:-${TENANTRY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1/postgres}}
GOAL_PERCENT=25

# Run from the repo root: the server serves ./static relative to its cwd,
# and cargo must find Cargo.toml.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN="$TARGET_DIR/release/tenantry"

# --- Helpers ---------------------------------------------------------------

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

for tool in wrk curl awk; do
    command -v "$tool" >/dev/null || die "$tool is required but not installed"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tenantry-bench.XXXXXX")
SERVER_PIDS=()
SERVER_LOG_LINES=()  # "backend: N" per server that logged warnings/errors
WRK_PID=""        # the running wrk, if any, so an interrupt can end it
PG_BENCH_DB=""     # set once the throw-away database exists, so cleanup drops it
PG_ADMIN_URL=""

cleanup() {
    local status=$?
    if [[ -n "$WRK_PID" ]]; then kill "$WRK_PID" 2>/dev/null || true; fi
    # Servers first: PostgreSQL refuses to drop a database with open connections.
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "$PG_BENCH_DB" ]]; then
        # WITH (FORCE) (PostgreSQL 13+) also ends connections a dying server left.
        psql "$PG_ADMIN_URL" -qAt -c "DROP DATABASE IF EXISTS \"$PG_BENCH_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            psql "$PG_ADMIN_URL" -qAt -c "DROP DATABASE IF EXISTS \"$PG_BENCH_DB\"" >/dev/null 2>&1 ||
            log "could not drop PostgreSQL database $PG_BENCH_DB; drop it by hand"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs wrk in the background and waits for it: bash runs traps only between
# commands, so a foreground wrk would delay Ctrl-C handling until it ended.
wrk_bg() {
    wrk "$@" &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk $* failed"
    WRK_PID=""
}

# A port nobody listens on. (Racy in theory; a bind failure is caught by
# wait_ready, which notices the server died.)
free_port() {
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free TCP port found"
}

# start_server NAME DATABASE_URL -> sets SERVER_URL and SERVER_LOG.
# Each server gets its own data dir (secret key, SQLite file, outbox).
start_server() {
    local name=$1 database_url=$2 port data_dir
    port=$(free_port)
    data_dir="$WORK/$name"
    mkdir -p "$data_dir"
    SERVER_URL="http://127.0.0.1:$port"
    SERVER_LOG="$data_dir/server.log"
    # TENANTRY_CONFIG points at a file that does not exist so a developer's
    # tenantry.toml cannot change what is measured; TENANTRY_BASE_URL is
    # pinned to plain HTTP so the cookie names are the non-__Host- ones.
    # RUST_LOG=warn: one info line per request would dominate the profile.
    # The log goes to stdout (tracing's default) and errors to stderr: keep both.
    env TENANTRY_CONFIG="$WORK/no-such-config.toml" \
        TENANTRY_BIND="127.0.0.1:$port" \
        TENANTRY_BASE_URL="$SERVER_URL" \
        TENANTRY_DATA_DIR="$data_dir" \
        DATABASE_URL="$database_url" \
        RUST_LOG=warn \
        "$BIN" serve >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    wait_ready
}

# Waits (up to 60 s: migrations run at start-up) for /readyz to answer 200.
wait_ready() {
    for _ in $(seq 600); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 20 "$SERVER_LOG" >&2
            die "server exited during start-up (log above)"
        fi
        if [[ $(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/readyz" || true) == 200 ]]; then
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$SERVER_LOG" >&2
    die "server not ready after 60 s (log above)"
}

# Stops the current server and surfaces what it logged at warn/error level
# (the log dies with the temp dir): errors under load are part of the result.
stop_server() {
    local name=$1 count
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    count=$(grep -cE 'WARN|ERROR' "$SERVER_LOG" || true)
    if ((count > 0)); then
        log "$name server logged $count warning/error line(s); first ones:"
        grep -E 'WARN|ERROR' "$SERVER_LOG" | head -n 5 >&2
        SERVER_LOG_LINES+=("$name: $count")
    fi
}

# Signs up a fresh account on the current server and sets COOKIE_HEADER to
# the session + CSRF binding cookies, ready for wrk's `Cookie:` header.
sign_up() {
    local jar="$WORK/jar.$RANDOM" page csrf status
    page=$(curl -sS -c "$jar" -b "$jar" "$SERVER_URL/signup")
    # The hidden csrf_token of the form posting to /signup.
    csrf=$(awk '/action="\/signup"/ { in_form = 1 }
                in_form && /name="csrf_token"/ {
                    match($0, /value="[^"]*"/)
                    print substr($0, RSTART + 7, RLENGTH - 8)
                    exit
                }' <<<"$page")
    [[ -n "$csrf" ]] || die "no csrf_token in the /signup form"
    status=$(curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
        --data-urlencode "csrf_token=$csrf" \
        --data-urlencode "name=Bench User" \
        --data-urlencode "email=bench-$RANDOM$RANDOM@example.com" \
        --data-urlencode "password=violet staple orbit 42" \
        "$SERVER_URL/signup")
    [[ "$status" == 303 ]] || die "POST /signup answered $status, expected 303"
    # Netscape jar: HttpOnly cookies are prefixed "#HttpOnly_", other "#" lines
    # are comments; field 6 is the name, field 7 the value.
    COOKIE_HEADER=$(awk '{ sub(/^#HttpOnly_/, "") }
                         /^#/ || NF < 7 { next }
                         { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$jar")
    [[ "$COOKIE_HEADER" == *tenantry_session=* ]] || die "no tenantry_session cookie after sign-up"
    [[ "$COOKIE_HEADER" == *tenantry_csrf=* ]] || die "no tenantry_csrf cookie after sign-up"
    # Twice: the first view consumes the welcome flash (a session write); the
    # second is what every benchmark request looks like. Both must be the
    # real dashboard, not a redirect to /login.
    local i body
    for i in 1 2; do
        body="$WORK/dashboard.$i.html"
        status=$(curl -sS -o "$body" -w '%{http_code}' -H "Cookie: $COOKIE_HEADER" "$SERVER_URL/")
        [[ "$status" == 200 ]] || die "GET / with the session answered $status, expected 200"
        grep -q "Personal workspace" "$body" || die "GET / did not render the personal workspace dashboard"
    done
}

# The server's own Prometheus request counter for GET PATH, as "non-2xx total".
# wrk only flags statuses >= 400, so a redirect to /login would pass
# unnoticed; the server's count by status catches it.
status_counts() {
    local path=$1
    curl -sS "$SERVER_URL/metrics" | awk -v want="endpoint=\"$path\"" '
        /^[a-z_]*http_requests_total\{/ && index($0, want) && index($0, "method=\"GET\"") {
            total += $NF
            if (match($0, /status="[0-9]+"/) && substr($0, RSTART + 8, 1) != "2") bad += $NF
        }
        END { printf "%d %d\n", bad, total }'
}

# run_wrk LABEL PATH [COOKIE] : warm-up, measured run, then appends a result
# row "label|req/s|p99 ms|non-2xx|socket errors" to $RESULTS.
run_wrk() {
    local label=$1 path=$2 cookie=${3:-} out counts bad_before total_before bad_after total_after
    local args=(--latency -t"$THREADS" -c"$CONNECTIONS")
    [[ -n "$cookie" ]] && args+=(-H "Cookie: $cookie")
    out="$WORK/wrk.$(tr -c 'a-zA-Z0-9' '_' <<<"$label").txt"

    log "$label: warm-up $WARMUP"
    wrk_bg "${args[@]}" -d"$WARMUP" "$SERVER_URL$path" >/dev/null
    counts=$(status_counts "$path") || die "cannot read $SERVER_URL/metrics"
    read -r bad_before total_before <<<"$counts"
    log "$label: measuring $DURATION ($THREADS threads, $CONNECTIONS connections)"
    wrk_bg "${args[@]}" -d"$DURATION" "$SERVER_URL$path" >"$out"
    counts=$(status_counts "$path") || die "cannot read $SERVER_URL/metrics"
    read -r bad_after total_after <<<"$counts"
    # No counted requests means /metrics changed shape: refuse to report
    # numbers whose status codes were not checked.
    ((total_after > total_before)) ||
        die "$label: /metrics shows no requests to $path; cannot verify response statuses"

    local rps p99 errors bad
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    # "     99%    3.21ms" -> milliseconds (wrk prints us, ms, s or m).
    p99=$(awk '$1 == "99%" {
                v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
                f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
                printf "%.2f", v * f }' "$out")
    [[ -n "$rps" && -n "$p99" ]] || { cat "$out" >&2; die "$label: could not parse wrk output (above)"; }
    # "Socket errors: connect 0, read 0, write 0, timeout 0" appears only when non-zero.
    errors=$(awk '/^ *Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
    errors=${errors:-0}
    bad=$((bad_after - bad_before))
    if ((bad > 0 || errors > 0)); then
        cat "$out" >&2
        log "WARNING: $label: $bad non-2xx responses and $errors socket errors; this row is not trustworthy"
        UNTRUSTWORTHY=1
    fi
    printf '%s|%s|%s|%s|%s\n' "$label" "$rps" "$p99" "$bad" "$errors" >>"$RESULTS"
}

skip_row() { printf '%s|skipped|skipped|-|-\n' "$1" >>"$RESULTS"; }

rps_of() { awk -F'|' -v l="$1" '$1 == l { print $2 }' "$RESULTS"; }

# --- Build -------------------------------------------------------------------

# cargo is incremental: an up-to-date release build is reused as is.
# BENCH_NO_BUILD=1 measures the existing binary without touching cargo (e.g.
# while the working tree is mid-edit); never a silent fallback, so a stale
# binary is only measured when asked for.
if [[ "${BENCH_NO_BUILD:-0}" == 1 ]]; then
    log "BENCH_NO_BUILD=1: using the existing $BIN"
else
    log "building release binary into $TARGET_DIR"
    cargo build --release --quiet || die "cargo build --release failed (BENCH_NO_BUILD=1 skips the build)"
fi
[[ -x "$BIN" ]] || die "$BIN not found"

LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

RESULTS="$WORK/results"
UNTRUSTWORTHY=0   # set when a run saw non-2xx responses or socket errors
: >"$RESULTS"

HEALTHZ="GET /healthz (ceiling)"
LOGIN="GET /login (anonymous)"
DASH_SQLITE="GET / dashboard, SQLite"
DASH_PG="GET / dashboard, PostgreSQL"

# --- SQLite server: the ceiling, the anonymous page, the dashboard -----------

log "starting server on SQLite"
start_server sqlite "sqlite://$WORK/sqlite/tenantry.db"
sign_up
run_wrk "$HEALTHZ" /healthz
# No cookie: each request gets a fresh CSRF binding cookie, like a new visitor.
run_wrk "$LOGIN" /login
run_wrk "$DASH_SQLITE" / "$COOKIE_HEADER"
stop_server sqlite

# --- PostgreSQL server: the dashboard -----------------------------------------

# Short connect timeout so an absent PostgreSQL costs seconds, not minutes.
export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5}
if command -v psql >/dev/null && psql "$PG_URL" -qAt -c 'SELECT 1' >/dev/null 2>&1; then
    PG_ADMIN_URL=$PG_URL
    PG_BENCH_DB="tenantry_bench_$(date +%s)_$RANDOM"
    psql "$PG_ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_BENCH_DB\"" >/dev/null
    # Same URL with the database swapped: keep scheme, credentials, host and
    # any ?query (sslmode, ...).
    pg_query=""
    pg_base=$PG_URL
    if [[ "$pg_base" == *\?* ]]; then
        pg_query="?${pg_base#*\?}"
        pg_base=${pg_base%%\?*}
    fi
    pg_scheme=${pg_base%%://*}
    pg_rest=${pg_base#*://}
    pg_authority=${pg_rest%%/*}
    log "starting server on PostgreSQL (database $PG_BENCH_DB)"
    start_server postgres "$pg_scheme://$pg_authority/$PG_BENCH_DB$pg_query"
    sign_up
    run_wrk "$DASH_PG" / "$COOKIE_HEADER"
    stop_server postgres
else
    log "PostgreSQL not reachable at the configured URL; skipping that row"
    skip_row "$DASH_PG"
fi

# --- Report ----------------------------------------------------------------

echo
echo "Tenantry load benchmark: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (after a $WARMUP warm-up), $(nproc) CPUs shared by server and wrk"
# Anything else busy on the machine (compiles, tests) skews every row.
echo "Load average before the runs: $LOADAVG_BEFORE"
echo
awk -F'|' 'BEGIN {
        printf "%-30s %12s %12s %9s %13s\n", "Scenario", "Req/s", "p99 (ms)", "Non-2xx", "Socket errs"
        printf "%-30s %12s %12s %9s %13s\n", "------------------------------", "------------", "------------", "---------", "-------------"
    }
    { printf "%-30s %12s %12s %9s %13s\n", $1, $2, $3, $4, $5 }' "$RESULTS"
echo

ceiling=$(rps_of "$HEALTHZ")
for label in "$DASH_SQLITE" "$DASH_PG"; do
    rps=$(rps_of "$label")
    if [[ "$rps" == skipped ]]; then
        printf '%-40s skipped\n' "$label / ceiling:"
    else
        awk -v d="$rps" -v c="$ceiling" -v g="$GOAL_PERCENT" -v l="$label / ceiling:" 'BEGIN {
            r = 100 * d / c
            printf "%-40s %5.1f %%  (goal >= %d %%: %s)\n", l, r, g, (r >= g) ? "met" : "NOT met" }'
    fi
done

if ((${#SERVER_LOG_LINES[@]} > 0)); then
    echo
    echo "Server warning/error log lines (shown above): ${SERVER_LOG_LINES[*]}"
fi

if ((UNTRUSTWORTHY)); then
    echo
    echo "WARNING: some runs saw non-2xx responses or socket errors (see above); do not trust those rows."
    exit 2
fi
