# Sourced by pages.sh and charges.sh: sets PG_URL, the PostgreSQL server
# the bench uses.
#
# A local PostgreSQL is reached over its Unix socket when it has one, as
# pgbench and psql do by default: over TCP, libpq's default
# (`sslmode=prefer`) wraps a loopback connection in TLS, which cost a
# page view about a sixth of its throughput (benches/README.md).
# BENCH_POSTGRES_URL names another server or transport.
PG_SOCKET_DIR=${BENCH_PG_SOCKET_DIR:-/var/run/postgresql}
if [[ -n "${BENCH_POSTGRES_URL:-}" ]]; then
    PG_URL=$BENCH_POSTGRES_URL
elif [[ -S "$PG_SOCKET_DIR/.s.PGSQL.5432" ]]; then
    PG_URL="postgres://postgres@$(printf '%s' "$PG_SOCKET_DIR" | sed 's|/|%2F|g')/postgres"
else
    PG_URL=${TENANTRY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1/postgres}
fi
