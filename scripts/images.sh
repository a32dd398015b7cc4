#!/usr/bin/env bash
# Builds the five service images and checks that each starts and answers /healthz against the local servers.
# With a Docker engine it uses docker; without one (as on the CI machine) the OCI stand-in
# (../shared/tools/oci-standin.sh: buildah, with a local stand-in for the node:24-bookworm-slim base).
#
#   bash scripts/images.sh [--build-only] [SERVICE...]      default: auth gateway converter notification webhooks
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

check=true
if [ "${1:-}" = --build-only ]; then check=false; shift; fi
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(auth gateway converter notification webhooks)
TAG=${IMAGE_TAG:-dev}

if docker info >/dev/null 2>&1; then
  build() { docker build -f "services/$1/Dockerfile" -t "mp3converter/$1:$TAG" .; }
  run_bg() { local envs=(); for kv in $2; do envs+=(-e "$kv"); done; docker run --rm --network host "${envs[@]}" "mp3converter/$1:$TAG" & }
  size() { docker image inspect -f '{{.Size}}' "mp3converter/$1:$TAG"; }
else
  standin=${OCI_STANDIN:-$ROOT/../shared/tools/oci-standin.sh}
  [ -x "$standin" ] || die "no Docker engine and no OCI stand-in at $standin"
  podman image exists docker.io/library/node:24-bookworm-slim 2>/dev/null || bash "$standin" base 24
  build() { bash "$standin" build "services/$1/Dockerfile" "mp3converter/$1:$TAG" .; }
  run_bg() { OCI_ENV="$2" bash "$standin" run "mp3converter/$1:$TAG" & }
  size() { podman image inspect -f '{{.Size}}' "mp3converter/$1:$TAG"; }
fi

if $check; then
  ensure_mariadb 127.0.0.1 3306
  ensure_rabbitmq 127.0.0.1 5672
  port_open 127.0.0.1 27017 || die "start a MongoDB-wire server on 127.0.0.1:27017 first (bash scripts/start.sh does)"
fi

stores="MONGODB_URI=mongodb://127.0.0.1:27017 RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672"
declare -A envs=(
  [auth]="PORT=5090 HEALTH_PORT=5091 MYSQL_HOST=127.0.0.1 MYSQL_USER=root MYSQL_DB=auth_image_check JWT_SECRET=image-check-secret-0123456789abcdef0123"
  [gateway]="PORT=8090 HEALTH_PORT=8093 AUTH_SVC_ADDRESS=127.0.0.1:5090 VIDEO_QUEUE=image_check_video DOWNLOAD_LINK_SECRET=image-check-link-secret-0123456789abcdef $stores"
  [converter]="HEALTH_PORT=8091 VIDEO_QUEUE=image_check_video MP3_QUEUE=image_check_mp3 FAILED_QUEUE=image_check_failed $stores"
  [notification]="HEALTH_PORT=8092 SMTP_HOST=127.0.0.1 SMTP_PORT=1025 MAIL_FROM=check@mp3converter.com MP3_QUEUE=image_check_mp3 FAILED_QUEUE=image_check_failed DOWNLOAD_LINK_SECRET=image-check-link-secret-0123456789abcdef $stores"
  [webhooks]="HEALTH_PORT=8094 EVENTS_QUEUE=image_check_webhooks WEBHOOK_DATABASE=webhooks_image_check $stores"
)
# where each answers /healthz
declare -A ports=([auth]=5091 [gateway]=8093 [converter]=8091 [notification]=8092 [webhooks]=8094)

report=()
pids=()
# Each check stops exactly what its launcher started, the service first, so the launcher removes its container.
stop_checks() { local p; for p in "${pids[@]}"; do stop_tree "$p"; done; pids=(); }
trap stop_checks EXIT
for s in "${services[@]}"; do
  say "building $s"
  build "$s" >"/tmp/image-build-$s.log" 2>&1 || { tail -30 "/tmp/image-build-$s.log" >&2; die "building $s failed"; }
done
$check || exit 0
for s in "${services[@]}"; do
  say "starting $s from its image"
  run_bg "$s" "${envs[$s]}"
  pids+=($!)
  ok=false
  for ((i = 0; i < 300; i++)); do
    if curl -fsS "http://127.0.0.1:${ports[$s]}/healthz" >/dev/null 2>&1; then ok=true; break; fi
    sleep 0.2
  done
  $ok || die "$s did not answer /healthz"
  report+=("$(printf '%-13s /healthz ok   %6.0f MB' "$s" "$(($(size "$s") / 1000000))")")
done
stop_checks
printf '\n%s\n' "images (mp3converter/<service>:$TAG):" "${report[@]/#/  }"
