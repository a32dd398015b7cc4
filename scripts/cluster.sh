#!/usr/bin/env bash
# A one-node Kubernetes cluster on this machine, without Docker or Minikube, running the project's manifests
# as an Ingress-fronted deployment: etcd, kube-apiserver, kube-controller-manager and kube-scheduler on
# loopback, containerd and runc from Debian's packages, a kubelet that never changes the host's kernel
# settings, and the cluster's add-ons: CoreDNS, kube-proxy (iptables mode), kube-router's firewall enforcing
# the NetworkPolicies, Traefik as the Ingress controller (its ingress-nginx provider reads the project's Ingress
# as written) and Gateway API implementation, and KEDA. MySQL and RabbitMQ run as the manifests declare them,
# from images built here from Debian's packages. Then it checks, one line each, PASS or FAIL, what the
# deployment promises (scripts/cluster.sh prints them; docs/kubernetes.md says what they prove).
# Everything lives in a private folder and is stopped and removed at the end, also on failure or Ctrl-C; the
# host's only changes (a bridge with forwarding on it, iptables chains, ipsets, two loopback relays on ports 80
# and 443) are removed again.
#
#   bash scripts/cluster.sh            build what is missing, bring the cluster up, run the checks, stop
#   KEEP=1 bash scripts/cluster.sh     stay up after the checks until Ctrl-C (KUBECONFIG is printed)
#
# What this node lacks, and how the run makes up for it:
#   - no registry: every image is built here (the services' by scripts/images.sh; the stores' and add-ons'
#     from Debian's packages and the Go module proxy, scripts/lib/addons.sh), all cached in ~/.cache/mp3converter;
#   - no MongoDB image can be had: FerretDB (the MongoDB-wire server the tests use) runs as the `mongodb` pod,
#     on a PostgreSQL server in the same pod, without the per-service users (FerretDB refuses createUser with
#     roles; the users are proven offline);
#   - no MailDev image: the host's MailDev stands in for a mail server outside the cluster, reached on port 25
#     as the notification policy lets it reach one;
#   - ingress-nginx cannot be built here (and is retired): Traefik reads the same Ingress.
# Needs root (containerd, the kubelet, a bridge, iptables) and Go; half an hour to over an hour the first time on
# 2 cores, about 2.5 minutes to the checks when everything is cached. Status: every check passes (docs/kubernetes.md).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/kube.sh"
source "$(dirname "$0")/lib/secrets.sh"
source "$(dirname "$0")/lib/addons.sh"
cd "$ROOT"

[ "$(id -u)" = 0 ] || die "the node needs root (containerd, the kubelet, a network bridge, iptables)"
for p in containerd runc socat buildah podman iptables ipset conntrack; do
  command -v "$p" >/dev/null || apt_install containerd runc socat containernetworking-plugins buildah podman iptables ipset conntrack
done
[ -x /usr/lib/cni/bridge ] || apt_install containernetworking-plugins
# kube-proxy and kube-router own the chains named KUBE-* and the ipsets named KUBE-*: another cluster on this
# machine would lose them at the end of this run
! iptables -S 2>/dev/null | grep -q -- '-N KUBE-' || die "iptables already has KUBE-* chains: is another cluster running here?"

BRIDGE=mp3node0 SUBNET=10.244.77 HOST_IP=10.244.77.1 NS=mp3converter
SERVICE_RANGE=10.96.0.0/24 DNS_IP=10.96.0.10 API_RELAY_PORT=6443
W=$(mktemp -d /tmp/mp3converter-node.XXXXXX)
# folders the kubelet and the CNI plugins use whatever they are told: removed at the end if this run made them
made=()
for d in /var/lib/kubelet /var/log/containers /var/lib/cni; do [ -e "$d" ] || made+=("$d"); done
pids=()
ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

