#!/usr/bin/env bash
# Runs every test: types, unit, integration (real MariaDB, RabbitMQ, MongoDB-wire server, ffmpeg, SMTP)
# and end to end. Installs what is missing and starts the servers that are not running.
#
#   bash scripts/test.sh            everything
#   bash scripts/test.sh unit       one stage: lint | typecheck | unit | manifests | integration | e2e | cluster
#                                   (cluster, not run by default: scripts/cluster.sh, a one-node cluster with its
#                                   checks; root; past CI's time budget here, see docs/kubernetes.md)
#   bash scripts/test.sh integration -- services/gateway/test/jobs.int.test.ts
#                                   only the test files (or vitest filters) given after `--`
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/kube.sh"
cd "$ROOT"

stages=()
filters=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then shift; filters=("$@"); break; fi
  stages+=("$1"); shift
done
[ ${#stages[@]} -gt 0 ] || stages=(lint typecheck unit manifests integration e2e)
wants() { local s; for s in "${stages[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

ensure_node_modules

needs_servers=false
wants integration && needs_servers=true
wants e2e && needs_servers=true
pids=()
drop_dbs=()
cleanup() {
  local p d
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  for d in "${drop_dbs[@]}"; do drop_pg_database "$d"; done
}
trap cleanup EXIT

if $needs_servers; then
  ensure_ffmpeg
  ensure_chromium
  ensure_shells
  ensure_7zip
  ensure_mariadb 127.0.0.1 3306
  ensure_rabbitmq 127.0.0.1 5672
  export TEST_MYSQL_URL=${TEST_MYSQL_URL:-mysql://root:@127.0.0.1:3306}
  export TEST_RABBITMQ_URL=${TEST_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}
  # A MongoDB of the tests' own, unless TEST_MONGODB_URL names one: the tests check the fixed GridFS databases
  # for leftovers, and a system running on this machine (the start command's, another test run's end-to-end
  # system on 27017) would both disturb them and go away under them.
  if [ -z "${TEST_MONGODB_URL:-}" ]; then
    data=$(mktemp -d)
    port=$(free_port 27027)
    pgdb=mp3c_test_$$_$RANDOM
    if pgurl=$(ferretdb_pg_database "$pgdb"); then
      say "starting a throwaway FerretDB for the tests (on PostgreSQL, database $pgdb)"
      drop_dbs+=("$pgdb")
    else
      say "starting a throwaway FerretDB for the tests (on SQLite)"
      pgurl=
    fi
    pids+=("$(start_ferretdb "$port" "$data" "$data/ferretdb.log" "$pgurl")")
    export TEST_MONGODB_URL=mongodb://127.0.0.1:$port
  fi
fi

results=$ROOT/.local/test-results
rm -rf "$results" && mkdir -p "$results"
vitest() { # project
  pnpm -s exec vitest run --project "$1" ${filters[@]+"${filters[@]}"} --reporter=default --reporter=json --outputFile.json="$results/$1.json"
}

# Every stage runs, whatever the one before it did; each one's result is recorded, and the closing lines
# say what happened in all of them.
run_stage() {
  case "$1" in
    lint) pnpm -s lint ;;
    typecheck) pnpm -s typecheck ;;
    unit | integration) vitest "$1" ;;
    e2e)
      # The system under test listens on fixed ports: one end-to-end run per machine at a time.
      exec 9>"${TMPDIR:-/tmp}/mp3converter-e2e.lock"
      flock 9
      local rc=0
      vitest e2e || rc=$?
      exec 9>&-
      return "$rc"
      ;;
    manifests)
      # Kubernetes: render every variant with kustomize, check it offline (schemas, probes, limits, non-root,
      # env coverage, network policies, broker permissions), then apply it to a real API server with its
      # controllers (etcd, kube-apiserver, kube-controller-manager on loopback, stopped on exit).
      # Compose: the file must be accepted by `docker compose config`.
      export KUSTOMIZE_BIN KUBECTL_BIN KEDA_CRDS TEST_KUBECONFIG
      KUSTOMIZE_BIN=$(kustomize_bin) KUBECTL_BIN=$(kubectl_bin) KEDA_CRDS=$(keda_crds)
      # This stage runs in a subshell: it stops its own control plane, also when it fails half way.
      kube_dir=$(mktemp -d)
      trap 'kube_stop; rm -rf "$kube_dir"' EXIT
      say "starting a Kubernetes control plane on loopback"
      local started=$SECONDS rc=0
      kube_start "$kube_dir"
      TEST_KUBECONFIG=$kube_dir/kubeconfig
      echo "control plane ready in $((SECONDS - started)) s" >&2
      vitest manifests || rc=$?
      local compose
      read -r -a compose <<<"$(compose_cmd)"
      if "${compose[@]}" -f docker-compose.yml config -q; then
        echo "docker-compose.yml: accepted by compose config"
      else
        echo "docker-compose.yml: refused by compose config" >&2
        rc=1
      fi
      return "$rc"
      ;;
    cluster)
      # The deployment on a real one-node cluster behind an Ingress controller, with its checks (PASS/FAIL lines).
      exec 9>"${TMPDIR:-/tmp}/mp3converter-cluster.lock"
      flock 9
      bash scripts/cluster.sh
      ;;
    *) die "unknown stage $1" ;;
  esac
}

outcomes=()
for stage in "${stages[@]}"; do
  say "$stage"
  # `if` keeps errexit away from the stage as a whole; the stage runs in a subshell so that its own `set -e`
  # still stops it at its first failing command.
  if (set -e; run_stage "$stage"); then outcomes+=("$stage: passed"); else outcomes+=("$stage: FAILED ($?)"); fi
done

# The closing lines, whatever happened above: each stage, then the tests of all of them together. Skipped
# tests fail the run unless test/expected-skips.txt names them (one full test name per line).
summary_ok=true
pnpm -s exec node -e '
  const fs = require("node:fs"), [dir, expectedFile, filterCount] = process.argv.slice(1);
  const partial = Number(filterCount) > 0;
  const expected = new Set(fs.existsSync(expectedFile)
    ? fs.readFileSync(expectedFile, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))
    : []);
  let passed = 0, failed = 0, skipped = 0;
  const unexpected = [];
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    const r = JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
    for (const file of r.testResults ?? [])
      for (const t of file.assertionResults ?? [])
        if ((t.status === "pending" || t.status === "skipped" || t.status === "todo") && !expected.has(t.fullName))
          unexpected.push(t.fullName);
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (!partial) for (const name of unexpected) console.log(`  skipped, not listed in test/expected-skips.txt: ${name}`);
  // A run of chosen tests (filters after `--`) skips the others on purpose: only a whole run is held to the list.
  process.exit(unexpected.length > 0 && !partial ? 1 : 0);
' "$results" "$ROOT/test/expected-skips.txt" "${#filters[@]}" || summary_ok=false

failed_stages=0
for o in "${outcomes[@]}"; do
  echo "  $o"
  case "$o" in *FAILED*) failed_stages=$((failed_stages + 1)) ;; esac
done
$summary_ok || failed_stages=$((failed_stages + 1))
[ "$failed_stages" -eq 0 ]
