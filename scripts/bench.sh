#!/usr/bin/env bash
# Benchmarks (not part of the tests: timings on shared machines are noisy). Each prints its figures.
#
#   bash scripts/bench.sh upload [SIZE_MIB]       gateway upload vs raw GridFS write, gateway peak RSS (1024 MiB)
#   bash scripts/bench.sh convert [MINUTES...]    converter message-to-message time vs the bare work (1 10 60)
#   bash scripts/bench.sh load [USERS] [UPLOADS]  the started system (or one it starts) under N users × M uploads (5 10)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"
what=${1:?upload, convert or load}; shift
ensure_node_modules
ensure_ffmpeg
if [ "$what" = load ]; then
  # the system of the start command, with its own servers: nothing else to prepare here
  pnpm -s build >/dev/null
  exec pnpm exec tsx --conditions=source scripts/bench/load.ts "$@"
fi
ensure_mariadb 127.0.0.1 3306
ensure_rabbitmq 127.0.0.1 5672
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
export TEST_MYSQL_URL=${TEST_MYSQL_URL:-mysql://root:@127.0.0.1:3306}
export TEST_RABBITMQ_URL=${TEST_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}
if [ -z "${TEST_MONGODB_URL:-}" ]; then
  if port_open 127.0.0.1 27017; then export TEST_MONGODB_URL=mongodb://127.0.0.1:27017; else
    data=$(mktemp -d); pids+=("$(start_ferretdb 27037 "$data" "$data/ferretdb.log")")
    export TEST_MONGODB_URL=mongodb://127.0.0.1:27037
  fi
fi
pnpm -s build >/dev/null
case "$what" in
  upload) pnpm exec tsx --conditions=source scripts/bench/upload.ts "$@" ;;
  convert) pnpm exec tsx --conditions=source scripts/bench/convert.ts "$@" ;;
  *) die "unknown benchmark $what (upload, convert or load)" ;;
esac
