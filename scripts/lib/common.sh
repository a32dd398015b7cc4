# Shared helpers for the scripts in this folder. Source it; it assumes `set -euo pipefail`.
# Everything here is idempotent: it checks first and only installs or starts what is missing.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/mp3converter
FERRETDB_VERSION=v1.24.2
PNPM_VERSION=10.34.8

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# true when something accepts TCP connections on host:port
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# free_port FROM -> the first port from FROM up (from a random offset) that nothing listens on
free_port() {
  local p=$(($1 + RANDOM % 500))
  while port_open 127.0.0.1 "$p"; do p=$((p + 1)); done
  echo "$p"
}

# kill_tree PID [SIGNAL] -> signals PID and every process below it, deepest first: what a launcher started
# (a container engine's child, a shell's background job) and nothing else on the machine.
kill_tree() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child" "${2:-TERM}"; done
  kill "-${2:-TERM}" "$1" 2>/dev/null || true
}

# leaves_of PID -> the processes at the bottom of PID's tree (PID itself when it has no children)
leaves_of() {
  local kids child
  kids=$(ps -o pid= --ppid "$1" 2>/dev/null) || true
  [ -n "$kids" ] || { echo "$1"; return; }
  for child in $kids; do leaves_of "$child"; done
}

# stop_tree PID [SECONDS] -> stops what a launcher started the way an engine would: SIGTERM to the processes at
# the bottom of its tree (the service itself), so the launchers above see it end and clean up after it (remove
# a container) before they exit; whatever is left after SECONDS (default 10) is killed with kill_tree.
stop_tree() {
  local leaf i
  for leaf in $(leaves_of "$1"); do kill -TERM "$leaf" 2>/dev/null || true; done
  for ((i = 0; i < ${2:-10} * 10; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  kill_tree "$1" KILL
}

wait_port() { # host port seconds what
  local i
  for ((i = 0; i < $3 * 10; i++)); do port_open "$1" "$2" && return 0; sleep 0.1; done
  die "$4 did not start listening on $1:$2 within $3 s"
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() { # package...
  command -v apt-get >/dev/null || die "cannot install $* here: no apt-get; install it with your package manager"
  say "installing $* from Debian packages"
  if [ ! -f "$CACHE_DIR/.apt-updated" ]; then
    as_root apt-get update -qq >/dev/null || die "apt-get update failed (are you root?)"
    mkdir -p "$CACHE_DIR" && touch "$CACHE_DIR/.apt-updated"
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "could not install $*"
}

ensure_pnpm() {
  if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
    command -v npm >/dev/null || die "Node.js with npm is needed to install pnpm (any Node >= 18; the project brings its own Node 24)"
    say "installing pnpm $PNPM_VERSION"
    npm install -g --silent "pnpm@$PNPM_VERSION" >/dev/null 2>&1 || die "could not install pnpm with npm"
  fi
}

ensure_node_modules() {
  ensure_pnpm
  say "installing packages (pnpm install)"
  (cd "$ROOT" && CI=true pnpm install --frozen-lockfile --reporter=silent) || die "pnpm install failed"
}

ensure_ffmpeg() {
  command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && return
  apt_install ffmpeg
}

# zsh and fish, into which the CLI's tests load its completion scripts (bash is there already).
ensure_shells() {
  command -v zsh >/dev/null && command -v fish >/dev/null && return
  apt_install zsh fish
}

# 7-Zip, the third reader the ZIP downloads are tested with (besides unzip and Python's zipfile).
ensure_7zip() {
  command -v 7z >/dev/null || command -v 7zz >/dev/null && return
  apt_install 7zip
}

# Debian's Chromium, for the page's browser tests (playwright-core drives it; no browser is downloaded).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  apt_install chromium
}

# go_module_copy MODULE VERSION -> prints a fresh writable folder holding the module's source
go_module_copy() {
  local dir src
  dir=$(GOFLAGS=-mod=mod go mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || die "could not download $1@$2 from the Go module proxy"
  src=$(mktemp -d)
  cp -r "$dir/." "$src" && chmod -R u+w "$src"
  echo "$src"
}

# go_tool NAME MODULE VERSION PACKAGE [VERSION_FILE] -> prints the path of a binary built from the Go module
# proxy into the cache (once). `go install module@version` cannot be used here: it asks the proxy for the
# module's version list, which this machine's proxy refuses; downloading the exact version works.
go_tool() {
  local name=$1 module=$2 version=$3 pkg=$4 version_file=${5:-}
  local bin="$CACHE_DIR/bin/$name-$version"
  if [ -x "$bin" ]; then echo "$bin"; return; fi
  command -v go >/dev/null || die "$name is needed and not installed: install Go (https://go.dev/dl) so it can be built"
  say "building $name $version from the Go module proxy (once)"
  local src
  src=$(go_module_copy "$module" "$version")
  [ -z "$version_file" ] || echo "$version" >"$src/$version_file"
  mkdir -p "$CACHE_DIR/bin"
  (cd "$src" && GOFLAGS=-mod=mod go build -o "$bin.partial" "$pkg") >&2 || die "building $name failed"
  mv "$bin.partial" "$bin"
  rm -rf "$src"
  echo "$bin"
}

# FerretDB v1, a MongoDB-wire server; release builds read their version from a file the zip lacks.
ferretdb_bin() {
  command -v ferretdb >/dev/null && { command -v ferretdb; return; }
  go_tool ferretdb github.com/FerretDB/FerretDB "$FERRETDB_VERSION" ./cmd/ferretdb build/version/version.txt
}

kustomize_bin() { go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 v5.7.1 .; }

# `docker compose` where the plugin exists, else the same code built from the Go module proxy.
compose_cmd() {
  if docker compose version >/dev/null 2>&1; then echo "docker compose"; return; fi
  go_tool docker-compose github.com/docker/compose/v2 v2.29.7 ./cmd
}

# ferretdb_pg_database NAME -> the URL of PostgreSQL database NAME (created if missing) for FerretDB's
# PostgreSQL backend, when a PostgreSQL answers on 127.0.0.1:5432 and psql can reach it; fails otherwise.
# Set FERRETDB_BACKEND=sqlite to never use it.
#
# Planner settings make PostgreSQL use the indexes ferretdb_pg_lookups adds, which a seq scan never
# matches: it must detoast every row (a whole GridFS chunk) to read one field of it. They are set on the
# database (FERRETDB_PG_SETTINGS), so that they hold for FerretDB's connections (restart FerretDB after changing
# them); the cluster's FerretDB pod gives them to its PostgreSQL server:
#   - FerretDB sends every query as a prepared statement with the field names as parameters
#     (`_jsonb->$1 @> $2`). From a statement's sixth run PostgreSQL may plan it once for any parameters, and
#     such a plan cannot use an index on `_jsonb->'files_id'`: a chunk lookup took ~100 ms instead of ~25.
#     plan_cache_mode plans each run for its own values.
#   - Right after a video is stored, the table's statistics still say it is small, and the planner picks a
#     seq scan over it until autovacuum analyses it (a minute or more): a late cut read through ranges took
#     21 s instead of 9. enable_seqscan=off keeps the index whenever one serves the query (a query that no
#     index serves is still answered by a seq scan). Such a scan is priced so high that PostgreSQL would
#     compile it (JIT) every time: 87 ms for a query that runs in 1 (the download marks), so jit=off.
FERRETDB_PG_SETTINGS="plan_cache_mode=force_custom_plan enable_seqscan=off jit=off"
ferretdb_pg_database() {
  [ "${FERRETDB_BACKEND:-}" != sqlite ] && port_open 127.0.0.1 5432 && command -v psql >/dev/null || return 1
  local psql=(psql -h 127.0.0.1 -U "${PGUSER:-postgres}" -d postgres -qtA)
  "${psql[@]}" -c "select 1 from pg_database where datname = '$1'" 2>/dev/null | grep -q 1 ||
    "${psql[@]}" -c "create database \"$1\"" >/dev/null 2>&1 || return 1
  local setting sets=()
  for setting in $FERRETDB_PG_SETTINGS; do sets+=(-c "alter database \"$1\" set ${setting%%=*} = ${setting#*=}"); done
  "${psql[@]}" "${sets[@]}" >/dev/null 2>&1 ||
    say "PostgreSQL database $1: the planner settings for FerretDB could not be set (PostgreSQL 12 or later, and its owner, needed): lookups will be slow"
  echo "postgres://${PGUSER:-postgres}@127.0.0.1:5432/$1"
}

# ferretdb_pg_lookups POSTGRES_URL DATABASE COLLECTION FIELD[,FIELD]... -> for each FIELD list, a GIN index in
# PostgreSQL on the top-level fields FerretDB v1 keeps COLLECTION's documents under. FerretDB hands an equality
# on a top-level field to PostgreSQL as jsonb containment (`_jsonb->'owner' @> '"…"'`), which the btree
# indexes it makes itself cannot serve, so every query reads the whole table (every user's jobs and every dead
# row version); a GIN index on the same expressions serves it. FerretDB does not know of these indexes: they go
# with the table if the collection is dropped, and this puts them back. Fails when the collection has no table yet.
# PSQL names the command that runs psql (psql on this machine by default).
ferretdb_pg_lookups() {
  local url=$1 db=$2 coll=$3 table fields cols name
  shift 3
  table=$("${PSQL:-psql}" "$url" -qtA -c "select _jsonb->>'table' from \"$db\"._ferretdb_database_metadata where _jsonb->>'_id' = '$coll'" 2>/dev/null) || return 1
  [ -n "$table" ] || return 1
  for fields in "$@"; do
    cols=$(sed -E "s/([^,]+)/(_jsonb->'\1')/g" <<<"$fields")
    name="${table}_${fields//,/_}_lookup"
    "${PSQL:-psql}" "$url" -qc "set client_min_messages = warning; create index if not exists \"$name\" on \"$db\".\"$table\" using gin ($cols)" >/dev/null || return 1
  done
}

# ferretdb_pg_project_lookups POSTGRES_URL -> the lookups the services' reads need (ferretdb_pg_lookups), for
# the collections that exist: jobs by id and by the owner's list page, list heads and versions by id, and GridFS
# reads by file and chunk number (downloads and ZIPs read an MP3 chunk by chunk; without an index every read of a
# chunk reads the chunks of every file). The gateway makes the jobs collection and both buckets at its start;
# the list heads and versions come with a first job. Fails when the jobs have no table yet.
ferretdb_pg_project_lookups() {
  local url=$1 bucket
  ferretdb_pg_lookups "$url" videos jobs _id owner,list_page || return 1
  ferretdb_pg_lookups "$url" videos job_list_heads _id || true
  ferretdb_pg_lookups "$url" videos job_list_versions _id || true
  for bucket in videos mp3s; do
    ferretdb_pg_lookups "$url" "$bucket" fs.chunks files_id,n || true
    ferretdb_pg_lookups "$url" "$bucket" fs.files _id || true
  done
}

# drop_pg_database NAME -> removes a database ferretdb_pg_database made (a throwaway one)
drop_pg_database() { psql -h 127.0.0.1 -U "${PGUSER:-postgres}" -d postgres -qc "drop database if exists \"$1\"" >/dev/null 2>&1 || true; }

# start_ferretdb PORT DATA_DIR LOG [POSTGRES_URL] -> starts FerretDB in the background, prints its pid: on
# PostgreSQL when a URL is given, else on SQLite files in DATA_DIR. SQLite makes every query on GridFS chunks
# read the whole collection (seconds once it holds a few hundred MB) and readers wait for writers; PostgreSQL
# answers the same queries in a fraction of that, so it is preferred wherever one answers.
start_ferretdb() {
  local bin; bin=$(ferretdb_bin)
  mkdir -p "$2"
  local backend=(--handler=sqlite --sqlite-url="file:$2/")
  [ -z "${4:-}" ] || backend=(--handler=postgresql --postgresql-url="$4")
  "$bin" "${backend[@]}" --state-dir="$2" --listen-addr="127.0.0.1:$1" \
    --debug-addr=127.0.0.1:0 --telemetry=disable --log-level=warn >"$3" 2>&1 &
  echo $!
  wait_port 127.0.0.1 "$1" 30 FerretDB
}

# The MariaDB a script started, by process id: stopping it must not stop another one on this machine.
MARIADB_PIDFILE=${TMPDIR:-/tmp}/mp3converter-mariadb.pid

ensure_mariadb() { # host port
  port_open "$1" "$2" && return
  if [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ]; then
    if [ -x /usr/sbin/mariadbd ]; then
      say "starting the installed MariaDB"
      as_root start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "$MARIADB_PIDFILE" \
        --exec /usr/sbin/mariadbd || true
      wait_port "$1" "$2" 60 MariaDB
      return
    fi
  fi
  die "no MySQL/MariaDB answers on $1:$2: install MariaDB (apt-get install mariadb-server) or set MYSQL_HOST/MYSQL_PORT"
}

ensure_rabbitmq() { # host port
  port_open "$1" "$2" && return
  if [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ]; then
    if command -v rabbitmq-server >/dev/null; then
      say "starting the installed RabbitMQ"
      as_root rabbitmq-server -detached >/dev/null 2>&1 || true
      wait_port "$1" "$2" 90 RabbitMQ
      return
    fi
  fi
  die "no RabbitMQ answers on $1:$2: install it (apt-get install rabbitmq-server) or set RABBITMQ_URL"
}