# The chains kube-proxy and kube-router made (iptables and ip6tables, every table), and kube-router's ipsets:
# the jumps to them from the built-in chains first, then the chains themselves.
netfilter_cleanup() {
  local cmd t line chains c
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for t in filter nat mangle raw; do
      "$cmd" -t "$t" -S >/dev/null 2>&1 || continue
      while IFS= read -r line; do
        eval "$cmd -t $t -D ${line#-A }" 2>/dev/null || true
      done < <("$cmd" -t "$t" -S 2>/dev/null | grep -E '^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) .*-j KUBE-')
      chains=$("$cmd" -t "$t" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p')
      for c in $chains; do "$cmd" -t "$t" -F "$c" 2>/dev/null || true; done
      for c in $chains; do "$cmd" -t "$t" -X "$c" 2>/dev/null || true; done
    done
  done
  # kube-proxy's nftables tables, if a mode that makes them ever ran
  nft delete table ip kube-proxy 2>/dev/null || true
  nft delete table ip6 kube-proxy 2>/dev/null || true
  for c in $(ipset list -n 2>/dev/null | grep -E '^(inet6:)?KUBE-'); do ipset destroy "$c" 2>/dev/null || true; done
}

stop_everything() {
  set +e
  say "stopping the node"
  if [ -n "${KUBECONFIG:-}" ] && [ -n "${kubelet_pid:-}" ]; then
    # the kubelet takes the pods down (containers, mounts, pod networks) before it goes itself
    "$KUBECTL" delete scaledobjects.keda.sh --all -A --wait=false >/dev/null 2>&1
    for n in "$NS" ingress-nginx kube-system default; do
      "$KUBECTL" -n "$n" delete deployments,statefulsets --all --wait=false >/dev/null 2>&1
    done
    "$KUBECTL" delete pods --all -A --grace-period=5 --timeout=60s >/dev/null 2>&1
  fi
  if [ -S "${SOCK:-/nonexistent}" ]; then
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  fi
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[$i]}" 2>/dev/null; wait "${pids[$i]}" 2>/dev/null; done
  kube_stop
  netfilter_cleanup
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
  "$KUBECTL" get pods -A -o wide >&2 || true
  "$KUBECTL" get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -20 >&2 || true
  grep -E '^[EF]' "$W/kubelet.log" 2>/dev/null | tail -10 | cut -c1-400 >&2 || true
  # what a crashing container said last is the quickest way to its cause
  local n pod
  for n in "$NS" kube-system ingress-nginx; do
    for pod in $("$KUBECTL" -n "$n" get pods -o jsonpath='{range .items[?(@.status.containerStatuses[0].ready==false)]}{.metadata.name}{"\n"}{end}' 2>/dev/null); do
      echo "--- last words of $n/$pod" >&2
      { "$KUBECTL" -n "$n" logs "$pod" --previous --tail=20 2>/dev/null || "$KUBECTL" -n "$n" logs "$pod" --tail=20 2>/dev/null; } | cut -c1-600 >&2 || true
    done
  done
}

started=$SECONDS
stage() { say "[$((SECONDS - started)) s] $*"; }

# --- binaries and images ---------------------------------------------------------------------------------
stage "building what is missing (control plane, kubelet, kube-proxy, add-ons, images)"
kube_build kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy
KUBELET=$CACHE_DIR/bin/kubelet-$K8S_VERSION KUBE_PROXY=$CACHE_DIR/bin/kube-proxy-$K8S_VERSION
KUBECTL=$(kubectl_bin) KUSTOMIZE=$(kustomize_bin)
KUBE_ROUTER=$(kube_router_bin)
KEDA_DIR=$(keda_bins)
# the add-ons that run as pods, each an image of its binary on the Debian base
bin=$(coredns_bin)
coredns_image=$(binary_image coredns "$COREDNS_VERSION" "$bin")
bin=$(traefik_bin)
traefik_image=$(binary_image traefik "$TRAEFIK_VERSION" "$bin")
bin=$(ferretdb_bin)
ferretdb_image=$(binary_image ferretdb "$FERRETDB_VERSION" "$bin")
postgresql_image=$(store_image postgresql)
mariadb_image=$(store_image mariadb)
rabbitmq_image=$(store_image rabbitmq)
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
  nice -n 19 bash scripts/images.sh --build-only "${missing[@]}"
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

