#!/usr/bin/env bash
# Charge benchmark for Tenantry: POST /api/v1/usage/charges at 16 and 64
# connections on SQLite and PostgreSQL, beside /healthz and, on the same
# PostgreSQL in the same run, pgbench running the charge's two statements
# (the conditional wallet update and the ledger insert, one transaction).
#
# Per backend it starts the release binary and gives BENCH_WALLETS (64)
# workspaces a project, a key and a balance large enough never to run out
# (SQL, seconds). wrk sends charges of one micro-credit, each with its own
# Idempotency-Key, all to one wallet (every charge queues on its row) and
# then spread over the 64; pgbench does the same. After each run it checks
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
WALLETS=${BENCH_WALLETS:-64}
POOL=${BENCH_POOL_SIZE:-10}
BACKENDS=${BENCH_BACKENDS:-"sqlite postgres"}
# shellcheck source=benches/postgres_url.sh
source "$(dirname "${BASH_SOURCE[0]}")/postgres_url.sh"

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
        TENANTRY_MAIL_POLL_SECONDS=3600 TENANTRY_DB_POOL_SIZE="$POOL" TENANTRY_API_KEY_CALLS_PER_MINUTE=100000000 DATABASE_URL="$database_url" RUST_LOG=warn \
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

# sql_file BACKEND FILE: runs a script too long for one argument.
sql_file() {
    case $1 in
        sqlite) sqlite3 -cmd '.timeout 20000' "$WORK/sqlite/tenantry.db" <"$2" ;;
        postgres) psql "$PG_DB_URL" -qAt -v ON_ERROR_STOP=1 -f "$2" ;;
    esac
}

