#!/usr/bin/env bash
# Page benchmark for Tenantry: what signed-in pages cost in organizations of
# 5 000 and 100 000 members, on SQLite and PostgreSQL.
#
# For each backend it starts the release binary, signs an owner up through the
# forms, creates one organization per size, bulk-loads its members with SQL
# (users + memberships, the way an import would), and measures with wrk
# (-c64 by default):
#   GET /healthz (the ceiling), and per organization the dashboard, the
#   members page (the first page, which the app keeps in memory, and a
#   later one, "members2", which it reads on every view), a members
#   search, the general settings, the audit log, the organizations
#   page ("orgs": the cards of every organization the owner belongs to),
#   and the Billing and Usage tabs (an empty wallet: what they cost before
#   their lists).
# Per page it also times single requests from one client (median of 21) and
# reads the statements one view ran: from `X-Db-Statements` (the app's own
# count, BEGIN/COMMIT included) and, on PostgreSQL, from the server log with
# `log_statement = 'all'` set on the bench database (BEGIN/COMMIT excluded).
# One table at the end; the goals are quoted under it.
#
# Usage: benches/pages.sh                     (see benches/README.md)
#        BENCH_BIN=/path/to/old/tenantry benches/pages.sh   (measure another build)
#
# Every server it starts is killed on exit, the temp dir removed and the
# throw-away PostgreSQL database dropped.

set -euo pipefail

DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-2s}
THREADS=${BENCH_THREADS:-2}
# A timed run the hypervisor took more than this much CPU from (both CPUs,
# ms) is repeated, up to BENCH_ATTEMPTS runs in all; see `measure`.
STEAL_LIMIT_MS=${BENCH_STEAL_LIMIT_MS:-50}
ATTEMPTS=${BENCH_ATTEMPTS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SIZES=${BENCH_SIZES:-"5000 100000"}
BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
# shellcheck source=benches/postgres_url.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres_url.sh"
SEARCH=${BENCH_SEARCH:-person 4242}
# Invitations per organization (the owner's members page lists them): 0
# keeps the rows comparable with earlier runs; 60 is an organization that
# invites people (10 pending, the rest ended).
INVITATIONS=${BENCH_INVITATIONS:-0}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${BENCH_BIN:-$TARGET_DIR/release/tenantry}

log() { printf '[pages] %s\n' "$*" >&2; }
die() { printf '[pages] ERROR: %s\n' "$*" >&2; exit 1; }

for tool in wrk curl awk sqlite3; do
    command -v "$tool" >/dev/null || die "$tool is required but not installed"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tenantry-pages.XXXXXX")
SERVER_PIDS=()
WRK_PID=""
PG_BENCH_DB=""
PG_ADMIN_URL=""

cleanup() {
    local status=$? pid
    if [[ -n "$WRK_PID" ]]; then kill "$WRK_PID" 2>/dev/null || true; fi
    for pid in "${SERVER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "$PG_BENCH_DB" ]]; then
        psql "$PG_ADMIN_URL" -qAt -c "DROP DATABASE IF EXISTS \"$PG_BENCH_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            log "could not drop PostgreSQL database $PG_BENCH_DB; drop it by hand"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wrk_bg() {
    wrk "$@" &
    WRK_PID=$!
    wait "$WRK_PID" || die "wrk $* failed"
    WRK_PID=""
}

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

# start_server NAME DATABASE_URL: the data dir (secret key, so cookies stay
# valid across a restart) is kept per NAME. The mail worker polls hourly so
# its queries don't land in the statement counts.
start_server() {
    local attempt
    for attempt in 1 2 3; do
        try_start_server "$@" && return 0
        log "server did not start (attempt $attempt); trying another port"
    done
    die "server exited during start-up"
}

try_start_server() {
    local name=$1 database_url=$2 port data_dir
    port=$(free_port)
    data_dir="$WORK/$name"
    mkdir -p "$data_dir"
    SERVER_URL="http://127.0.0.1:$port"
    SERVER_LOG="$data_dir/server.log"
    env TENANTRY_CONFIG="$WORK/no-such-config.toml" \
        TENANTRY_BIND="127.0.0.1:$port" \
        TENANTRY_BASE_URL="$SERVER_URL" \
        TENANTRY_DATA_DIR="$data_dir" \
        TENANTRY_MAIL_POLL_SECONDS=3600 \
        TENANTRY_EXPOSE_DB_STATEMENTS=true \
        DATABASE_URL="$database_url" \
        RUST_LOG=warn \
        "$BIN" serve >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    for _ in $(seq 600); do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 3 "$SERVER_LOG" >&2; return 1; }
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/readyz" || true) == 200 ]] && return 0
        sleep 0.1
    done
    die "server not ready after 60 s"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    local count
    count=$(grep -cE 'WARN|ERROR' "$SERVER_LOG" || true)
    if ((count > 0)); then
        log "server logged $count warning/error line(s); first ones:"
        grep -E "WARN|ERROR" "$SERVER_LOG" | sed -n 1,5p >&2
    fi
}