stage "importing the pause image (built from the kubelet's source) and every image the pods run"
k8s_src=$(GONOSUMDB=k8s.io GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -f "$k8s_src/build/pause/linux/pause.c" ] || die "no pause.c in k8s.io/kubernetes@$K8S_VERSION"
gcc -Os -static -o "$W/pause" "$k8s_src/build/pause/linux/pause.c" -DVERSION=3.10
pause=$(buildah from scratch)
buildah copy "$pause" "$W/pause" /pause >/dev/null
buildah config --entrypoint '["/pause"]' --user 65535:65535 "$pause"
buildah commit -q "$pause" registry.k8s.io/pause:3.10 >/dev/null
buildah rm "$pause" >/dev/null
import_image() { # tag
  podman save -q --format docker-archive -o "$W/image.tar" "$1"
  ctr_ images import --snapshotter "$snapshotter" "$W/image.tar" >/dev/null
  rm -f "$W/image.tar"
}
import_image registry.k8s.io/pause:3.10
for s in "${images[@]}"; do
  podman tag "mp3converter/$s:dev" "docker.io/mp3converter/$s:dev"
  import_image "docker.io/mp3converter/$s:dev"
done
for image in "$coredns_image" "$traefik_image" "$ferretdb_image" "$postgresql_image" "$mariadb_image" "$rabbitmq_image"; do
  import_image "$image"
done
ctr_ images ls -q | sed 's/^/  /' >&2

# --- pod network: a bridge with forwarding on it alone; no default route in the pods, no masquerade -------------
stage "creating the pod bridge $BRIDGE ($SUBNET.0/24), Services in $SERVICE_RANGE"
ip link add "$BRIDGE" type bridge
ip addr add "$HOST_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
# kube-proxy's Service addresses are translated on this host: the pods send them to the bridge, which routes
# them (the bridge's own forwarding switch, not the host-wide one)
sysctl -qw "net.ipv4.conf.$BRIDGE.forwarding=1"
cat >"$W/cni/10-mp3converter.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "mp3converter", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": false, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$W/cni-ipam", "ranges": [[{"subnet": "$SUBNET.0/24", "rangeStart": "$SUBNET.10"}]],
            "routes": [{"dst": "$SERVICE_RANGE", "gw": "$HOST_IP"}]}},
  {"type": "loopback"}]}
JSON

# --- what stays outside: a mail server --------------------------------------------------------------------------
stage "a mail server outside the cluster: MailDev on $HOST_IP:25"
ensure_node_modules
smtp_port=$(free_port 2600) mail_web=$(free_port 3200) # apart: neither is bound until MailDev starts
node_bin=$(pnpm -s exec node -e "process.stdout.write(process.execPath)")
"$node_bin" node_modules/maildev/bin/maildev --smtp "$smtp_port" --web "$mail_web" --ip 127.0.0.1 --silent >"$W/maildev.log" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 "$smtp_port" 30 MailDev
relay() { # listen-address port target
  socat "TCP-LISTEN:$2,bind=$1,fork,reuseaddr" "TCP:$3" >/dev/null 2>&1 &
  pids+=($!)
}
relay "$HOST_IP" 25 "127.0.0.1:$smtp_port"

# --- control plane and kubelet --------------------------------------------------------------------------------
stage "starting etcd, kube-apiserver (with the aggregation layer), kube-controller-manager, kube-scheduler"
# Pods reach the API server as kubernetes.default (10.96.0.1) through a relay on the bridge; KEDA's metrics
# adapter is reached through the aggregation layer, with a front-proxy CA of its own.
KUBE_EXTRA_SANS="IP:10.96.0.1,IP:$HOST_IP"
mkdir -p "$W/control-plane/front-proxy"
(
  cd "$W/control-plane/front-proxy"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=front-proxy-ca
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=front-proxy-client
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2
) >/dev/null 2>&1 || die "openssl could not make the front proxy's certificates"
fp=$W/control-plane/front-proxy
KUBE_APISERVER_ARGS=(--requestheader-client-ca-file "$fp/ca.crt" --requestheader-allowed-names front-proxy-client
  --requestheader-extra-headers-prefix X-Remote-Extra- --requestheader-group-headers X-Remote-Group
  --requestheader-username-headers X-Remote-User --proxy-client-cert-file "$fp/client.crt" --proxy-client-key-file "$fp/client.key"
  --enable-aggregator-routing=true)
kube_start "$W/control-plane"
kube_scheduler_start "$W/control-plane"
export KUBECONFIG=$W/control-plane/kubeconfig
api_port=$(sed -n 's#.*server: "https://127.0.0.1:\([0-9]*\)".*#\1#p' "$KUBECONFIG")
relay "$HOST_IP" "$API_RELAY_PORT" "127.0.0.1:$api_port"
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
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
hairpinMode: hairpin-veth
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

