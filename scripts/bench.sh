#!/usr/bin/env bash
# Benchmarks (not part of the tests: timings on shared machines are noisy). Each prints its figures.
#
#   bash scripts/bench.sh upload [SIZE_MIB]       gateway upload vs raw GridFS write, gateway peak RSS (1024 MiB)
#   bash scripts/bench.sh convert [MINUTES...]    converter message-to-message time vs the bare work (1 10 60)
#   bash scripts/bench.sh throughput [N]          N jobs through N workers at once vs N bare ffmpeg runs (2)
#   bash scripts/bench.sh idle                    gateway idle RSS
#   bash scripts/bench.sh zip [SIZE_MIB] [FILES]  a ZIP of FILES done jobs' MP3s through GET /download.zip vs a raw
#                                                 GridFS read, the gateway's peak RSS, a resume (2048 16)
#   bash scripts/bench.sh load [USERS] [UPLOADS]  the started system under USERS x UPLOADS uploads (5 10), and a
#                                                 second user's wait behind a first user's backlog of 30
#   bash scripts/bench.sh http [SECONDS] [CONNS]  requests per second, p50/p99 of the gateway's requests against
#                                                 the started system, with wrk (10 16)
#   bash scripts/bench.sh burst [USERS] [UPLOADS] [SIZE_MIB] [MINUTES]
#                                                 USERS x UPLOADS uploads of SIZE_MIB at the same moment against the
#                                                 started system (4 10 9.7 10): answers by status, p50/p95 upload
#                                                 time, store throughput, every job done with one email
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"
what=${1:?upload, convert, throughput, idle, zip, load, http or burst}; shift
ensure_node_modules
[ "$what" != http ] || command -v wrk >/dev/null || apt_install wrk
if [ "$what" = load ] || [ "$what" = http ] || [ "$what" = burst ]; then
  # Against the system the start command runs; started here (and stopped after) when it is not running.
  system=$ROOT/.local/run/system.json
  started=
  if ! { [ -s "$system" ] && curl -fsS -o /dev/null "$(sed -nE 's/.*"gatewayHealth": "([^"]+)".*/\1/p' "$system")/readyz" 2>/dev/null; }; then
    # The system listens on fixed ports: one end-to-end run or load benchmark per machine at a time.
    exec 9>"${TMPDIR:-/tmp}/mp3converter-e2e.lock"
    flock 9
    rm -f "$system"
    say "starting the system (bash scripts/start.sh, logs in .local/logs/)"
    setsid bash scripts/start.sh >"${TMPDIR:-/tmp}/mp3converter-load-start.log" 2>&1 &
    started=$!
    trap '[ -n "$started" ] && kill -TERM -- "-$started" 2>/dev/null; wait "$started" 2>/dev/null || true' EXIT
    for ((i = 0; i < 2400; i++)); do [ -s "$system" ] && break; kill -0 "$started" 2>/dev/null || die "scripts/start.sh stopped"; sleep 0.1; done
    [ -s "$system" ] || die "the system was not ready in time"
  fi
  pnpm exec tsx --conditions=source "scripts/bench/$what.ts" "$@"
  exit
fi
ensure_ffmpeg
ensure_mariadb 127.0.0.1 3306
ensure_rabbitmq 127.0.0.1 5672
pids=()
pgdb=
stop_started() { # what this script started, then its throwaway database (once FerretDB let go of it)
  local p i
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || continue
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  [ -z "$pgdb" ] || drop_pg_database "$pgdb"
}
trap stop_started EXIT
export TEST_MYSQL_URL=${TEST_MYSQL_URL:-mysql://root:@127.0.0.1:3306}
export TEST_RABBITMQ_URL=${TEST_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}
if [ -z "${TEST_MONGODB_URL:-}" ]; then
  if port_open 127.0.0.1 27017; then export TEST_MONGODB_URL=mongodb://127.0.0.1:27017; else
    # A throwaway FerretDB, on PostgreSQL where one answers (as for the tests), else on SQLite.
    data=$(mktemp -d) pgdb=mp3c_bench_$$ pgurl=
    pgurl=$(ferretdb_pg_database "$pgdb") || pgurl=
    pids+=("$(start_ferretdb 27037 "$data" "$data/ferretdb.log" "$pgurl")")
    if [ -n "$pgurl" ]; then say "FerretDB on PostgreSQL for the benchmark"; else say "FerretDB on SQLite for the benchmark"; fi
    # For a benchmark to give PostgreSQL the lookups start.sh gives it (ferretdb_pg_lookups).
    export BENCH_PG_URL=$pgurl
    export TEST_MONGODB_URL=mongodb://127.0.0.1:27037
  fi
fi
pnpm -s build >/dev/null
case "$what" in
  upload) pnpm exec tsx --conditions=source scripts/bench/upload.ts "$@" ;;
  convert) pnpm exec tsx --conditions=source scripts/bench/convert.ts "$@" ;;
  throughput) pnpm exec tsx --conditions=source scripts/bench/throughput.ts "$@" ;;
  idle) pnpm exec tsx --conditions=source scripts/bench/idle.ts "$@" ;;
  zip) pnpm exec tsx --conditions=source scripts/bench/zip.ts "$@" ;;
  *) die "unknown benchmark $what (upload, convert, throughput, idle, zip, load, http or burst)" ;;
esac
