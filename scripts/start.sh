#!/usr/bin/env bash
# Starts the whole system on this machine, in the foreground: installs and builds, finds or starts the
# servers (MariaDB, RabbitMQ, a MongoDB-wire server, the mail catcher), starts auth, gateway, converter,
# notification and webhooks, waits until each is ready and prints how to use it. Ctrl-C stops everything it started.
# A service that crashes is started again, as Kubernetes would.
#
# Addresses can be changed with MYSQL_HOST/MYSQL_PORT/MYSQL_USER/MYSQL_PASSWORD, MONGODB_URI, RABBITMQ_URL;
# data of the servers it starts itself lives under .local/ (git-ignored) and is found again next time.
#
# The services listen on 127.0.0.1 only: the development user's password is well known. MP3C_LISTEN=0.0.0.0
# (or one address of this machine) opens them to the network on purpose; the mail page stays on 127.0.0.1.
#
# Webhooks to receivers on this machine or its network are refused unless allowed:
# WEBHOOK_ALLOWED_DESTINATIONS=127.0.0.1 (address ranges, comma-separated) allows them, for the gateway's
# check and the webhooks worker's alike.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

LOCAL=$ROOT/.local
RUN=$LOCAL/run
LOGS=$LOCAL/logs
mkdir -p "$RUN" "$LOGS"