# WALLETS workspaces (organizations, by SQL), each with a project, a key
# and a balance of a million credits; the keys go to $WORK/keys.<backend>,
# one per line, and the wallets to bench_wallets (n, workspace_id) for
# pgbench. Each also has an owner with a member's API key (for
# /api/v1/authorize), in $WORK/member_keys.<backend>.
seed() {
    local backend=$1 keys="$WORK/keys.$1" member_keys="$WORK/member_keys.$1" statements="" n id prefix key
    local member_prefix member_key
    : >"$keys"
    : >"$member_keys"
    for n in $(seq "$WALLETS"); do
        id=$(printf '00000000-0000-4000-8000-%012d' "$n")
        prefix="tk_$(printf '%012x' "$n")"
        key="${prefix}_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        echo "$key" >>"$keys"
        member_prefix="tkm_$(printf '%012x' "$n")"
        member_key="${member_prefix}_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        echo "$member_key" >>"$member_keys"
        statements+="INSERT INTO workspaces (id, kind, name, slug, status, created_at, updated_at)
            VALUES ('$id', 'organization', 'Bench $n', 'bench-$n', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
        INSERT INTO wallets (workspace_id, balance, updated_at) VALUES ('$id', 1000000000000, CURRENT_TIMESTAMP);
        INSERT INTO ledger_entries (id, workspace_id, kind, amount, balance_after, idempotency_key, request_digest, created_at)
            VALUES ('$id', '$id', 'adjustment', 1000000000000, 1000000000000, 'bench-funding', 'bench', CURRENT_TIMESTAMP);
        INSERT INTO projects (id, workspace_id, name, description, created_at, updated_at)
            VALUES ('$id', '$id', 'Bench', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
        INSERT INTO project_keys (id, workspace_id, project_id, name, prefix, secret_hash, created_at)
            VALUES ('$id', '$id', '$id', 'bench', '$prefix', '$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)', CURRENT_TIMESTAMP);
        INSERT INTO users (id, email, name, password_hash, status, created_at, updated_at)
            VALUES ('$id', 'bench-$n@example.com', 'Bench $n', '-', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
        INSERT INTO roles (id, workspace_id, system_key, name, description, level, permissions, own_permissions, created_at, updated_at)
            VALUES ('$id', '$id', 'owner', 'Owner', '', 100, '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
        INSERT INTO memberships (id, workspace_id, user_id, role_id, status, joined_at, updated_at)
            VALUES ('$id', '$id', '$id', '$id', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
        INSERT INTO api_keys (id, workspace_id, user_id, name, kind, prefix, secret_hash, created_at)
            VALUES ('$id', '$id', '$id', 'bench', 'standard', '$member_prefix', '$(printf '%s' "$member_key" | sha256sum | cut -d' ' -f1)', CURRENT_TIMESTAMP);
        INSERT INTO bench_wallets (n, workspace_id) VALUES ($n, '$id');
        "
    done
    printf '%s\n' "CREATE TABLE bench_wallets (n INTEGER PRIMARY KEY, workspace_id TEXT NOT NULL);
        BEGIN; $statements COMMIT;" >"$WORK/seed.sql"
    sql_file "$backend" "$WORK/seed.sql" >/dev/null
    KEY=$(head -n 1 "$keys")
}

# Wallets below zero or off their ledger.
overdrafts() {
    sql "$1" "SELECT COUNT(*) FROM wallets w WHERE w.balance < 0 OR w.balance <> COALESCE((SELECT SUM(e.amount)
        FROM ledger_entries e WHERE e.workspace_id = w.workspace_id), 0)"
}

cat >"$WORK/charge.lua" <<'EOF'
-- A charge of one micro-credit with an Idempotency-Key no other request
-- uses, with the first BENCH_KEY_COUNT keys of the file BENCH_KEYS_FILE in
-- turn (one wallet, or many).
local counter, thread_tag, threads, keys = 0, "", 0, {}
function setup(thread) threads = threads + 1; thread:set("tag", threads) end
function init(args)
    thread_tag = tostring(tag) .. "-" .. tostring(os.time())
    local wanted = tonumber(os.getenv("BENCH_KEY_COUNT"))
    for line in io.lines(os.getenv("BENCH_KEYS_FILE")) do
        if #keys < wanted then keys[#keys + 1] = line end
    end
end
wrk.method = "POST"
wrk.body = '{"model":"bench-model","amount":1,"description":"bench"}'
wrk.headers["Content-Type"] = "application/json"
function request()
    counter = counter + 1
    wrk.headers["Idempotency-Key"] = thread_tag .. "-" .. counter
    wrk.headers["Authorization"] = "Bearer " .. keys[counter % #keys + 1]
    return wrk.format()
end
EOF

# POST /api/v1/authorize for members.read with the first
# BENCH_KEY_COUNT members' keys in turn.
cat >"$WORK/authorize.lua" <<'EOF'
local counter, keys = 0, {}
function init(args)
    local wanted = tonumber(os.getenv("BENCH_KEY_COUNT"))
    for line in io.lines(os.getenv("BENCH_KEYS_FILE")) do
        if #keys < wanted then keys[#keys + 1] = line end
    end
end
wrk.method = "POST"
wrk.body = '{"permission":"members.read"}'
wrk.headers["Content-Type"] = "application/json"
function request()
    counter = counter + 1
    wrk.headers["Authorization"] = "Bearer " .. keys[counter % #keys + 1]
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

# pgbench_run CONNECTIONS WALLETS: the charge's two statements (the
# conditional debit and the ledger insert, one CTE, one transaction) on one
# of WALLETS wallets chosen at random.
pgbench_run() {
    local connections=$1 wallets=$2
    {
        printf '\\set n random(1, %s)\n' "$wallets"
        cat <<'SQL'
BEGIN;
WITH debit AS (UPDATE wallets SET balance = balance - 1, month_spent = month_spent + 1, updated_at = now()
               WHERE workspace_id = (SELECT workspace_id FROM bench_wallets WHERE n = :n) AND balance >= 1
               RETURNING workspace_id, balance)
INSERT INTO ledger_entries (id, workspace_id, kind, amount, balance_after, idempotency_key, request_digest, created_at)
SELECT gen_random_uuid()::text, workspace_id, 'charge', -1, balance, gen_random_uuid()::text, 'pgbench', now() FROM debit;
END;
SQL
    } >"$WORK/pgbench.sql"
    pgbench -n -M prepared -c "$connections" -j "$THREADS" -T "${DURATION%s}" -f "$WORK/pgbench.sql" \
        -r "$PG_DB_URL" >"$WORK/pgbench.out" 2>&1 || die "pgbench failed: $(tail -3 "$WORK/pgbench.out")"
    awk -v label="pgbench charge c$connections w$wallets" '
        /^tps = / { tps = $3 } /latency average/ { avg = $4 }
        END { printf "%s|%.0f|%.2f|-|0\n", label, tps, avg }' "$WORK/pgbench.out" >>"$RESULTS"
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
    [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $(head -n 1 "$WORK/member_keys.$backend")" \
        -H 'Content-Type: application/json' -d '{"permission":"members.read"}' "$SERVER_URL/api/v1/authorize") == 200 ]] ||
        die "a member's key on $backend was not authorized"
    for connections in $CONNECTION_COUNTS; do
        run_wrk "$backend healthz c$connections" "$connections" /healthz
        export BENCH_KEYS_FILE="$WORK/member_keys.$backend" BENCH_KEY_COUNT=$WALLETS
        run_wrk "$backend authorize c$connections w$WALLETS" "$connections" /api/v1/authorize \
            -s "$WORK/authorize.lua"
        for wallets in 1 "$WALLETS"; do
            export BENCH_KEYS_FILE="$WORK/keys.$backend" BENCH_KEY_COUNT=$wallets
            run_wrk "$backend charge c$connections w$wallets" "$connections" /api/v1/usage/charges \
                -s "$WORK/charge.lua"
            if [[ $backend == postgres ]]; then
                pgbench_run "$connections" "$wallets"
            fi
        done
    done
    log "$backend: $(overdrafts "$backend") overdrawn or unbalanced wallet(s), $(sql "$backend" "SELECT COUNT(*) FROM ledger_entries WHERE kind = 'charge'") charges entered"
    printf '%s overdrafts|%s|-|-|-\n' "$backend" "$(overdrafts "$backend")" >>"$RESULTS"
    stop_server
done

echo
echo "PostgreSQL: ${PG_URL%%\?*} (Tenantry and pgbench alike)"
printf '\n%-26s %10s %9s %9s %8s\n' "run" "req/s" "p50 ms" "p99 ms" "non-2xx"
awk -F'|' '{ printf "%-26s %10s %9s %9s %8s\n", $1, $2, $3, $4, $5 }' "$RESULTS"
echo
awk -F'|' '
    / charge c/ && !/pgbench/ { split($1, a, " "); charge[a[1] " " a[3] " " a[4]] = $2 }
    / authorize c/ { split($1, a, " "); auth[a[1] " " a[3]] = $2 }
    /healthz c/ { split($1, a, " "); health[a[1] " " a[3]] = $2 }
    /^pgbench/ { split($1, a, " "); pgb[a[3] " " a[4]] = $2 }
    END {
        for (k in charge) {
            split(k, a, " ")
            line = sprintf("%s at %s, %s wallet(s): charge = %.1f%% of /healthz", a[1], a[2], substr(a[3], 2), 100 * charge[k] / health[a[1] " " a[2]])
            if (a[1] == "postgres" && pgb[a[2] " " a[3]] > 0) line = line sprintf(", %.0f%% of pgbench", 100 * charge[k] / pgb[a[2] " " a[3]])
            print line
        }
        for (k in auth) {
            split(k, a, " ")
            printf "%s at %s: authorize = %.1f%% of /healthz\n", a[1], a[2], 100 * auth[k] / health[k]
        }
    }' "$RESULTS" | sort
echo "Goals: charge >= 50% of pgbench, p99 < 20 ms, 0 overdrafts; authorize >= 25% of /healthz."
echo "(pgbench's p50 column is its average latency.)"
