#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: a figure that
# does not move with the machine's noise (unlike req/s), so two builds can be
# compared in one line each. SQLite only (the instructions PostgreSQL's own
# server spends are not the app's).
#
# It starts the release binary under callgrind (instrumentation off), signs
# an owner up through the forms, creates an organization, bulk-loads
# BENCH_MEMBERS members with SQL, switches into it, and then for each page
# turns instrumentation on, warms up, zeroes the counters, sends
# BENCH_REQUESTS requests one after the other with curl, and dumps: the
# dump's total divided by the requests is the row. Every thread of the
# server counts (workers, the blocking pool); curl does not.
#
# Usage: benches/instructions.sh
#        BENCH_BIN=/path/to/other/tenantry benches/instructions.sh
# Knobs: BENCH_MEMBERS (5000), BENCH_REQUESTS (30), BENCH_BIN, BENCH_NO_BUILD.
# A binary built with line tables keeps the profiles readable:
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release
# The callgrind files are left in the printed directory for
# callgrind_annotate --inclusive=yes.

set -euo pipefail

MEMBERS=${BENCH_MEMBERS:-5000}
REQUESTS=${BENCH_REQUESTS:-30}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/tenantry}

die() { printf '[instructions] ERROR: %s\n' "$*" >&2; exit 1; }
for tool in valgrind callgrind_control curl sqlite3; do
    command -v "$tool" >/dev/null || die "$tool is required but not installed"
done
if [[ "${BENCH_NO_BUILD:-0}" != 1 && -z "${BENCH_BIN:-}" ]]; then
    cargo build --release --quiet || die "cargo build --release failed"
fi
[[ -x "$BIN" ]] || die "$BIN not found"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tenantry-instructions.XXXXXX")
PORT=$((20000 + RANDOM % 40000))
URL="http://127.0.0.1:$PORT"
VALGRIND_PID=""
cleanup() {
    if [[ -n "$VALGRIND_PID" ]]; then kill "$VALGRIND_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

env TENANTRY_CONFIG="$WORK/no-such-config.toml" TENANTRY_BIND="127.0.0.1:$PORT" \
    TENANTRY_BASE_URL="$URL" TENANTRY_DATA_DIR="$WORK" TENANTRY_MAIL_POLL_SECONDS=3600 \
    DATABASE_URL="sqlite://$WORK/tenantry.db" RUST_LOG=warn \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.%p" \
    "$BIN" serve >"$WORK/server.log" 2>&1 &
VALGRIND_PID=$!
for _ in $(seq 1200); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz" || true) == 200 ]] && break
    kill -0 "$VALGRIND_PID" 2>/dev/null || { tail "$WORK/server.log" >&2; die "server exited"; }
    sleep 0.5
done

JAR="$WORK/jar"
csrf_of() {
    curl -sS -c "$JAR" -b "$JAR" "$URL$1" | grep -o 'name="csrf_token" value="[^"]*"' |
        head -n 1 | sed 's/.*value="//; s/"$//'
}
post() {
    local page=$1 action=$2 status
    shift 2
    local args=(--data-urlencode "csrf_token=$(csrf_of "$page")")
    for field in "$@"; do args+=(--data-urlencode "$field"); done
    status=$(curl -sS -o /dev/null -w '%{http_code}' -c "$JAR" -b "$JAR" "${args[@]}" "$URL$action")
    [[ $status == 303 ]] || die "POST $action answered $status"
}
sql() { sqlite3 -cmd '.timeout 20000' "$WORK/tenantry.db" "$1"; }

post /signup /signup "name=Bench Owner" "email=owner@example.com" "password=violet staple orbit 42"
post /organizations/new /organizations "name=Bench Org" "slug=bench"
workspace=$(sql "SELECT id FROM workspaces WHERE slug = 'bench'")
role=$(sql "SELECT id FROM roles WHERE workspace_id = '$workspace' AND system_key = 'member'")
uuid="lower(printf('%s-%s-4%s-%s%s-%s', hex(randomblob(4)), hex(randomblob(2)), substr(hex(randomblob(2)), 2), substr('89ab', 1 + abs(random()) % 4, 1), substr(hex(randomblob(2)), 2), hex(randomblob(6))))"
sql "BEGIN IMMEDIATE;
    WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < $MEMBERS - 1)
    INSERT INTO users (id, email, name, password_hash, status, created_at, updated_at)
    SELECT $uuid, 'person' || n || '@example.com', 'Person ' || n, 'x', 'active',
           '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM seq;
    INSERT INTO memberships (id, workspace_id, user_id, role_id, status, joined_at, updated_at)
    SELECT $uuid, '$workspace', id, '$role', 'active', '2026-01-01 00:00:00', '2026-01-01 00:00:00'
    FROM users WHERE email LIKE 'person%@example.com';
    COMMIT; ANALYZE;"
post / /context "workspace_id=$workspace" "return_to=/"
curl -sS -o /dev/null -b "$JAR" "$URL/"

PAGES=("healthz|/healthz" "dashboard|/" "members|/settings/members" "general|/settings/general"
       "roles|/settings/roles" "audit|/audit")
callgrind_control -i on "$VALGRIND_PID" >/dev/null
for page in "${PAGES[@]}"; do
    path=${page#*|}
    for _ in 1 2 3; do curl -sS -o /dev/null -b "$JAR" "$URL$path"; done
    callgrind_control -z "$VALGRIND_PID" >/dev/null
    for _ in $(seq "$REQUESTS"); do curl -sS -o /dev/null -b "$JAR" "$URL$path"; done
    callgrind_control -d "${page%%|*}" "$VALGRIND_PID" >/dev/null
done
kill "$VALGRIND_PID"; wait "$VALGRIND_PID" 2>/dev/null || true; VALGRIND_PID=""

echo "Instructions per request (callgrind, SQLite, $MEMBERS members, $REQUESTS requests each)"
echo "Binary: $BIN"
printf '%-10s %14s %10s\n' page instructions "x healthz"
healthz=""
for file in "$WORK"/callgrind.*.*; do
    name=$(sed -n 's/^desc: Trigger: \(Client Request: \)\{0,1\}\(dump \)\{0,1\}//p' "$file" | head -n 1)
    total=$(awk '/^totals:/ { print $2; exit }' "$file")
    per=$((total / REQUESTS))
    [[ $name == healthz ]] && healthz=$per
    # callgrind's summary line can overflow; annotate from the totals.
    sed -i "s/^summary: .*/summary: $total/" "$file"
    printf '%-10s %14d %10s\n' "$name" "$per" "$([[ -n $healthz ]] && awk -v a="$per" -v b="$healthz" 'BEGIN { printf "%.1f", a / b }')"
done
echo "Profiles: $WORK (callgrind_annotate --inclusive=yes FILE)"
trap - EXIT