# --- Services and NetworkPolicy: kube-proxy and kube-router's firewall, as host processes ------------------------
stage "starting kube-proxy (iptables mode) and kube-router (NetworkPolicy firewall)"
# the `kubernetes` Service leads to the relay (the API server itself listens on loopback only)
"$KUBECTL" apply --server-side -f - >/dev/null <<YAML
apiVersion: v1
kind: Endpoints
metadata: { name: kubernetes, namespace: default }
subsets: [{ addresses: [{ ip: "$HOST_IP" }], ports: [{ name: https, port: $API_RELAY_PORT, protocol: TCP }] }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: kubernetes-node, namespace: default, labels: { kubernetes.io/service-name: kubernetes } }
addressType: IPv4
endpoints: [{ addresses: ["$HOST_IP"] }]
ports: [{ name: https, port: $API_RELAY_PORT, protocol: TCP }]
YAML
# Nothing host-wide: no conntrack table sizes or timeouts, no route_localnet; NodePorts on the bridge only.
cat >"$W/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: "$KUBECONFIG" }
hostnameOverride: localhost
mode: iptables
clusterCIDR: $SUBNET.0/24
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$(free_port 21256)
metricsBindAddress: 127.0.0.1:$(free_port 21249)
nodePortAddresses: [$HOST_IP/32]
iptables: { localhostNodePorts: false, masqueradeAll: false, syncPeriod: 10s, minSyncPeriod: 0s }
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
YAML
"$KUBE_PROXY" --config "$W/kube-proxy.yaml" >"$W/kube-proxy.log" 2>&1 &
pids+=($!)
"$KUBE_ROUTER" --kubeconfig "$KUBECONFIG" --hostname-override localhost --run-firewall --run-router=false \
  --run-service-proxy=false --enable-cni=false --enable-ipv6=false --health-port 0 --metrics-port 0 >"$W/kube-router.log" 2>&1 &
pids+=($!)

# --- the add-ons that run as pods: CoreDNS (kube-system), Traefik (ingress-nginx) -------------------------------
stage "CoreDNS in kube-system ($DNS_IP), Traefik in ingress-nginx (Ingress nginx class and Gateway API)"
gateway_api_crds=$(gateway_api_crds)
"$KUBECTL" apply --server-side -f "$gateway_api_crds" >/dev/null
sed -e "s#__COREDNS_IMAGE__#$coredns_image#; s#__TRAEFIK_IMAGE__#$traefik_image#; s#__DNS_IP__#$DNS_IP#" scripts/lib/cluster-addons.yaml |
  "$KUBECTL" apply --server-side -f - >/dev/null

# --- the workloads ---------------------------------------------------------------------------------------------
stage "applying the minikube overlay, adapted to this node"
cp -r manifests "$W/manifests"
generate_secrets "$W/manifests/overlays/minikube/secrets"
# FerretDB has no users: the services connect without one (their own users are proven offline)
sed -i 's#^MONGODB_URI=.*#MONGODB_URI=mongodb://mongodb:27017#' "$W/manifests/overlays/minikube/secrets/"{gateway,converter,notification,webhooks}.env
mkdir -p "$W/manifests/overlays/node" "$W/pv/mysql" "$W/pv/rabbitmq"
chown 999:999 "$W/pv/mysql" "$W/pv/rabbitmq"
cat >"$W/manifests/overlays/node/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: $NS
resources: [../minikube, stores.yaml]
components: [../../components/keda]
replicas:
  - { name: auth, count: 1 }
  - { name: gateway, count: 1 }
  - { name: converter, count: 1 }
  - { name: notification, count: 1 }
  - { name: webhooks, count: 1 }
