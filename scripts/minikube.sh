#!/usr/bin/env bash
# From a running Minikube (`minikube start --cpus 4 --memory 8g --cni=calico`: Calico enforces the NetworkPolicies,
# Minikube's default network plugin ignores them) to a working system in one command:
# ingress addon, images built inside Minikube, secrets generated (once, git-ignored), apply, rollout,
# then the hosts line and the curl flow to try.
#
#   bash scripts/minikube.sh            apply (again) and wait
#   KEDA=1 bash scripts/minikube.sh     also scale the converter on the video queue (installs nothing: KEDA
#                                       must already be in the cluster)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/secrets.sh"
cd "$ROOT"

command -v minikube >/dev/null || die "minikube is not installed: https://minikube.sigs.k8s.io/docs/start/"
command -v kubectl >/dev/null || die "kubectl is not installed: https://kubernetes.io/docs/tasks/tools/"
minikube status >/dev/null 2>&1 || die "Minikube is not running: minikube start --cpus 4 --memory 8g --cni=calico"
kubectl -n kube-system get pods -l k8s-app=calico-node -o name 2>/dev/null | grep -q . ||
  say "warning: no Calico in this cluster, so its NetworkPolicies are not enforced (minikube delete; minikube start ... --cni=calico)"

OVERLAY=manifests/overlays/minikube
SECRETS=$OVERLAY/secrets
NS=mp3converter

say "enabling the ingress addon"
minikube addons enable ingress >/dev/null

say "building the images inside Minikube"
for s in auth gateway converter notification webhooks; do
  minikube image build -t "mp3converter/$s:dev" -f "services/$s/Dockerfile" . >/dev/null || die "building $s failed"
done

# Secrets: generated once with random values (scripts/lib/secrets.sh), kept in git-ignored files. The seed
# user's password too: printed at the end.
if ! secrets_complete "$SECRETS"; then
  say "generating secrets in $SECRETS (git-ignored)"
  generate_secrets "$SECRETS" ${SEED_USER_PASSWORD:+"$SEED_USER_PASSWORD"}
fi
seed_password=$(sed -n 's/^SEED_USER_PASSWORD=//p' "$SECRETS/auth.env")
rabbit_admin_password=$(sed -n 's/^RABBITMQ_ADMIN_PASSWORD=//p' "$SECRETS/rabbitmq-admin.env")

say "applying $OVERLAY"
if [ "${KEDA:-}" = 1 ]; then
  kubectl kustomize "$OVERLAY" >/dev/null
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  cp -r manifests "$tmp/" && sed -i 's|^# components:|components:|; s|^#   - ../../components/keda|  - ../../components/keda|' "$tmp/$OVERLAY/kustomization.yaml"
  kubectl apply --server-side -k "$tmp/$OVERLAY"
else
  kubectl apply --server-side -k "$OVERLAY"
fi

say "waiting for the rollout"
for s in mysql mongodb rabbitmq; do kubectl -n "$NS" rollout status "statefulset/$s" --timeout=600s; done
for s in maildev auth gateway converter notification webhooks; do kubectl -n "$NS" rollout status "deployment/$s" --timeout=600s; done

ip=$(minikube ip)
cat <<HOSTS

  mp3converter is deployed in namespace $NS, over HTTPS (plain HTTP is redirected).

  Add to /etc/hosts (or run \`minikube tunnel\` and use 127.0.0.1):
    $ip mp3converter.com rabbitmq-manager.com

  The certificate is self-signed ($SECRETS/tls.crt): give it to curl with --cacert (or trust it once).

  Seed user: georgio@email.com, password $seed_password
  Then, as in the original course, over TLS:
    TOKEN=\$(curl -s --cacert $SECRETS/tls.crt -u georgio@email.com:$seed_password -X POST https://mp3converter.com/login)
    curl --cacert $SECRETS/tls.crt -H "Authorization: Bearer \$TOKEN" -F file=@video.mp4 https://mp3converter.com/upload
    # the email with the MP3's id arrives on the mail page (not on the Ingress: it shows everyone's mail):
    #   kubectl -n $NS port-forward svc/maildev 1080:1080   then http://127.0.0.1:1080
    curl --cacert $SECRETS/tls.crt -H "Authorization: Bearer \$TOKEN" -o audio.mp3 "https://mp3converter.com/download?fid=<mp3_fid>"

  RabbitMQ management: https://rabbitmq-manager.com (user admin, password $rabbit_admin_password)
HOSTS
