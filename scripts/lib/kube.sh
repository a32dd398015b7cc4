# A Kubernetes control plane (and, for scripts/cluster.sh, a node) built from the Go module proxy and run
# on loopback. Source it after common.sh; it assumes `set -euo pipefail`.
#
# Pinned versions, built once into $CACHE_DIR/bin (about 5 minutes and 3 GB of Go caches from nothing).

K8S_VERSION=v1.32.4
ETCD_VERSION=v3.5.17

go_env() { env GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" "$@"; }

# etcd's go.mod replaces its sibling modules with folders the module zip does not hold; the versions it
# requires are the right ones, so the replaces are dropped.
etcd_bin() {
  local bin="$CACHE_DIR/bin/etcd-$ETCD_VERSION" src m
  if [ -x "$bin" ]; then echo "$bin"; return; fi
  command -v go >/dev/null || die "etcd is needed and not installed: install Go (https://go.dev/dl) so it can be built"
  say "building etcd $ETCD_VERSION from the Go module proxy (once, ~1 min)"
  src=$(go_module_copy go.etcd.io/etcd/server/v3 "$ETCD_VERSION")
  for m in api/v3 client/pkg/v3 client/v2 client/v3 pkg/v3 raft/v3; do
    (cd "$src" && go mod edit -dropreplace="go.etcd.io/etcd/$m")
  done
  mkdir -p "$CACHE_DIR/bin"
  (cd "$src" && go_env nice -n 19 go build -ldflags "-s -w" -o "$bin.partial" .) >&2 || die "building etcd failed"
  mv "$bin.partial" "$bin"
  rm -rf "$src"
  echo "$bin"
}

# The kubelet would rewrite host kernel settings (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops)
# when they differ from what it wants: on a shared machine it only warns.
kubelet_patch() { # source folder
  local f="$1/pkg/kubelet/cm/container_manager_linux.go"
  grep -q '^\s*b := KernelTunableModify$' "$f" || die "the kubelet source changed: no 'b := KernelTunableModify' in $f"
  sed -i 's/^\(\s*\)b := KernelTunableModify$/\1b := KernelTunableWarn/' "$f"
}

# kube_build NAME... builds those of kube-apiserver, kube-controller-manager, kubectl and kubelet that are not
# in the cache yet, from one copy of k8s.io/kubernetes.
kube_build() {
  local missing=() n src m
  for n in "$@"; do [ -x "$CACHE_DIR/bin/$n-$K8S_VERSION" ] || missing+=("$n"); done
  ((${#missing[@]})) || return 0
  command -v go >/dev/null || die "${missing[*]} needed and not installed: install Go (https://go.dev/dl) so they can be built"
  say "building ${missing[*]} $K8S_VERSION from the Go module proxy (once, a few minutes)"
  # The checksum database does not know the k8s.io staging modules at these versions; everything else is
  # still checked against the module's own go.sum.
  export GONOSUMDB=k8s.io
  src=$(go_module_copy k8s.io/kubernetes "$K8S_VERSION")
  # The module zip has no staging/ folder (and an empty vendor/): its k8s.io/X => ./staging/src/k8s.io/X
  # replaces become requirements on the published k8s.io/X v0.32.x.
  rm -rf "$src/vendor" "$src"/go.work*
  for m in $(sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/src/.*#\1#p' "$src/go.mod"); do
    (cd "$src" && go mod edit -dropreplace="$m" -require="$m@v0.${K8S_VERSION#v1.}")
  done
  kubelet_patch "$src"
  local x=k8s.io/component-base/version minor=${K8S_VERSION#v1.}
  local ldflags="-s -w -X $x.gitVersion=$K8S_VERSION -X $x.gitMajor=1 -X $x.gitMinor=${minor%%.*} -X $x.gitTreeState=clean"
  mkdir -p "$CACHE_DIR/bin"
  for n in "${missing[@]}"; do
    (cd "$src" && go_env nice -n 19 go build -ldflags "$ldflags" -o "$CACHE_DIR/bin/$n-$K8S_VERSION.partial" "./cmd/$n") >&2 \
      || die "building $n failed"
    mv "$CACHE_DIR/bin/$n-$K8S_VERSION.partial" "$CACHE_DIR/bin/$n-$K8S_VERSION"
  done
  rm -rf "$src"
}

kube_bin() { kube_build "$1"; echo "$CACHE_DIR/bin/$1-$K8S_VERSION"; }

# kubectl of the same minor version where one is installed, else built like the server.
kubectl_bin() {
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  if command -v kubectl >/dev/null && kubectl version --client -o json 2>/dev/null | grep -q "\"gitVersion\": \"v1\.$minor\."; then
    command -v kubectl
    return
  fi
  kube_bin kubectl
}

# kube_certs DIR: a throwaway CA, the API server's serving certificate (127.0.0.1, localhost, and
# KUBE_EXTRA_SANS, e.g. IP:10.96.0.1 for pods that reach it through the `kubernetes` Service) and the
# service-account signing key pair, made with openssl.
kube_certs() {
  local d=$1
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=mp3converter-test-ca
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc%s\n' "${KUBE_EXTRA_SANS:+,$KUBE_EXTRA_SANS}" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 2 -extfile apiserver.ext
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
  ) >/dev/null 2>&1 || die "openssl could not make the control plane's certificates"
}

KUBE_PIDS=()
# more kube-apiserver flags (the aggregation layer's, for one), set before kube_start
KUBE_APISERVER_ARGS=()

# kube_start DIR -> starts etcd, kube-apiserver and kube-controller-manager on free loopback ports, with their
# data, certificates and logs in DIR, and writes DIR/kubeconfig (a system:masters token). The pids go into
# KUBE_PIDS; kube_stop ends them.
kube_start() {
  local d=$1 etcd apiserver cm
  etcd=$(etcd_bin)
  kube_build kube-apiserver kube-controller-manager
  apiserver=$CACHE_DIR/bin/kube-apiserver-$K8S_VERSION cm=$CACHE_DIR/bin/kube-controller-manager-$K8S_VERSION
  mkdir -p "$d"
  kube_certs "$d"
  local token etcd_port peer_port api_port
  token=$(openssl rand -hex 24)
  printf '%s,admin,admin,system:masters\n' "$token" >"$d/tokens.csv"
  etcd_port=$(free_port 22379) peer_port=$(free_port 22880) api_port=$(free_port 26443)

  "$etcd" --name test --data-dir "$d/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "test=http://127.0.0.1:$peer_port" >"$d/etcd.log" 2>&1 &
  KUBE_PIDS+=($!)
  wait_port 127.0.0.1 "$etcd_port" 30 etcd

  # Node,RBAC and the default admission plugins (PodSecurity among them); no privileged pods; services get
  # addresses from a range nothing routes to (no kube-proxy runs); the loopback address is not published
  # as the `kubernetes` Service's endpoint (--endpoint-reconciler-type=none).
  "$apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" --cert-dir "$d" \
    --tls-cert-file "$d/apiserver.crt" --tls-private-key-file "$d/apiserver.key" --client-ca-file "$d/ca.crt" \
    --token-auth-file "$d/tokens.csv" --authorization-mode Node,RBAC --allow-privileged=false \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$d/sa.pub" \
    --service-account-signing-key-file "$d/sa.key" --service-cluster-ip-range 10.96.0.0/24 \
    --endpoint-reconciler-type none --kubelet-preferred-address-types Hostname \
    --kubelet-client-certificate "$d/apiserver.crt" --kubelet-client-key "$d/apiserver.key" \
    "${KUBE_APISERVER_ARGS[@]}" >"$d/kube-apiserver.log" 2>&1 &
  KUBE_PIDS+=($!)

  cat >"$d/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters: [{ name: test, cluster: { server: "https://127.0.0.1:$api_port", certificate-authority: "$d/ca.crt" } }]
users: [{ name: admin, user: { token: "$token" } }]
contexts: [{ name: test, context: { cluster: test, user: admin } }]
current-context: test
KUBECONFIG
  local i
  for ((i = 0; i < 600; i++)); do
    curl -fsS --cacert "$d/ca.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1 && break
    kill -0 "${KUBE_PIDS[-1]}" 2>/dev/null || { tail -20 "$d/kube-apiserver.log" >&2; die "kube-apiserver stopped during start-up"; }
    sleep 0.1
  done
  ((i < 600)) || { tail -20 "$d/kube-apiserver.log" >&2; die "kube-apiserver was not ready within 60 s"; }

  # Creates the pods of Deployments and StatefulSets and each namespace's default ServiceAccount.
  "$cm" --kubeconfig "$d/kubeconfig" --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
    --service-account-private-key-file "$d/sa.key" --root-ca-file "$d/ca.crt" \
    --use-service-account-credentials=false >"$d/kube-controller-manager.log" 2>&1 &
  KUBE_PIDS+=($!)
}

# Ends what kube_start started (newest first) and waits for each to exit.
kube_stop() {
  local i p
  for ((i = ${#KUBE_PIDS[@]} - 1; i >= 0; i--)); do
    p=${KUBE_PIDS[$i]}
    kill -TERM "$p" 2>/dev/null || continue
    wait "$p" 2>/dev/null || true
  done
  KUBE_PIDS=()
}

# KEDA's CustomResourceDefinitions, pinned: the folder of the kedacore/keda module that holds them.
KEDA_VERSION=v2.16.1
keda_crds() {
  local dir
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir/config/crd/bases" ] || die "could not download KEDA $KEDA_VERSION's CRDs from the Go module proxy"
  echo "$dir/config/crd/bases"
}

# kube_scheduler_start DIR: the scheduler, for a control plane with a node (kube_start's DIR).
kube_scheduler_start() {
  local d=$1
  kube_build kube-scheduler
  "$CACHE_DIR/bin/kube-scheduler-$K8S_VERSION" --kubeconfig "$d/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0 >"$d/kube-scheduler.log" 2>&1 &
  KUBE_PIDS+=($!)
}