images:
  - { name: mysql, newName: ${mariadb_image%:*}, newTag: ${mariadb_image##*:} }
  - { name: rabbitmq, newName: ${rabbitmq_image%:*}, newTag: ${rabbitmq_image##*:} }
configMapGenerator:
  # one user uploads the twenty videos that fill the queue for KEDA: all of them are published at once
  - { name: gateway-config, behavior: merge, literals: [USER_JOB_SLOTS=20] }
patches:
  # no MongoDB image can be had: FerretDB runs as the mongodb pod instead (stores.yaml)
  - patch: '{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "mongodb"}, "\$patch": "delete"}'
  # no MailDev image: the one on the node stands in for an outside mail server (stores.yaml)
  - patch: '{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "maildev"}, "\$patch": "delete"}'
  - target: { kind: Service, name: maildev }
    patch: '[{"op": "remove", "path": "/spec/selector"}, {"op": "replace", "path": "/spec/ports", "value": [{"name": "smtp", "port": 1025, "targetPort": 25}]}]'
  # one node with two cores: the scheduler would refuse the CPU the manifests request for a full complement
  - target: { kind: Deployment }
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/resources/requests/cpu
        value: 10m
  - target: { kind: StatefulSet }
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/resources/requests/cpu
        value: 10m
  # the queue-length scaling, quicker than in production so that the run sees it go up and down: KEDA polls
  # every 5 s and the HPA scales down 20 s after the queue is empty (production: 30 s and 300 s); one replica
  # per waiting message (production: one per two), since every replica started takes one of the twenty off the
  # queue (at two, the HPA's first step to five replicas leaves fourteen waiting, which asks for seven)
  - target: { kind: ScaledObject, name: converter }
    patch: |-
      - { op: replace, path: /spec/triggers/0/metadata/value, value: "1" }
      - { op: add, path: /spec/pollingInterval, value: 5 }
      - { op: replace, path: /spec/cooldownPeriod, value: 20 }
      - op: add
        path: /spec/advanced
        value: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 20 } } } }
  # no metrics server for CPU: one gateway (KEDA scales the converter)
  - patch: '{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "gateway"}, "\$patch": "delete"}'
YAML
cat >"$W/manifests/overlays/node/stores.yaml" <<YAML
# FerretDB, the MongoDB-wire server, in place of MongoDB (same name, labels and port), on a PostgreSQL server in
# the same pod (as start.sh runs it: SQLite takes one writer at a time, and a burst of uploads waits past the
# gateway's store deadline); PostgreSQL listens on the pod's loopback only, with the planner settings FerretDB's
# lookups need (FERRETDB_PG_SETTINGS)
apiVersion: apps/v1
kind: Deployment
metadata:
  name: mongodb
  labels: { app.kubernetes.io/name: mongodb }
spec:
  replicas: 1
  selector: { matchLabels: { app.kubernetes.io/name: mongodb } }
  template:
    metadata: { labels: { app.kubernetes.io/name: mongodb } }
    spec:
      automountServiceAccountToken: false
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: mongodb
          image: $ferretdb_image
          args: [--handler=postgresql, --postgresql-url=postgres://postgres@127.0.0.1:5432/ferretdb, --state-dir=/data,
                 --listen-addr=:27017, --debug-addr=127.0.0.1:8088, --telemetry=disable, --log-level=warn]
          ports: [{ name: mongodb, containerPort: 27017 }]
          resources: { requests: { cpu: 100m, memory: 128Mi }, limits: { cpu: "1", memory: 1Gi } }
          readinessProbe: { tcpSocket: { port: mongodb }, periodSeconds: 2 }
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
          volumeMounts: [{ name: data, mountPath: /data }]
        - name: postgresql
          image: $postgresql_image
          args: [$(for setting in $FERRETDB_PG_SETTINGS; do printf -- '-c, %s, ' "$setting"; done | sed 's/, $//')]
          env: [{ name: POSTGRES_DB, value: ferretdb }, { name: PGDATA, value: /var/lib/postgresql/data/pgdata }]
          resources: { requests: { cpu: 100m, memory: 256Mi }, limits: { cpu: "1", memory: 1Gi } }
          readinessProbe: { exec: { command: [/usr/lib/postgresql/15/bin/pg_isready, --host=127.0.0.1, --quiet] }, periodSeconds: 2 }
          securityContext:
            { runAsUser: 999, runAsGroup: 999, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
          volumeMounts: [{ name: pgdata, mountPath: /var/lib/postgresql/data }, { name: pgtmp, mountPath: /tmp }]
      volumes: [{ name: data, emptyDir: {} }, { name: pgdata, emptyDir: {} }, { name: pgtmp, emptyDir: { medium: Memory } }]
---
# the mail server outside the cluster: MailDev on the node, port 25 (the maildev Service leads there)
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: maildev-node, labels: { kubernetes.io/service-name: maildev } }
addressType: IPv4
endpoints: [{ addresses: ["$HOST_IP"] }]
ports: [{ name: smtp, port: 25, protocol: TCP }]
---
# the stores' volumes: folders of this run, owned by the stores' user
apiVersion: v1
kind: PersistentVolume
metadata: { name: mp3converter-mysql-data }
spec:
  capacity: { storage: 2Gi }
  accessModes: [ReadWriteOnce]
  claimRef: { namespace: $NS, name: data-mysql-0 }
  hostPath: { path: "$W/pv/mysql", type: Directory }
