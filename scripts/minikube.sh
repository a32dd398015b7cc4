#!/usr/bin/env bash
# From a running Minikube (`minikube start --cpus 4 --memory 8g`) to a working system in one command:
# ingress addon, images built inside Minikube, secrets generated (once, git-ignored), apply, rollout,
# then the hosts line and the curl flow to try.
#
#   bash scripts/minikube.sh            apply (again) and wait
#   KEDA=1 bash scripts/minikube.sh     also scale the converter on the video queue (installs nothing: KEDA
#                                       must already be in the cluster)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

command -v minikube >/dev/null || die "minikube is not installed: https://minikube.sigs.k8s.io/docs/start/"
command -v kubectl >/dev/null || die "kubectl is not installed: https://kubernetes.io/docs/tasks/tools/"
minikube status >/dev/null 2>&1 || die "Minikube is not running: minikube start --cpus 4 --memory 8g"

OVERLAY=manifests/overlays/minikube
SECRETS=$OVERLAY/secrets
NS=mp3converter

say "enabling the ingress addon"
minikube addons enable ingress >/dev/null

say "building the images inside Minikube"
for s in auth gateway converter notification; do
  minikube image build -t "mp3converter/$s:dev" -f "services/$s/Dockerfile" . >/dev/null || die "building $s failed"
done

# Secrets: generated once with random values, kept in git-ignored files beside their examples.
rand() { openssl rand -base64 32 | tr -d '/+=' | cut -c1-32; }
if [ ! -f "$SECRETS/auth.env" ]; then
  say "generating secrets in $SECRETS (git-ignored)"
  mysql_pw=$(rand) rabbit_pw=$(rand)
  printf 'MYSQL_ROOT_PASSWORD=%s\nMYSQL_PASSWORD=%s\n' "$(rand)" "$mysql_pw" >"$SECRETS/mysql.env"
  printf 'MYSQL_PASSWORD=%s\nJWT_SECRET=%s\nSEED_USER_EMAIL=georgio@email.com\nSEED_USER_PASSWORD=%s\n' \
    "$mysql_pw" "$(openssl rand -base64 48 | tr -d '\n')" "${SEED_USER_PASSWORD:-Admin123}" >"$SECRETS/auth.env"
  printf 'RABBITMQ_DEFAULT_USER=mp3converter\nRABBITMQ_DEFAULT_PASS=%s\n' "$rabbit_pw" >"$SECRETS/rabbitmq.env"
  printf 'RABBITMQ_URL=amqp://mp3converter:%s@rabbitmq:5672\n' "$rabbit_pw" >"$SECRETS/rabbitmq-client.env"
  cp "$SECRETS/notification.env.example" "$SECRETS/notification.env"
  chmod 600 "$SECRETS"/*.env
fi

say "applying $OVERLAY"
if [ "${KEDA:-}" = 1 ]; then
  kubectl kustomize "$OVERLAY" >/dev/null
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  cp -r manifests "$tmp/" && sed -i 's|^# components:|components:|; s|^#   - ../../components/keda|  - ../../components/keda|' "$tmp/$OVERLAY/kustomization.yaml"
  kubectl apply -k "$tmp/$OVERLAY"
else
  kubectl apply -k "$OVERLAY"
fi

say "waiting for the rollout"
for s in mysql mongodb rabbitmq; do kubectl -n "$NS" rollout status "statefulset/$s" --timeout=600s; done
for s in maildev auth gateway converter notification; do kubectl -n "$NS" rollout status "deployment/$s" --timeout=600s; done

ip=$(minikube ip)
cat <<HOSTS

  mp3converter is deployed in namespace $NS.

  Add to /etc/hosts (or run \`minikube tunnel\` and use 127.0.0.1):
    $ip mp3converter.com rabbitmq-manager.com mail.mp3converter.com

  Then, as in the original course:
    TOKEN=\$(curl -s -u georgio@email.com:${SEED_USER_PASSWORD:-<SEED_USER_PASSWORD in $SECRETS/auth.env>} -X POST http://mp3converter.com/login)
    curl -H "Authorization: Bearer \$TOKEN" -F file=@video.mp4 http://mp3converter.com/upload
    # the email with the MP3's id arrives at http://mail.mp3converter.com
    curl -H "Authorization: Bearer \$TOKEN" -o audio.mp3 "http://mp3converter.com/download?fid=<mp3_fid>"

  RabbitMQ management: http://rabbitmq-manager.com (user and password in $SECRETS/rabbitmq.env)
HOSTS