export MYSQL_HOST=${MYSQL_HOST:-127.0.0.1} MYSQL_PORT=${MYSQL_PORT:-3306}
export MYSQL_USER=${MYSQL_USER:-root} MYSQL_PASSWORD=${MYSQL_PASSWORD:-} MYSQL_DB=${MYSQL_DB:-auth}
export RABBITMQ_URL=${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}
export MONGODB_URI=${MONGODB_URI:-mongodb://127.0.0.1:27017}
GATEWAY_PORT=${GATEWAY_PORT:-8080} AUTH_PORT=${AUTH_PORT:-5000}
# /healthz and /readyz are served on these, never on the public ports
GATEWAY_HEALTH=${GATEWAY_HEALTH_PORT:-8083} AUTH_HEALTH=${AUTH_HEALTH_PORT:-8084}
CONVERTER_PORT=${CONVERTER_HEALTH_PORT:-8081} NOTIFICATION_PORT=${NOTIFICATION_HEALTH_PORT:-8082}
WEBHOOKS_PORT=${WEBHOOKS_HEALTH_PORT:-8085}
SMTP_PORT=${SMTP_PORT:-1025} MAIL_WEB_PORT=${MAIL_WEB_PORT:-1080}
LISTEN=${MP3C_LISTEN:-127.0.0.1}

started_servers=() # "name pid" or "name command" for what this script started and must stop
services=(auth gateway converter notification webhooks)
declare -A pids=()
stopping=false

stop_all() {
  $stopping && return
  stopping=true
  trap - INT TERM
  say "stopping"
  for s in "${services[@]}"; do [ -n "${pids[$s]:-}" ] && kill -TERM "${pids[$s]}" 2>/dev/null || true; done
  for s in "${services[@]}"; do [ -n "${pids[$s]:-}" ] && wait "${pids[$s]}" 2>/dev/null || true; done
  local entry
  for entry in "${started_servers[@]}"; do
    case "$entry" in
      mariadb) as_root start-stop-daemon --stop --oknodo --retry 30 --pidfile "$MARIADB_PIDFILE" --exec /usr/sbin/mariadbd >/dev/null || true ;;
      rabbitmq) as_root rabbitmqctl stop >/dev/null 2>&1 || true ;;
      *) kill -TERM "${entry#* }" 2>/dev/null || true ;;
    esac
  done
  rm -f "$RUN"/*.pid "$RUN/system.json"
  say "stopped"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

check_port_free() { # port what
  port_open 127.0.0.1 "$1" && die "port $1 ($2) is already in use: stop what uses it or set ${3:-its port variable}"
  return 0
}

# --- install and build -----------------------------------------------------------------------------
ensure_node_modules
ensure_ffmpeg
say "building"
pnpm -s build >/dev/null || die "the build failed: run pnpm build to see why"
# the real Node 24 binary (node_modules/.bin/node is a shell shim: signals sent to it would not reach node)
NODE=$(pnpm -s exec node -e "process.stdout.write(process.execPath)")

# --- servers -----------------------------------------------------------------------------------------
port_open "$MYSQL_HOST" "$MYSQL_PORT" || { ensure_mariadb "$MYSQL_HOST" "$MYSQL_PORT"; started_servers+=(mariadb); }
rabbit_host=$(sed -E 's#^amqps?://([^@/]*@)?([^:/]+).*#\2#' <<<"$RABBITMQ_URL")
rabbit_port=$(sed -nE 's#^amqps?://([^@/]*@)?[^:/]+:([0-9]+).*#\2#p' <<<"$RABBITMQ_URL"); rabbit_port=${rabbit_port:-5672}
port_open "$rabbit_host" "$rabbit_port" || { ensure_rabbitmq "$rabbit_host" "$rabbit_port"; started_servers+=(rabbitmq); }

mongo_host=$(sed -E 's#^mongodb://([^@/]*@)?([^:/,]+).*#\2#' <<<"$MONGODB_URI")
mongo_port=$(sed -nE 's#^mongodb://([^@/]*@)?[^:/,]+:([0-9]+).*#\2#p' <<<"$MONGODB_URI"); mongo_port=${mongo_port:-27017}
if ! port_open "$mongo_host" "$mongo_port"; then
  [ "$mongo_host" = 127.0.0.1 ] || [ "$mongo_host" = localhost ] || die "no MongoDB answers at $MONGODB_URI"
  if pgurl=$(ferretdb_pg_database mp3converter_local); then
    say "starting FerretDB (MongoDB-wire server, data in PostgreSQL database mp3converter_local)"
  else
    say "starting FerretDB (MongoDB-wire server, SQLite data in .local/ferretdb)"
    pgurl=
  fi
  started_servers+=("ferretdb $(start_ferretdb "$mongo_port" "$LOCAL/ferretdb" "$LOGS/ferretdb.log" "$pgurl")")
  # On FerretDB over SQLite every chunk query reads the whole collection: a late cut is faster copied whole.
  [ -n "$pgurl" ] || RANGE_READS=${RANGE_READS:-false}
fi

if ! port_open 127.0.0.1 "$SMTP_PORT"; then
  say "starting the mail catcher (MailDev: SMTP $SMTP_PORT, web $MAIL_WEB_PORT)"
  check_port_free "$MAIL_WEB_PORT" "mail catcher web page" MAIL_WEB_PORT
  mkdir -p "$LOCAL/maildev"
  "$NODE" "$ROOT/node_modules/maildev/bin/maildev" --smtp "$SMTP_PORT" --web "$MAIL_WEB_PORT" --ip 127.0.0.1 \
    --mail-directory "$LOCAL/maildev" --silent >"$LOGS/maildev.log" 2>&1 &
  started_servers+=("maildev $!")
  wait_port 127.0.0.1 "$SMTP_PORT" 30 "the mail catcher"
fi

# --- the five services -------------------------------------------------------------------------------
[ -s "$LOCAL/jwt_secret" ] || (umask 077 && openssl rand -base64 48 | tr -d '\n' >"$LOCAL/jwt_secret")
[ -s "$LOCAL/link_secret" ] || (umask 077 && openssl rand -base64 48 | tr -d '\n' >"$LOCAL/link_secret")
# The links of the emails point at this machine's gateway.
PUBLIC_URL=${PUBLIC_GATEWAY_URL:-http://127.0.0.1:$GATEWAY_PORT}
for p in "$AUTH_PORT:auth" "$GATEWAY_PORT:gateway" "$CONVERTER_PORT:converter" "$NOTIFICATION_PORT:notification" \
  "$WEBHOOKS_PORT:webhooks" "$AUTH_HEALTH:auth probes" "$GATEWAY_HEALTH:gateway probes"; do
  check_port_free "${p%%:*}" "${p#*:}"
done

env_auth=(NODE_ENV=development HOST="$LISTEN" PORT="$AUTH_PORT" HEALTH_PORT="$AUTH_HEALTH" JWT_SECRET="$(cat "$LOCAL/jwt_secret")"
  SEED_USER_EMAIL=georgio@email.com SEED_USER_PASSWORD=Admin123 LOGIN_RATE_LIMIT=100)
env_gateway=(NODE_ENV=development HOST="$LISTEN" PORT="$GATEWAY_PORT" HEALTH_PORT="$GATEWAY_HEALTH" AUTH_SVC_ADDRESS="127.0.0.1:$AUTH_PORT"
  DOWNLOAD_LINK_SECRET="$(cat "$LOCAL/link_secret")" PUBLIC_GATEWAY_URL="$PUBLIC_URL"
  WEBHOOK_ALLOWED_DESTINATIONS="${WEBHOOK_ALLOWED_DESTINATIONS:-}")
env_converter=(NODE_ENV=development HOST="$LISTEN" HEALTH_PORT="$CONVERTER_PORT" TMP_DIR="$LOCAL/tmp" CONCURRENCY=2 NODE_OPTIONS=--max-semi-space-size=1
  JOB_LEASE_MS=10000 RETRY_DELAYS_MS=2000,5000,15000
  # RabbitMQ's own consumer_timeout (30 min) where it was not set: every job fits inside it.
  BROKER_CONSUMER_TIMEOUT_MS=1800000 FFMPEG_TIMEOUT_MS=900000 TRANSFER_TIMEOUT_MS=300000 RANGE_READS="${RANGE_READS:-true}")
env_notification=(NODE_ENV=development HOST="$LISTEN" HEALTH_PORT="$NOTIFICATION_PORT" SMTP_HOST=127.0.0.1 SMTP_PORT="$SMTP_PORT"
  MAIL_FROM="mp3converter <noreply@mp3converter.com>" PUBLIC_GATEWAY_URL="$PUBLIC_URL" RETRY_DELAYS_MS=2000,5000,15000
  DOWNLOAD_LINK_SECRET="$(cat "$LOCAL/link_secret")")
env_webhooks=(NODE_ENV=development HOST="$LISTEN" HEALTH_PORT="$WEBHOOKS_PORT" PUBLIC_GATEWAY_URL="$PUBLIC_URL"
  WEBHOOK_ALLOWED_DESTINATIONS="${WEBHOOK_ALLOWED_DESTINATIONS:-}")
mkdir -p "$LOCAL/tmp"

start_service() { # name
  local name=$1 envs
  case $name in
    auth) envs=("${env_auth[@]}") ;; gateway) envs=("${env_gateway[@]}") ;;
    converter) envs=("${env_converter[@]}") ;; notification) envs=("${env_notification[@]}") ;;
    webhooks) envs=("${env_webhooks[@]}") ;;
  esac
  env "${envs[@]}" "$NODE" "services/$name/dist/main.js" >>"$LOGS/$name.log" 2>&1 &
  pids[$name]=$!
  echo "${pids[$name]}" >"$RUN/$name.pid"
}

ready_url() { # name
  case $1 in
    auth) echo "http://127.0.0.1:$AUTH_HEALTH/readyz" ;; gateway) echo "http://127.0.0.1:$GATEWAY_HEALTH/readyz" ;;
    converter) echo "http://127.0.0.1:$CONVERTER_PORT/readyz" ;; notification) echo "http://127.0.0.1:$NOTIFICATION_PORT/readyz" ;;
    webhooks) echo "http://127.0.0.1:$WEBHOOKS_PORT/readyz" ;;
  esac
}

for s in "${services[@]}"; do start_service "$s"; done
say "waiting for the services to be ready (logs in .local/logs/)"
for s in "${services[@]}"; do
  for ((i = 0; ; i++)); do
    curl -fsS -o /dev/null "$(ready_url "$s")" 2>/dev/null && break
    kill -0 "${pids[$s]}" 2>/dev/null || { tail -5 "$LOGS/$s.log" >&2; stop_all; die "$s stopped during start-up (see .local/logs/$s.log)"; }
    ((i < 600)) || { stop_all; die "$s was not ready after 60 s (see .local/logs/$s.log)"; }
    sleep 0.1
  done
done

if [ -n "${pgurl:-}" ]; then
  # Lookups from indexes, not reads of the whole table (ferretdb_pg_project_lookups).
  ferretdb_pg_project_lookups "$pgurl" || say "no PostgreSQL indexes for the jobs yet (no table): the next start makes them"
fi

cat >"$RUN/system.json" <<JSON
{"gateway": "http://127.0.0.1:$GATEWAY_PORT", "auth": "http://127.0.0.1:$AUTH_PORT",
 "mail": "http://127.0.0.1:$MAIL_WEB_PORT", "gatewayHealth": "http://127.0.0.1:$GATEWAY_HEALTH",
 "authHealth": "http://127.0.0.1:$AUTH_HEALTH", "converterHealth": "http://127.0.0.1:$CONVERTER_PORT",
 "notificationHealth": "http://127.0.0.1:$NOTIFICATION_PORT", "webhooksHealth": "http://127.0.0.1:$WEBHOOKS_PORT",
 "pids": "$RUN",
 "mysql": {"host": "$MYSQL_HOST", "port": $MYSQL_PORT, "user": "$MYSQL_USER", "password": "$MYSQL_PASSWORD", "database": "$MYSQL_DB"}}
JSON

cat <<EOF

  mp3converter is up.

  gateway     http://127.0.0.1:$GATEWAY_PORT   (what the Ingress serves as http://mp3converter.com)
  mail page   http://127.0.0.1:$MAIL_WEB_PORT   (every email the system sends lands here)
  logs        .local/logs/

  Try it (the original's dev user):

    TOKEN=\$(curl -s -u georgio@email.com:Admin123 -X POST http://127.0.0.1:$GATEWAY_PORT/login)
    curl -H "Authorization: Bearer \$TOKEN" -F file=@video.mp4 http://127.0.0.1:$GATEWAY_PORT/upload
    curl -H "Authorization: Bearer \$TOKEN" "http://127.0.0.1:$GATEWAY_PORT/status?fid=<video_fid>"
    curl -H "Authorization: Bearer \$TOKEN" -o audio.mp3 "http://127.0.0.1:$GATEWAY_PORT/download?fid=<mp3_fid from the email>"

  No video at hand? ffmpeg -f lavfi -i testsrc=duration=10 -f lavfi -i sine=duration=10 -shortest video.mp4

  Ctrl-C stops everything.
EOF
case $LISTEN in
  127.* | localhost | ::1) ;;
  *) say "listening on $LISTEN (MP3C_LISTEN): reachable from the network, and the development user's password is well known" ;;
esac

# Supervise: a service that dies is started again after a second, until Ctrl-C.
while ! $stopping; do
  sleep 1 &
  wait $! || true
  $stopping && break
  for s in "${services[@]}"; do
    if ! kill -0 "${pids[$s]}" 2>/dev/null; then
      wait "${pids[$s]}" 2>/dev/null || true
      say "$s exited; starting it again"
      start_service "$s"
    fi
  done
done
