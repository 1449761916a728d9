#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: repeatable whatever else the
# machine is doing, unlike requests per second.
#
#   cargo build --release && bash benches/instructions.sh [N]
#
# Starts the release `roster serve` under callgrind on a temporary SQLite store, logs the
# administrator on, then sends N (default 2000) requests of one kind over one keep-alive
# connection (curl). Each kind runs twice, with N/10 and N requests; the difference of the
# two totals over the difference of the counts is the cost of one request, start-up and
# the log on cancelling out.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${ROSTER_BIN:-${CARGO_TARGET_DIR:-target}/release/roster}
N=${1:-2000}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "build first: cargo build --release ($BIN missing)" >&2; exit 1; }
PASSWORD='Adm1n!instructions'

# total_instructions KIND COUNT
total_instructions() {
  local kind=$1 count=$2 dir port pid
  dir=$(mktemp -d)
  port=$((20000 + RANDOM % 20000))
  ROSTER_ADMIN_PASSWORD=$PASSWORD ROSTER_LOG=warn valgrind --tool=callgrind \
    --callgrind-out-file="$dir/out" "$BIN" serve --listen "127.0.0.1:$port" \
    --database-url "sqlite://$dir/roster.db" >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 1
  done
  curl -s -c "$dir/jar" -H 'content-type: application/json' \
    -d "{\"email\":\"admin@localhost\",\"password\":\"$PASSWORD\"}" \
    "http://127.0.0.1:$port/users/api/auth" >/dev/null
  : >"$dir/requests"
  for i in $(seq 1 "$count"); do
    echo "url = \"http://127.0.0.1:$port/users/api/user\"" >>"$dir/requests"
    [ "$kind" = update ] && echo "data = \"{\\\"title\\\":\\\"t$i\\\"}\"" >>"$dir/requests"
    echo 'output = "/dev/null"' >>"$dir/requests"
  done
  curl -s -b "$dir/jar" -H 'content-type: application/json' -K "$dir/requests"
  kill -INT "$pid"
  wait "$pid" || true
  grep -m1 -o 'summary: [0-9]*' "$dir/out" | cut -d' ' -f2
  rm -rf "$dir"
}

for kind in read update; do
  small=$((N / 10))
  a=$(total_instructions $kind $small)
  b=$(total_instructions $kind "$N")
  echo "$kind: $(((b - a) / (N - small))) instructions per request ($small and $N requests: $a and $b in all)"
done