---
apiVersion: v1
kind: PersistentVolume
metadata: { name: mp3converter-rabbitmq-data }
spec:
  capacity: { storage: 1Gi }
  accessModes: [ReadWriteOnce]
  claimRef: { namespace: $NS, name: data-rabbitmq-0 }
  hostPath: { path: "$W/pv/rabbitmq", type: Directory }
YAML
"$KUSTOMIZE" build "$W/manifests/overlays/node" >"$W/node.yaml"
"$KUBECTL" apply --server-side -f "$(keda_crds)" >/dev/null
"$KUBECTL" apply --server-side -f "$W/node.yaml" >/dev/null 2>"$W/apply.err" || { cat "$W/apply.err" >&2; die "apply failed"; }
[ ! -s "$W/apply.err" ] || { cat "$W/apply.err" >&2; die "the server warned"; }

# The Gateway API component, rendered as an overlay of its own (it replaces the Ingress there): its Gateway and
# HTTPRoutes are applied beside the Ingress, for the second controller.
mkdir -p "$W/manifests/overlays/node-gateway-api"
printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources: [../node]\ncomponents: [../../components/gateway-api]\n' \
  "$NS" >"$W/manifests/overlays/node-gateway-api/kustomization.yaml"
"$KUSTOMIZE" build "$W/manifests/overlays/node-gateway-api" >"$W/node-gateway-api.yaml"
[ "$(grep -c '^kind: Ingress$' "$W/node-gateway-api.yaml")" -eq "$(($(grep -c '^kind: Ingress$' "$W/node.yaml") - 1))" ] ||
  die "the gateway-api component did not replace the Ingress"
awk 'BEGIN { RS = "\n---\n" } /apiVersion: gateway.networking.k8s.io/ { print "---"; print }' "$W/node-gateway-api.yaml" |
  "$KUBECTL" apply --server-side -f - >/dev/null

# A pod outside the controllers' namespace, to knock on the gateway's door (the gateway's image, idle)
"$KUBECTL" apply --server-side -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: { name: probe, namespace: default, labels: { app.kubernetes.io/name: probe } }
spec:
  automountServiceAccountToken: false
  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: RuntimeDefault } }
  containers:
    - name: probe
      image: docker.io/mp3converter/gateway:dev
      imagePullPolicy: Never
      command: [node, -e, "setInterval(() => {}, 1 << 30)"]
      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
YAML

stage "waiting for every pod to be Ready"
for n in kube-system ingress-nginx default "$NS"; do
  if ! "$KUBECTL" -n "$n" wait --for=condition=Ready pods --all --timeout=300s >/dev/null; then
    diagnose
    die "not every pod in $n became Ready"
  fi
done
"$KUBECTL" get pods -A -o wide
# FerretDB's lookups from PostgreSQL indexes, as start.sh makes them, by psql in the pod, once the gateway made
# the collections (at its start, beside its readiness)
pod_psql() { "$KUBECTL" -n "$NS" exec deploy/mongodb -c postgresql -- /usr/lib/postgresql/15/bin/psql "$@"; }
for ((i = 0; i < 60; i++)); do
  PSQL=pod_psql ferretdb_pg_project_lookups "postgres://postgres@127.0.0.1:5432/ferretdb" && break
  sleep 1
done
((i < 60)) || die "no PostgreSQL indexes could be made for FerretDB (no jobs collection after 60 s)"

