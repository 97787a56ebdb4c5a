#!/usr/bin/env bash
# Starts the local PostgreSQL cluster from Debian's packages (installed by scripts/install-deps.sh test) and makes the
# role and a fresh database for the collector's tests. Idempotent; prints the URL the tests read ($EARSHOT_TEST_POSTGRES).
# Usage: scripts/test/start-postgres.sh     (as root, or a user with sudo)
set -euo pipefail
# Only the URL goes to stdout (callers capture it); every tool's chatter (pg_ctlcluster prints "Removed stale pid file."
# after an unclean shutdown) goes to stderr. The server must not inherit fd 3, or a caller's $(…) would wait for it forever.
exec 3>&1 1>&2
as_root=(); [ "$(id -u)" -ne 0 ] && as_root=(sudo)
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "postgres: pg_lsclusters is missing; run scripts/install-deps.sh test" >&2
  exit 1
fi
read -r version cluster port status _ < <(pg_lsclusters -h | head -1) || true
if [ -z "${version:-}" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  echo "postgres: creating cluster $version/main" >&2
  "${as_root[@]}" pg_createcluster "$version" main >/dev/null 3>&-
  read -r version cluster port status _ < <(pg_lsclusters -h | head -1)
fi
if [ "$status" != "online" ]; then
  echo "postgres: starting cluster $version/$cluster on port $port" >&2
  # After an unclean stop the old server's children can hold the socket lock for a moment: retry before giving up.
  for attempt in 1 2 3 4 5; do
    "${as_root[@]}" pg_ctlcluster "$version" "$cluster" start 3>&- && break
    [ "$attempt" -eq 5 ] && { echo "postgres: could not start $version/$cluster (see its log)" >&2; exit 1; }
    sleep 2
  done
fi
for _ in $(seq 1 50); do
  "${as_root[@]}" runuser -u postgres -- psql -p "$port" -Atqc "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.2
done
psql_admin() { "${as_root[@]}" runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -Atq "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'earshot'")" != "1" ]; then
  psql_admin -c "CREATE ROLE earshot LOGIN PASSWORD 'earshot'"
fi
# A fresh database per run: each test makes its own schema in it, so old runs' schemas go with it.
psql_admin -c "DROP DATABASE IF EXISTS earshot_test WITH (FORCE)"
psql_admin -c "CREATE DATABASE earshot_test OWNER earshot"
echo "postgres://earshot:earshot@127.0.0.1:$port/earshot_test" >&3
