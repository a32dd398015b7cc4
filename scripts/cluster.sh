#!/usr/bin/env bash
# A one-node Kubernetes cluster on this machine, without Docker or Minikube, running the five services' images
# under the manifests' real securityContext (non-root, read-only root, no capabilities, Pod Security
# "restricted" enforced): etcd, kube-apiserver and kube-controller-manager on loopback (as the manifests
# test, plus the scheduler), containerd and runc from Debian's packages, a kubelet that never changes the host's kernel settings.
# Everything lives in a private folder and is stopped and removed at the end, also on failure or Ctrl-C.
#
#   bash scripts/cluster.sh            build what is missing, bring the pods up, show them Ready, stop
#   KEEP=1 bash scripts/cluster.sh     stay up until Ctrl-C (kubectl: KUBECONFIG is printed)
#
# What this node lacks, and how the run makes up for it:
#   - no registry: the service images come from scripts/images.sh, the pause image is built from the
#     kubelet's own source; MongoDB, MySQL, RabbitMQ and MailDev images cannot be had, so the pods use this
#     machine's servers (a private FerretDB, MariaDB, RabbitMQ, MailDev) through relays on the pod bridge;
#   - no kube-proxy and no cluster DNS: Service names resolve through hostAliases to those relays
#     (auth's relay points at the auth pod); NetworkPolicies are applied but nothing enforces them.
# Needs root (containerd, the kubelet, a bridge) and Go; about 15 minutes the first time (images, kubelet).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/kube.sh"
source "$(dirname "$0")/lib/secrets.sh"
cd "$ROOT"

[ "$(id -u)" = 0 ] || die "the node needs root (containerd, the kubelet and a network bridge)"
for p in containerd runc socat; do command -v "$p" >/dev/null || apt_install containerd runc socat containernetworking-plugins buildah podman; done
[ -x /usr/lib/cni/bridge ] || apt_install containernetworking-plugins

BRIDGE=mp3node0 SUBNET=10.244.77 HOST_IP=10.244.77.1 NS=mp3converter
W=$(mktemp -d /tmp/mp3converter-node.XXXXXX)
# folders the kubelet and the CNI plugins use whatever they are told: removed at the end if this run made them
made=()
for d in /var/lib/kubelet /var/log/containers /var/lib/cni; do [ -e "$d" ] || made+=("$d"); done
pids=()
ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }
stop_everything() {
  set +e
  say "stopping the node"
  if [ -n "${KUBECONFIG:-}" ] && [ -n "${kubelet_pid:-}" ]; then
    # the kubelet takes the pods down (containers, mounts, pod networks) before it goes itself
    "$KUBECTL" -n "$NS" delete deployments --all --wait=false >/dev/null 2>&1
    "$KUBECTL" -n "$NS" delete pods --all --grace-period=5 --timeout=60s >/dev/null 2>&1
  fi
  if [ -S "${SOCK:-/nonexistent}" ]; then
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null; wait "${pids[$i]}" 2>/dev/null; done
  kube_stop
  ip link del "$BRIDGE" 2>/dev/null
  findmnt -rn -o TARGET | grep "^$W/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$W"
  for d in "${made[@]}"; do rm -rf "$d"; done
}
trap 'stop_everything' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# what went wrong, before everything is taken down
diagnose() {
  "$KUBECTL" -n "$NS" get pods -o wide >&2 || true
  "$KUBECTL" -n "$NS" get events --sort-by=.lastTimestamp 2>/dev/null | tail -15 >&2 || true
  grep -E '^[EF]' "$W/kubelet.log" 2>/dev/null | tail -10 | cut -c1-400 >&2 || true
  # what a crashing container said last is the quickest way to its cause
  local pod
  for pod in $("$KUBECTL" -n "$NS" get pods -o jsonpath='{range .items[?(@.status.containerStatuses[0].ready==false)]}{.metadata.name}{"\n"}{end}' 2>/dev/null); do
    echo "--- last words of $pod" >&2
    { "$KUBECTL" -n "$NS" logs "$pod" --previous --tail=20 2>/dev/null || "$KUBECTL" -n "$NS" logs "$pod" --tail=20 2>/dev/null; } | cut -c1-600 >&2 || true
  done
}

started=$SECONDS
stage() { say "[$((SECONDS - started)) s] $*"; }