JAR="$WORK/jar"

# csrf_of PAGE ACTION: the csrf_token of the form posting to ACTION on PAGE.
csrf_of() {
    curl -sS -c "$JAR" -b "$JAR" "$SERVER_URL$1" | awk -v action="action=\"$2\"" '
        index($0, action) { in_form = 1 }
        in_form && !done && /name="csrf_token"/ {
            match($0, /value="[^"]*"/); print substr($0, RSTART + 7, RLENGTH - 8); done = 1 }'
    # (awk reads to the end: exiting early would fail curl's write, and pipefail the script.)
}

# post PAGE ACTION FIELD=VALUE...: submits the form like a browser; expects 303.
post() {
    local page=$1 action=$2 csrf status
    shift 2
    csrf=$(csrf_of "$page" "$action")
    [[ -n "$csrf" ]] || die "no csrf_token for $action on $page"
    local args=(--data-urlencode "csrf_token=$csrf")
    for field in "$@"; do args+=(--data-urlencode "$field"); done
    status=$(curl -sS -o /dev/null -w '%{http_code}' -c "$JAR" -b "$JAR" "${args[@]}" "$SERVER_URL$action")
    [[ "$status" == 303 ]] || die "POST $action answered $status, expected 303"
}

cookie_header() {
    awk '{ sub(/^#HttpOnly_/, "") } /^#/ || NF < 7 { next }
         { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$JAR"
}

# sql BACKEND STATEMENTS: runs SQL on the bench database.
sql() {
    case $1 in
        sqlite) sqlite3 -cmd '.timeout 20000' "$WORK/sqlite/tenantry.db" "$2" ;;
        postgres) psql "$PG_DB_URL" -qAt -v ON_ERROR_STOP=1 -c "$2" ;;
    esac
}

# seed BACKEND SLUG N: N members (users + active memberships) in SLUG.
# Their ids are UUID v7 as the app makes them (uuid::Uuid::now_v7): a
# millisecond timestamp first, so members who joined one after another sit
# side by side in the indexes and the heap, as they do in a real database.
# (Random v4 ids, which earlier runs used, put each of a page's 50 members
# on a page of its own: a fifth more buffers read per members view than
# the app's own ids ever produce.) User n was created at 2026-01-01 plus
# n ms; their membership a second later.
seed() {
    local backend=$1 slug=$2 n=$3 workspace role
    workspace=$(sql "$backend" "SELECT id FROM workspaces WHERE slug = '$slug'")
    role=$(sql "$backend" "SELECT id FROM roles WHERE workspace_id = '$workspace' AND system_key = 'member'")
    [[ -n "$workspace" && -n "$role" ]] || die "no workspace or member role for $slug"
    # seq: n, the user's and the membership's timestamps (12 hex digits),
    # and 32 random hex digits for each id; the SQL below reads it alike on
    # both backends.
    local users_and_memberships="
            INSERT INTO users (id, email, name, password_hash, status, created_at, updated_at)
            SELECT $(v7_id user_ts user_random), 'person' || n || '.$slug@example.com', 'Person ' || n, 'x',
                   'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM seq ORDER BY n;
            INSERT INTO memberships (id, workspace_id, user_id, role_id, status, joined_at, updated_at)
            SELECT $(v7_id member_ts member_random), '$workspace', users.id, '$role', 'active',
                   '2026-01-01 00:00:00', '2026-01-01 00:00:00'
            FROM seq JOIN users ON users.email = 'person' || n || '.$slug@example.com' ORDER BY n;"
    if [[ $backend == sqlite ]]; then
        sql sqlite "BEGIN IMMEDIATE;
            CREATE TEMP TABLE seq AS
                WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < $n - 1)
                SELECT n, printf('%012x', 1767225600000 + n) AS user_ts, printf('%012x', 1767225601000 + n) AS member_ts,
                       lower(hex(randomblob(16))) AS user_random, lower(hex(randomblob(16))) AS member_random FROM s;
            $users_and_memberships
            DROP TABLE seq;
            COMMIT; ANALYZE;"
    else
        sql postgres "BEGIN;
            CREATE TEMP TABLE seq ON COMMIT DROP AS
                SELECT n, lpad(to_hex(1767225600000 + n), 12, '0') AS user_ts, lpad(to_hex(1767225601000 + n), 12, '0') AS member_ts,
                       md5(random()::text) AS user_random, md5(random()::text) AS member_random
                FROM generate_series(0, $n - 1) AS n;
            $users_and_memberships
            COMMIT;"
        # As autovacuum would within a minute of such a load: VACUUM moves
        # the trigram indexes' pending entries (GIN's fast-update list, which
        # every search reads through) into the index proper.
        sql postgres "VACUUM ANALYZE users, memberships"
    fi
}

