#!/usr/bin/env bash
# Charge benchmark for Tenantry: POST /api/v1/usage/charges at 16 and 64
# connections on SQLite and PostgreSQL, beside /healthz and, on the same
# PostgreSQL in the same run, pgbench running the charge's two statements
# (the conditional wallet update and the ledger insert, one transaction).
#
# Per backend it starts the release binary, signs a user up through the
# form, and gives their personal workspace a project, a key and a balance
# large enough never to run out (SQL, seconds). wrk sends charges of one
# micro-credit, each with its own Idempotency-Key. After each run it checks
# the books: no wallet below zero, every balance the sum of its ledger
# (an "overdraft" is a wallet where either fails).
#
# Usage: benches/charges.sh           (see benches/README.md)
# Every server it starts is killed on exit, the temp dir removed and the
# throw-away PostgreSQL database dropped.

set -euo pipefail

DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
THREADS=${BENCH_THREADS:-2}
CONNECTION_COUNTS=${BENCH_CONNECTION_COUNTS:-"16 64"}
BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
PG_URL=${BENCH_POSTGRES_URL:-${TENANTRY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1/postgres}}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=${BENCH_BIN:-$TARGET_DIR/release/tenantry}

log() { printf '[charges] %s\n' "$*" >&2; }
die() { printf '[charges] ERROR: %s\n' "$*" >&2; exit 1; }

for tool in wrk curl awk sqlite3 psql pgbench sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is required but not installed"
done
if [[ -z "${BENCH_BIN:-}" && "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    cargo build --release --quiet
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tenantry-charges.XXXXXX")
SERVER_PID=""
PG_BENCH_DB=""

cleanup() {
    local status=$?
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [[ -n "$PG_BENCH_DB" ]]; then
        psql "$PG_URL" -qAt -c "DROP DATABASE IF EXISTS \"$PG_BENCH_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            log "could not drop PostgreSQL database $PG_BENCH_DB; drop it by hand"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_server() {
    local name=$1 database_url=$2 port
    port=$((20000 + RANDOM % 40000))
    mkdir -p "$WORK/$name"
    SERVER_URL="http://127.0.0.1:$port"
    SERVER_LOG="$WORK/$name/server.log"
    env TENANTRY_CONFIG="$WORK/no-such-config.toml" TENANTRY_BIND="127.0.0.1:$port" \
        TENANTRY_BASE_URL="$SERVER_URL" TENANTRY_DATA_DIR="$WORK/$name" \
        TENANTRY_MAIL_POLL_SECONDS=3600 DATABASE_URL="$database_url" RUST_LOG=warn \
        "$BIN" serve >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do
        kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(tail -n 3 "$SERVER_LOG")"
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/readyz" || true) == 200 ]] && return 0
        sleep 0.1
    done
    die "server not ready after 60 s"
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    if grep -qE 'WARN|ERROR' "$SERVER_LOG"; then
        log "server logged warnings/errors; first ones:"
        grep -E 'WARN|ERROR' "$SERVER_LOG" | sed -n 1,5p >&2
    fi
}

sql() {
    case $1 in
        sqlite) sqlite3 -cmd '.timeout 20000' "$WORK/sqlite/tenantry.db" "$2" ;;
        postgres) psql "$PG_DB_URL" -qAt -v ON_ERROR_STOP=1 -c "$2" ;;
    esac
}

# A user signed up through the form; their personal workspace gets a
# project, a key (printed) and a balance of a million credits.
seed() {
    local backend=$1 jar="$WORK/jar.$1" csrf workspace key prefix
    csrf=$(curl -sS -c "$jar" -b "$jar" "$SERVER_URL/signup" |
        awk 'index($0, "name=\"csrf_token\"") && !done { match($0, /value="[^"]*"/); print substr($0, RSTART + 7, RLENGTH - 8); done = 1 }')
    [[ $(curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
        --data-urlencode "csrf_token=$csrf" --data-urlencode "name=Bench" \
        --data-urlencode "email=bench@example.com" --data-urlencode "password=correct horse battery staple 9" \
        "$SERVER_URL/signup") == 303 ]] || die "sign-up failed"
    workspace=$(sql "$backend" "SELECT id FROM workspaces WHERE kind = 'personal'")
    prefix="tk_$(openssl rand -hex 6 2>/dev/null || printf '%012x' $RANDOM)"
    key="${prefix}_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    sql "$backend" "INSERT INTO projects (id, workspace_id, name, description, created_at, updated_at)
        VALUES ('00000000-0000-4000-8000-000000000001', '$workspace', 'Bench', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
        INSERT INTO project_keys (id, workspace_id, project_id, name, prefix, secret_hash, created_at)
        VALUES ('00000000-0000-4000-8000-000000000002', '$workspace', '00000000-0000-4000-8000-000000000001',
                'bench', '$prefix', '$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)', CURRENT_TIMESTAMP);
        INSERT INTO ledger_entries (id, workspace_id, kind, amount, balance_after, idempotency_key, request_digest, created_at)
        VALUES ('00000000-0000-4000-8000-000000000003', '$workspace', 'adjustment', 1000000000000, 1000000000000,
                'bench-funding', 'bench', CURRENT_TIMESTAMP);
        UPDATE wallets SET balance = 1000000000000 WHERE workspace_id = '$workspace';" >/dev/null
    WORKSPACE=$workspace
    KEY=$key
}

# Wallets below zero or off their ledger.
overdrafts() {
    sql "$1" "SELECT COUNT(*) FROM wallets w WHERE w.balance < 0 OR w.balance <> COALESCE((SELECT SUM(e.amount)
        FROM ledger_entries e WHERE e.workspace_id = w.workspace_id), 0)"
}