# --- binaries and images ---------------------------------------------------------------------------------
stage "building what is missing (etcd, kube-apiserver, kube-controller-manager, kubelet)"
kube_build kube-apiserver kube-controller-manager kube-scheduler kubelet
KUBELET=$CACHE_DIR/bin/kubelet-$K8S_VERSION KUBECTL=$(kubectl_bin) KUSTOMIZE=$(kustomize_bin)
images=(auth gateway converter notification webhooks)
# An image is built again when what goes into it changed since it was built (never a stale image on the node):
# the fingerprint is git's view of the service, the shared package and the lockfile, uncommitted edits included.
fingerprint() { # service
  { git ls-files -s "services/$1" packages/shared package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json
    git diff HEAD -- "services/$1" packages/shared package.json pnpm-lock.yaml; } | sha256sum | cut -c1-16
}
mkdir -p "$CACHE_DIR/images"
missing=()
for s in "${images[@]}"; do
  if ! podman image exists "mp3converter/$s:dev" 2>/dev/null || [ "$(cat "$CACHE_DIR/images/$s" 2>/dev/null)" != "$(fingerprint "$s")" ]; then missing+=("$s"); fi
done
if ((${#missing[@]})); then
  stage "building images: ${missing[*]}"
  bash scripts/images.sh --build-only "${missing[@]}"
  for s in "${missing[@]}"; do fingerprint "$s" >"$CACHE_DIR/images/$s"; done
fi

# --- containerd ---------------------------------------------------------------------------------------------
stage "starting containerd (private root, state and socket)"
mkdir -p "$W/containerd" "$W/cni" "$W/cni-ipam"
SOCK=$W/containerd/containerd.sock
# overlayfs cannot stack on an overlay root (as in a container): then plain copies
snapshotter=overlayfs
[ "$(findmnt -n -o FSTYPE -T "$W")" != overlay ] || snapshotter=native
cat >"$W/containerd.toml" <<TOML
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # this machine has no CAP_SYS_RESOURCE: without it every sandbox fails to start
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni"
TOML
containerd --config "$W/containerd.toml" >"$W/containerd.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { tail -20 "$W/containerd.log" >&2; die "containerd did not start"; }

stage "importing the pause image (built from the kubelet's source) and the service images"
k8s_src=$(GONOSUMDB=k8s.io GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -f "$k8s_src/build/pause/linux/pause.c" ] || die "no pause.c in k8s.io/kubernetes@$K8S_VERSION"
gcc -Os -static -o "$W/pause" "$k8s_src/build/pause/linux/pause.c" -DVERSION=3.10
pause=$(buildah from scratch)
buildah copy "$pause" "$W/pause" /pause >/dev/null
buildah config --entrypoint '["/pause"]' --user 65535:65535 "$pause"
buildah commit -q "$pause" registry.k8s.io/pause:3.10 >/dev/null
buildah rm "$pause" >/dev/null
podman save -q --format docker-archive -o "$W/pause.tar" registry.k8s.io/pause:3.10
ctr_ images import --snapshotter "$snapshotter" "$W/pause.tar" >/dev/null
for s in "${images[@]}"; do
  podman tag "mp3converter/$s:dev" "docker.io/mp3converter/$s:dev"
  podman save -q --format docker-archive -o "$W/$s.tar" "docker.io/mp3converter/$s:dev"
  ctr_ images import --snapshotter "$snapshotter" "$W/$s.tar" >/dev/null
  rm -f "$W/$s.tar"
done
ctr_ images ls -q | sed 's/^/  /' >&2

# --- pod network: a bridge with an address, no default route in the pods, no masquerade, no forwarding ----
stage "creating the pod bridge $BRIDGE ($SUBNET.0/24)"
ip link add "$BRIDGE" type bridge
ip addr add "$HOST_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
cat >"$W/cni/10-mp3converter.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "mp3converter", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": false, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$W/cni-ipam", "ranges": [[{"subnet": "$SUBNET.0/24", "rangeStart": "$SUBNET.10"}]], "routes": []}},
  {"type": "loopback"}]}
JSON

# --- the servers the pods use, through relays on the bridge address ---------------------------------------
stage "servers for the pods: FerretDB, MariaDB, RabbitMQ, MailDev, relayed on $HOST_IP"
ensure_mariadb 127.0.0.1 3306
ensure_rabbitmq 127.0.0.1 5672
ensure_node_modules
mongo_port=$(free_port 27100)
pids+=("$(start_ferretdb "$mongo_port" "$W/ferretdb" "$W/ferretdb.log")")
smtp_port=$(free_port 2600) mail_web=$(free_port 3200) # apart: neither is bound until MailDev starts
node_bin=$(pnpm -s exec node -e "process.stdout.write(process.execPath)")
"$node_bin" node_modules/maildev/bin/maildev --smtp "$smtp_port" --web "$mail_web" --ip 127.0.0.1 --silent >"$W/maildev.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 "$smtp_port" 30 MailDev
relay() { # port target
  socat "TCP-LISTEN:$1,bind=$HOST_IP,fork,reuseaddr" "TCP:$2" >/dev/null 2>&1 &
  pids+=($!)
}
relay 27017 "127.0.0.1:$mongo_port"
relay 3306 127.0.0.1:3306
relay 5672 127.0.0.1:5672
relay 1025 "127.0.0.1:$smtp_port"

# --- control plane and kubelet --------------------------------------------------------------------------------
stage "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler"
kube_start "$W/control-plane"
kube_scheduler_start "$W/control-plane"
export KUBECONFIG=$W/control-plane/kubeconfig
printf 'nameserver 127.0.0.1\n' >"$W/resolv.conf"
kubelet_port=$(free_port 21250)
cat >"$W/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $kubelet_port
readOnlyPort: 0
healthzPort: 0
authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: "$W/control-plane/ca.crt" } }
authorization: { mode: AlwaysAllow }
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
# the host's iptables, kernel settings and DNS are left alone
makeIPTablesUtilChains: false
protectKernelDefaults: false
resolvConf: "$W/resolv.conf"
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
imageGCHighThresholdPercent: 100
podLogsDir: "$W/pod-logs"
YAML
stage "starting the kubelet (node localhost)"
"$KUBELET" --config "$W/kubelet.yaml" --kubeconfig "$KUBECONFIG" --root-dir "$W/kubelet" --cert-dir "$W/kubelet/pki" \
  --hostname-override localhost --node-ip "$HOST_IP" >"$W/kubelet.log" 2>&1 &