# seed_invitations BACKEND SLUG N: N invitations to SLUG sent by its owner,
# offering its member role: the first 10 pending (expiring in a week), the
# rest ended a week ago (accepted or revoked, alternately).
seed_invitations() {
    local backend=$1 slug=$2 n=$3 workspace role series id ts
    ((n > 0)) || return 0
    workspace=$(sql "$backend" "SELECT id FROM workspaces WHERE slug = '$slug'")
    role=$(sql "$backend" "SELECT id FROM roles WHERE workspace_id = '$workspace' AND system_key = 'member'")
    # SQLite keeps times as text; PostgreSQL wants them typed.
    if [[ $backend == sqlite ]]; then
        series="(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $n) SELECT n FROM s) AS s"
        id="printf('0190bbbb-0000-7000-8000-%012d', n)"
        ts=""
    else
        series="generate_series(1, $n) AS s(n)"
        id="'0190bbbb-0000-7000-8000-' || lpad(n::text, 12, '0')"
        ts="TIMESTAMP "
    fi
    sql "$backend" "INSERT INTO invitations (id, workspace_id, email, name, role_id, token_hash, status,
            invited_by_name, created_at, expires_at, send_count, last_sent_at, resolved_at, resolved_by_name, role_name)
        SELECT $id, '$workspace', 'invitee' || n || '.$slug@example.com', 'Invitee ' || n,
            CASE WHEN n <= 10 THEN '$role' END, 'bench-token-$slug-' || n,
            CASE WHEN n <= 10 THEN 'pending' WHEN n % 2 = 0 THEN 'accepted' ELSE 'revoked' END, 'Bench Owner',
            ${ts}'2026-01-01 00:00:00',
            CASE WHEN n <= 10 THEN ${ts}'2099-01-01 00:00:00' ELSE ${ts}'2026-01-08 00:00:00' END,
            1, ${ts}'2026-01-01 00:00:00',
            CASE WHEN n <= 10 THEN NULL ELSE ${ts}'2026-01-02 00:00:00' END,
            CASE WHEN n <= 10 THEN NULL ELSE 'Someone' END, 'Member'
        FROM $series"
}

# v7_id TIMESTAMP_COLUMN RANDOM_COLUMN: SQL for a UUID v7 text from seq's
# 12 hex digits of milliseconds and 32 random hex digits (version 7, the
# variant's two bits from n).
v7_id() {
    echo "substr($1, 1, 8) || '-' || substr($1, 9, 4) || '-7' || substr($2, 1, 3) || '-' ||
          substr('89ab', 1 + n % 4, 1) || substr($2, 4, 3) || '-' || substr($2, 7, 12)"
}

switch_to() {
    local workspace
    workspace=$(sql "$1" "SELECT id FROM workspaces WHERE slug = '$2'")
    post / /context "workspace_id=$workspace" "return_to=/"
    # The next view consumes the flash, if any; later views look alike.
    curl -sS -o /dev/null -b "$JAR" "$SERVER_URL/"
}