cat >"$WORK/charge.lua" <<'EOF'
-- A charge of one micro-credit with an Idempotency-Key no other request uses.
local counter, thread_tag, threads = 0, "", 0
function setup(thread) threads = threads + 1; thread:set("tag", threads) end
function init(args) thread_tag = tostring(tag) .. "-" .. tostring(os.time()) end
wrk.method = "POST"
wrk.body = '{"model":"bench-model","amount":1,"description":"bench"}'
wrk.headers["Content-Type"] = "application/json"
function request()
    counter = counter + 1
    wrk.headers["Idempotency-Key"] = thread_tag .. "-" .. counter
    return wrk.format()
end
EOF

RESULTS="$WORK/results"
: >"$RESULTS"

# run_wrk LABEL CONNECTIONS PATH [wrk args]: req/s, p50, p99 into the table.
run_wrk() {
    local label=$1 connections=$2 path=$3 out="$WORK/wrk.out"
    shift 3
    wrk -t"$THREADS" -c"$connections" -d"$WARMUP" "$@" "$SERVER_URL$path" >/dev/null
    wrk --latency -t"$THREADS" -c"$connections" -d"$DURATION" "$@" "$SERVER_URL$path" >"$out"
    awk -v label="$label" '
        function ms(v,   u) { u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
            return v * ((u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : 60000) }
        /^Requests\/sec:/ { rps = $2 } $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { printf "%s|%.0f|%.2f|%.2f|%d\n", label, rps, p50, p99, bad }' "$out" >>"$RESULTS"
}

for backend in $BACKENDS; do
    case $backend in
        sqlite) start_server sqlite "sqlite://$WORK/sqlite/tenantry.db" ;;
        postgres)
            PG_BENCH_DB="tenantry_charges_$(date +%s)_$RANDOM"
            psql "$PG_URL" -qAt -c "CREATE DATABASE \"$PG_BENCH_DB\"" >/dev/null
            PG_DB_URL="${PG_URL%/*}/$PG_BENCH_DB"
            start_server postgres "$PG_DB_URL"
            ;;
    esac
    seed "$backend"
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" -H 'Idempotency-Key: probe' \
        -H 'Content-Type: application/json' -d '{"model":"m","amount":1}' "$SERVER_URL/api/v1/usage/charges") == 201 ]] ||
        die "a charge on $backend was not accepted"
    for connections in $CONNECTION_COUNTS; do
        run_wrk "$backend healthz c$connections" "$connections" /healthz
        run_wrk "$backend charge c$connections" "$connections" /api/v1/usage/charges \
            -s "$WORK/charge.lua" -H "Authorization: Bearer $KEY"
        if [[ $backend == postgres ]]; then
            cat >"$WORK/pgbench.sql" <<EOF
BEGIN;
WITH debit AS (UPDATE wallets SET balance = balance - 1, month_spent = month_spent + 1, updated_at = now()
               WHERE workspace_id = '$WORKSPACE' AND balance >= 1 RETURNING balance)
INSERT INTO ledger_entries (id, workspace_id, kind, amount, balance_after, idempotency_key, request_digest, created_at)
SELECT gen_random_uuid()::text, '$WORKSPACE', 'charge', -1, balance, gen_random_uuid()::text, 'pgbench', now() FROM debit;
END;
EOF
            pgbench -n -M prepared -c "$connections" -j "$THREADS" -T "${DURATION%s}" -f "$WORK/pgbench.sql" \
                -r "$PG_DB_URL" >"$WORK/pgbench.out" 2>&1 || die "pgbench failed: $(tail -3 "$WORK/pgbench.out")"
            awk -v label="pgbench charge c$connections" '
                /^tps = / { tps = $3 } /latency average/ { avg = $4 }
                END { printf "%s|%.0f|%.2f|-|0\n", label, tps, avg }' "$WORK/pgbench.out" >>"$RESULTS"
        fi
    done
    log "$backend: $(overdrafts "$backend") overdrawn or unbalanced wallet(s), $(sql "$backend" "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'charge'") charges entered"
    printf '%s overdrafts|%s|-|-|-\n' "$backend" "$(overdrafts "$backend")" >>"$RESULTS"
    stop_server
done

printf '\n%-26s %10s %9s %9s %8s\n' "run" "req/s" "p50 ms" "p99 ms" "non-2xx"
awk -F'|' '{ printf "%-26s %10s %9s %9s %8s\n", $1, $2, $3, $4, $5 }' "$RESULTS"
echo
awk -F'|' '
    / charge c/ && !/pgbench/ { split($1, a, " "); charge[a[1] " " a[3]] = $2 }
    /healthz c/ { split($1, a, " "); health[a[1] " " a[3]] = $2 }
    /^pgbench/ { split($1, a, " "); pgb[a[3]] = $2 }
    END {
        for (k in charge) {
            split(k, a, " ")
            line = sprintf("%s at %s: charge = %.0f%% of /healthz", a[1], a[2], 100 * charge[k] / health[k])
            if (a[2] in pgb && pgb[a[2]] > 0) line = line sprintf(", %.0f%% of pgbench (goal >= 50%%, p99 < 20 ms)", 100 * charge[k] / pgb[a[2]])
            print line
        }
    }' "$RESULTS" | sort
echo "(pgbench's p50 column is its average latency.)"