kubelet_pid=$!
pids+=("$kubelet_pid")
for ((i = 0; i < 120; i++)); do
  [ "$("$KUBECTL" get node localhost -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] && break
  kill -0 "$kubelet_pid" 2>/dev/null || break
  sleep 1
done
((i < 120)) && kill -0 "$kubelet_pid" 2>/dev/null || { grep -E '^[EF]' "$W/kubelet.log" | tail -15 >&2; die "the node did not become Ready"; }

# --- the workloads ---------------------------------------------------------------------------------------------
stage "applying the minikube overlay, adapted to this node"
cp -r manifests "$W/manifests"
generate_secrets "$W/manifests/overlays/minikube/secrets"
mkdir -p "$W/manifests/overlays/node"
run_id=node_$RANDOM$RANDOM
auth_db=auth_$run_id
# this machine's broker is shared: queues of their own
queues="VIDEO_QUEUE=video_$run_id, MP3_QUEUE=mp3_$run_id, FAILED_QUEUE=failed_$run_id"
# the stores' credentials are replaced below; the signing key for the email's links stays the generated one
link_secret=$(sed -n 's/^DOWNLOAD_LINK_SECRET=//p' "$W/manifests/overlays/minikube/secrets/gateway.env")
cat >"$W/manifests/overlays/node/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../minikube]
replicas:
  - { name: auth, count: 1 }
  - { name: gateway, count: 1 }
  - { name: converter, count: 1 }
  - { name: notification, count: 1 }
  - { name: webhooks, count: 1 }
configMapGenerator:
  - { name: auth-config, behavior: merge, literals: [MYSQL_USER=root, MYSQL_DB=$auth_db] }
  - { name: gateway-config, behavior: merge, literals: [VIDEO_QUEUE=video_$run_id] }
  - { name: converter-config, behavior: merge, literals: [$queues] }
  - { name: notification-config, behavior: merge, literals: [$queues] }
  - { name: webhooks-config, behavior: merge, literals: [EVENTS_QUEUE=webhooks_$run_id] }
  - { name: webhook-destinations, behavior: merge, literals: [WEBHOOK_DATABASE=webhooks_$run_id] }
secretGenerator:
  - { name: auth-secret, behavior: merge, literals: [MYSQL_PASSWORD=] }
  - name: gateway-secret
    behavior: replace
    literals:
      [MONGODB_URI=mongodb://mongodb:27017, "RABBITMQ_URL=amqp://guest:guest@rabbitmq:5672", "DOWNLOAD_LINK_SECRET=$link_secret"]
  - name: converter-secret
    behavior: replace
    literals: [MONGODB_URI=mongodb://mongodb:27017, "RABBITMQ_URL=amqp://guest:guest@rabbitmq:5672"]
  - name: notification-secret
    behavior: replace
    literals:
      [MONGODB_URI=mongodb://mongodb:27017, "RABBITMQ_URL=amqp://guest:guest@rabbitmq:5672", "DOWNLOAD_LINK_SECRET=$link_secret"]
  - name: webhooks-secret
    behavior: replace
    literals: [MONGODB_URI=mongodb://mongodb:27017, "RABBITMQ_URL=amqp://guest:guest@rabbitmq:5672"]
patches:
  # no images for the stores and the mail catcher: this machine's servers stand in for them
  - patch: '{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "mongodb"}, "\$patch": "delete"}'
  - patch: '{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "mysql"}, "\$patch": "delete"}'
  - patch: '{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "rabbitmq"}, "\$patch": "delete"}'
  - patch: '{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "maildev"}, "\$patch": "delete"}'
  - patch: '{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "gateway"}, "\$patch": "delete"}'
  # no DNS: the Service names point at the relays on the bridge
  - target: { kind: Deployment }
    patch: |-
      - op: add
        path: /spec/template/spec/hostAliases
        value: [{ ip: "$HOST_IP", hostnames: [mongodb, mysql, rabbitmq, maildev, auth] }]
YAML
"$KUSTOMIZE" build "$W/manifests/overlays/node" >"$W/node.yaml"
"$KUBECTL" apply --server-side -f "$W/node.yaml" >/dev/null 2>"$W/apply.err" || { cat "$W/apply.err" >&2; die "apply failed"; }
[ ! -s "$W/apply.err" ] || { cat "$W/apply.err" >&2; die "the server warned"; }

stage "waiting for the auth pod's address (the gateway reaches it through a relay)"
for ((i = 0; i < 60; i++)); do
  auth_ip=$("$KUBECTL" -n "$NS" get pods -l app.kubernetes.io/name=auth -o jsonpath='{.items[0].status.podIP}' 2>/dev/null || true)
  [ -n "$auth_ip" ] && break
  sleep 1
done
[ -n "$auth_ip" ] || { diagnose; die "the auth pod got no address"; }
relay 5000 "$auth_ip:5000"

stage "waiting for every pod to be Ready"
if ! "$KUBECTL" -n "$NS" wait --for=condition=Ready pods --all --timeout=300s >/dev/null; then
  diagnose
  die "not every pod became Ready"
fi
"$KUBECTL" -n "$NS" get pods -o wide

# --- proof: the original's flow against the gateway pod -------------------------------------------------------
gateway_ip=$("$KUBECTL" -n "$NS" get pods -l app.kubernetes.io/name=gateway -o jsonpath='{.items[0].status.podIP}')
seed=$(sed -n 's/^SEED_USER_PASSWORD=//p' "$W/manifests/overlays/minikube/secrets/auth.env")
stage "login and a conversion through the gateway pod at $gateway_ip:8080"
token=$(curl -fsS -u "georgio@email.com:$seed" -X POST "http://$gateway_ip:8080/login")
ffmpeg -v error -f lavfi -i testsrc=duration=3:size=160x120 -f lavfi -i sine=duration=3 -shortest -y "$W/video.mp4"
fid=$(curl -fsS -H "Authorization: Bearer $token" -F "file=@$W/video.mp4" "http://$gateway_ip:8080/upload" | sed -n 's/.*"video_fid":"\([^"]*\)".*/\1/p')
for ((i = 0; i < 120; i++)); do
  state=$(curl -fsS -H "Authorization: Bearer $token" "http://$gateway_ip:8080/status?fid=$fid" | sed -n 's/.*"state":"\([^"]*\)".*/\1/p')
  [ "$state" = done ] || [ "$state" = failed ] && break
  sleep 1
done
echo "job $fid: $state"
[ "$state" = done ] || die "the conversion did not finish"
stage "the node ran the five services Ready under Pod Security \"restricted\", and converted a video"

if [ "${KEEP:-}" = 1 ]; then
  echo "KUBECONFIG=$KUBECONFIG  (Ctrl-C stops everything)"
  while true; do sleep 3600; done
fi