# The server's request counter for GET PATH: "non-2xx total" (wrk ignores 3xx).
status_counts() {
    curl -sS "$SERVER_URL/metrics" | awk -v want="endpoint=\"$1\"" '
        /^[a-z_]*http_requests_total\{/ && index($0, want) && index($0, "method=\"GET\"") {
            total += $NF
            if (match($0, /status="[0-9]+"/) && substr($0, RSTART + 8, 1) != "2") bad += $NF
        }
        END { printf "%d %d\n", bad, total }'
}

# CPU time the hypervisor gave to other guests (all CPUs, in clock ticks):
# on a virtual machine a p99 can be a stall of the host, not of the app,
# and this column tells the two apart.
CLOCK_TICKS=$(getconf CLK_TCK)
steal_ticks() { awk '$1 == "cpu" { print $9 + 0 }' /proc/stat; }

# measure KEY PATH [COOKIE]: wrk req/s + p99, one client's median, statements.
UNTRUSTWORTHY=0
measure() {
    local key=$1 path=$2 cookie=${3:-} out counts bad0 total0 bad1 total1
    local args=(--latency -t"$THREADS" -c"$CONNECTIONS")
    [[ -n "$cookie" ]] && args+=(-H "Cookie: $cookie")
    out="$WORK/wrk.$RANDOM"
    # The route pattern the metrics use (no query string).
    local route=${path%%\?*}
    log "$key: $path"
    # The server may still be draining a previous overloaded run: wait for it.
    local status tries=0
    while :; do
        status=$(curl -sS -o /dev/null -w '%{http_code}' ${cookie:+-H "Cookie: $cookie"} "$SERVER_URL$path" || true)
        [[ "$status" == 200 ]] && break
        ((++tries < 60)) || die "$key: GET $path answered $status for a minute"
        sleep 1
    done
    wrk_bg "${args[@]}" -d"$WARMUP" "$SERVER_URL$path" >/dev/null
    read -r bad0 total0 <<<"$(status_counts "$route")"
    # A run the host stole more than STEAL_LIMIT_MS from is run again, up
    # to ATTEMPTS times, and the least-stolen run is the row: its p99 and
    # req/s are the app's. Every attempt's steal is printed.
    local steal0 steal1 stolen attempt best_stolen="" stolen_list=""
    for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
        steal0=$(steal_ticks)
        wrk_bg "${args[@]}" -d"$DURATION" "$SERVER_URL$path" >"$out.$attempt"
        steal1=$(steal_ticks)
        stolen=$(((steal1 - steal0) * 1000 / CLOCK_TICKS))
        stolen_list+="${stolen_list:+,}$stolen"
        if [[ -z "$best_stolen" ]] || ((stolen < best_stolen)); then
            best_stolen=$stolen
            cp "$out.$attempt" "$out"
        fi
        ((stolen <= STEAL_LIMIT_MS)) && break
        if ((attempt < ATTEMPTS)); then
            log "$key: the host took $stolen ms during the run; running it again"
        fi
    done
    read -r bad1 total1 <<<"$(status_counts "$route")"
    if ((total1 == total0)); then
        # Not one request finished within the run (wrk's 2 s timeout): record it.
        log "WARNING: $key: no request to $route finished during the run"
        printf '%s|0|timeout|-|-|-|-\n' "$key" >>"$RESULTS"
        UNTRUSTWORTHY=1
        return 0
    fi
    local rps p99 errors bad median statements
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
                f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : 60000
                printf "%.1f", v * f }' "$out")
    errors=$(awk '/^ *Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
    errors=${errors:-0}
    bad=$((bad1 - bad0))
    if ((bad > 0 || errors > 0)); then
        cat "$out" >&2
        log "WARNING: $key: $bad non-2xx responses, $errors socket errors: row not trustworthy"
        UNTRUSTWORTHY=1
    fi
    # One client, one request at a time: the latency a person sees.
    median=$(for _ in $(seq 21); do
        curl -sS -o /dev/null -w '%{time_total}\n' ${cookie:+-H "Cookie: $cookie"} "$SERVER_URL$path"
    done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", 1000 * a[int((NR + 1) / 2)] }')
    statements=$(curl -sS -o /dev/null -D - ${cookie:+-H "Cookie: $cookie"} "$SERVER_URL$path" |
        awk 'tolower($1) == "x-db-statements:" { gsub(/\r/, ""); s = $2 }
             tolower($1) == "x-db-checkouts:" { gsub(/\r/, ""); c = $2 }
             END { if (s != "") printf "%s/%s", s, (c == "" ? "?" : c) }')
    printf '%s|%s|%s|%s|%s|%s|%s\n' "$key" "$rps" "$p99" "$median" "${statements:--}" "$bad/$errors" \
        "$stolen_list" >>"$RESULTS"
}

# PostgreSQL's statements for one GET, from its log (BEGIN/COMMIT excluded).
PG_LOG=${BENCH_PG_LOG:-$(ls -t /var/log/postgresql/*.log 2>/dev/null | head -n 1)}
pg_log_count() {
    local path=$1 before
    curl -sS -o /dev/null -b "$JAR" "$SERVER_URL$path"
    sleep 0.3
    before=$(stat -c %s "$PG_LOG")
    curl -sS -o /dev/null -b "$JAR" "$SERVER_URL$path"
    sleep 0.5
    tail -c +"$((before + 1))" "$PG_LOG" |
        grep -F "@$PG_BENCH_DB " | grep -E 'LOG:  (statement|execute [^:]*):' |
        grep -cvE 'LOG:  (statement|execute [^:]*): *(BEGIN|COMMIT|ROLLBACK)' || true
}

# page_path PATH: PATH, or for NEXT the members page's "Next page" link as
# the signed-in owner sees it now (a later page: its cursor is a member's
# id, so it is found, not written here).
page_path() {
    if [[ $1 != NEXT ]]; then
        printf '%s' "$1"
        return
    fi
    curl -sS -b "$JAR" "$SERVER_URL/settings/members" |
        grep -o 'href="[^"]*" id="next-members"' | sed 's/^href="//; s/" id=.*//'
}

PAGES=(
    "dashboard|/"
    "members|/settings/members"
    "members2|NEXT"
    "search|/settings/members?q=$(printf '%s' "$SEARCH" | sed 's/ /%20/g')"
    "general|/settings/general"
    "audit|/audit"
    "orgs|/organizations"
    "billing|/settings/billing"
    "usage|/settings/usage"
)

if [[ "${BENCH_NO_BUILD:-0}" != 1 && -z "${BENCH_BIN:-}" ]]; then
    log "building release binary into $TARGET_DIR"
    cargo build --release --quiet || die "cargo build --release failed"
fi
[[ -x "$BIN" ]] || die "$BIN not found"

LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS="$WORK/results"
PGLOG_RESULTS="$WORK/pglog"
: >"$RESULTS"
: >"$PGLOG_RESULTS"

for backend in $BACKENDS; do
    case $backend in
        sqlite) db_url="sqlite://$WORK/sqlite/tenantry.db" ;;
        postgres)
            command -v psql >/dev/null || { log "no psql: skipping PostgreSQL"; continue; }
            export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5}
            psql "$PG_URL" -qAt -c 'SELECT 1' >/dev/null 2>&1 || { log "PostgreSQL unreachable: skipping"; continue; }
            PG_ADMIN_URL=$PG_URL
            PG_BENCH_DB="tenantry_pages_$(date +%s)_$RANDOM"
            psql "$PG_ADMIN_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_BENCH_DB\"" >/dev/null
            pg_base=${PG_URL%%\?*}
            pg_query=""
            [[ "$PG_URL" == *\?* ]] && pg_query="?${PG_URL#*\?}"
            pg_rest=${pg_base#*://}
            PG_DB_URL="${pg_base%%://*}://${pg_rest%%/*}/$PG_BENCH_DB$pg_query"
            db_url=$PG_DB_URL
            ;;
        *) die "unknown backend $backend" ;;
    esac
    log "starting server on $backend"
    start_server "$backend" "$db_url"
    rm -f "$JAR"
    post /signup /signup "name=Bench Owner" "email=owner@example.com" "password=violet staple orbit 42"
    for size in $SIZES; do
        post /organizations/new /organizations "name=Org $size" "slug=org$size"
        started=$(date +%s)
        seed "$backend" "org$size" "$size"
        seed_invitations "$backend" "org$size" "$INVITATIONS"
        log "$backend: seeded $size members in $(($(date +%s) - started)) s"
    done
    COOKIE=$(cookie_header)
    measure "$backend|-|healthz" /healthz
    for size in $SIZES; do
        switch_to "$backend" "org$size"
        for page in "${PAGES[@]}"; do
            measure "$backend|$size|${page%%|*}" "$(page_path "${page#*|}")" "$COOKIE"
        done
    done
    stop_server
    if [[ $backend == postgres ]]; then
        if [[ -r "$PG_LOG" ]]; then
            # New connections pick the setting up: restart the server.
            sql postgres "ALTER DATABASE \"$PG_BENCH_DB\" SET log_statement = 'all'"
            start_server "$backend" "$db_url"
            for size in $SIZES; do
                switch_to "$backend" "org$size"
                for page in "${PAGES[@]}"; do
                    printf '%s|%s\n' "$size|${page%%|*}" "$(pg_log_count "$(page_path "${page#*|}")")" >>"$PGLOG_RESULTS"
                done
            done
            stop_server
            sql postgres "ALTER DATABASE \"$PG_BENCH_DB\" RESET log_statement"
        else
            log "cannot read the PostgreSQL log ($PG_LOG): no statement counts from it"
        fi
    fi
done

echo
echo "Tenantry pages: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (after $WARMUP warm-up), $(nproc) CPUs shared by server and wrk"
echo "Binary: $BIN; load average before: $LOADAVG_BEFORE; search: \"$SEARCH\""
echo "PostgreSQL: ${PG_URL%%\?*}"
echo
awk -F'|' -v pglog="$PGLOG_RESULTS" -v cpus="$(nproc)" '
    BEGIN {
        while ((getline line < pglog) > 0) { split(line, p, "|"); stmts[p[1] "|" p[2]] = p[3] }
        printf "%-8s %7s %-10s %9s %7s %9s %8s %11s %8s %7s %8s  %s\n", "backend", "members", "page", "req/s", "cpu µs", "p99 ms", "%healthz", "1-client ms", "stmts/co", "PG log", "bad/err", "steal ms"
    }
    {
        if ($3 == "healthz") ceiling[$1] = $4
        ratio = ($1 in ceiling && ceiling[$1] > 0) ? sprintf("%.1f", 100 * $4 / ceiling[$1]) : "-"
        pg = ($1 == "postgres" && (($2 "|" $3) in stmts)) ? stmts[$2 "|" $3] : "-"
        cpu = ($4 > 0) ? sprintf("%.1f", cpus * 1000000 / $4) : "-"
        printf "%-8s %7s %-10s %9.0f %7s %9s %8s %11s %8s %7s %8s  %s\n", $1, $2, $3, $4, cpu, $5, ratio, $6, $7, pg, $8, $9
    }' "$RESULTS"
echo
echo "stmts/co: X-Db-Statements / X-Db-Checkouts (the app's count of statements, BEGIN/COMMIT included, and of pool checkouts for one view; '-' or '?' when the binary has no such header)."
echo "cpu µs: the machine's CPU time per request ($(nproc) CPUs / req/s: server, database, kernel and wrk together), comparable across machines where req/s and its ratios are not."
echo "steal ms: CPU time the hypervisor took from this machine during each timed run (both CPUs); a run with more than $STEAL_LIMIT_MS ms is run again (up to $ATTEMPTS in all) and the row is the least-stolen run: a high p99 beside a high steal is the host's."
echo "PG log: statements PostgreSQL logged for one view with log_statement = 'all' (BEGIN/COMMIT excluded)."
echo "Goals (issue 8, 100 000 members): dashboard >= 8 % of /healthz on PostgreSQL, >= 20 % on SQLite;"
echo "members page >= 60 % of the dashboard; p99 of both < 50 ms; search < 20 ms median (1-client column)."
if ((UNTRUSTWORTHY)); then
    echo "WARNING: some runs saw non-2xx responses or socket errors; do not trust those rows."
    exit 2
fi