# --- KEDA: the operator and the metrics adapter as host processes; the adapter behind the aggregation layer ------
stage "KEDA: operator and metrics adapter, APIService v1beta1.external.metrics.k8s.io"
kd=$W/keda
mkdir -p "$kd/certs"
(
  cd "$kd/certs"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=keda-ca
  openssl req -newkey rsa:2048 -nodes -keyout tls.key -out tls.csr -subj /CN=keda
  printf 'subjectAltName=IP:127.0.0.1,IP:%s,DNS:keda-operator.keda.svc.cluster.local,DNS:keda-metrics-apiserver.keda.svc\n' "$HOST_IP" >tls.ext
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out tls.crt -days 2 -extfile tls.ext
) >/dev/null 2>&1 || die "openssl could not make KEDA's certificates"
grpc_port=$(free_port 29666) adapter_port=$(free_port 26444)
"$KUBECTL" create namespace keda >/dev/null
# A host process resolves no Service names: KEDA's RabbitMQ address is the Service's cluster IP
rabbit_ip=$("$KUBECTL" -n "$NS" get service rabbitmq -o jsonpath='{.spec.clusterIP}')
keda_url=$(sed -n 's/^host=//p' "$W/manifests/overlays/minikube/secrets/rabbitmq-keda.env")
"$KUBECTL" -n "$NS" create secret generic rabbitmq-keda --from-literal="host=${keda_url/@rabbitmq:/@$rabbit_ip:}" \
  --dry-run=client -o yaml | "$KUBECTL" apply --server-side --force-conflicts -f - >/dev/null
env POD_NAMESPACE=keda KEDA_CLUSTER_OBJECT_NAMESPACE=keda WATCH_NAMESPACE= "$KEDA_DIR/keda-operator" \
  --metrics-bind-address "127.0.0.1:$(free_port 28080)" --health-probe-bind-address "127.0.0.1:$(free_port 28081)" \
  --metrics-service-bind-address "127.0.0.1:$grpc_port" --cert-dir "$kd/certs" --enable-cert-rotation=false \
  --leader-elect=false >"$W/keda-operator.log" 2>&1 &
pids+=($!)
env POD_NAMESPACE=keda KEDA_CLUSTER_OBJECT_NAMESPACE=keda WATCH_NAMESPACE= "$KEDA_DIR/keda-adapter" \
  --secure-port "$adapter_port" --bind-address "$HOST_IP" --cert-dir "$kd/certs" \
  --tls-cert-file "$kd/certs/tls.crt" --tls-private-key-file "$kd/certs/tls.key" \
  --metrics-service-address "127.0.0.1:$grpc_port" --port "$(free_port 28082)" \
  --lister-kubeconfig "$KUBECONFIG" --authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" \
  >"$W/keda-adapter.log" 2>&1 &
pids+=($!)
"$KUBECTL" apply --server-side -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: { name: keda-metrics-apiserver, namespace: keda }
spec: { ports: [{ name: https, port: 443, targetPort: $adapter_port }] }
---
# Endpoints, not an EndpointSlice: the API server's aggregator finds an APIService's backend through the
# Endpoints API (kube-controller-manager mirrors them into a slice for kube-proxy)
apiVersion: v1
kind: Endpoints
metadata: { name: keda-metrics-apiserver, namespace: keda }
subsets: [{ addresses: [{ ip: "$HOST_IP" }], ports: [{ name: https, port: $adapter_port, protocol: TCP }] }]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: { name: v1beta1.external.metrics.k8s.io }
spec:
  service: { name: keda-metrics-apiserver, namespace: keda, port: 443 }
  group: external.metrics.k8s.io
  version: v1beta1
  caBundle: $(base64 -w0 "$kd/certs/ca.crt")
  groupPriorityMinimum: 100
  versionPriority: 100
YAML
for ((i = 0; i < 120; i++)); do
  [ "$("$KUBECTL" get apiservice v1beta1.external.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" = True ] && break
  sleep 1
done
((i < 120)) || { tail -20 "$W/keda-adapter.log" >&2; die "the external metrics API did not become available"; }
for ((i = 0; i < 60; i++)); do
  "$KUBECTL" -n "$NS" get hpa keda-hpa-converter >/dev/null 2>&1 && break
  sleep 1
done
((i < 60)) || { tail -20 "$W/keda-operator.log" >&2; die "KEDA made no HPA for the converter"; }

source "$(dirname "$0")/lib/cluster-checks.sh"
run_checks

if [ "${KEEP:-}" = 1 ]; then
  echo "KUBECONFIG=$KUBECONFIG  (Ctrl-C stops everything)"
  while true; do sleep 3600; done
fi
((failed == 0)) || die "$failed of $((passed + failed)) checks failed"
stage "all $passed checks passed"
