# The cluster add-ons scripts/cluster.sh runs besides the control plane and the kubelet (kube.sh): cluster DNS,
# kube-proxy, a NetworkPolicy enforcer, an Ingress (and Gateway API) controller, KEDA, and images of the stores
# the manifests declare. Each is built once from the Go module proxy or Debian's packages and cached under
# $CACHE_DIR, keyed by its version. Source it after common.sh and kube.sh; it assumes `set -euo pipefail`.
#
# The module proxy here serves a fixed set of versions: these are the ones it has.
COREDNS_VERSION=v1.12.1
KUBE_ROUTER_VERSION=v2.1.0
TRAEFIK_VERSION=v3.7.13
# The Debian store images are rebuilt when their recipe (this file's functions) changes: bump to force it.
STORE_IMAGE_VERSION=1

# go_addon_build BIN SRC PKG [LDFLAGS] -> builds SRC's package PKG into BIN, at the lowest priority (the machine
# is shared).
go_addon_build() {
  local bin=$1 src=$2 pkg=$3 ldflags=${4:-}
  mkdir -p "$(dirname "$bin")"
  say "building ${bin#"$CACHE_DIR/bin/"} (once)"
  (cd "$src" && go_env nice -n 19 go build -ldflags "-s -w $ldflags" -o "$bin.partial" "$pkg") >&2 || die "building $bin failed"
  mv "$bin.partial" "$bin"
}

need_go() { command -v go >/dev/null || die "$1 is needed and not built yet: install Go (https://go.dev/dl) so it can be built"; }

coredns_bin() {
  local bin="$CACHE_DIR/bin/coredns-$COREDNS_VERSION" src
  [ -x "$bin" ] || {
    need_go CoreDNS
    src=$(go_module_copy github.com/coredns/coredns "$COREDNS_VERSION")
    go_addon_build "$bin" "$src" .
    rm -rf "$src"
  }
  echo "$bin"
}

# kube-proxy comes from the same k8s.io/kubernetes copy as the kubelet (kube_build).
kube_proxy_bin() { kube_bin kube-proxy; }

kube_router_bin() {
  local bin="$CACHE_DIR/bin/kube-router-$KUBE_ROUTER_VERSION" src
  [ -x "$bin" ] || {
    need_go kube-router
    src=$(go_module_copy github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION")
    go_addon_build "$bin" "$src" ./cmd/kube-router \
      "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION"
    rm -rf "$src"
  }
  echo "$bin"
}

# KEDA's operator and metrics adapter, from one copy: prints the folder holding keda-operator and keda-adapter.
keda_bins() {
  local dir="$CACHE_DIR/bin/keda-$KEDA_VERSION" src n
  if [ ! -x "$dir/keda-operator" ] || [ ! -x "$dir/keda-adapter" ]; then
    need_go KEDA
    src=$(go_module_copy github.com/kedacore/keda/v2 "$KEDA_VERSION")
    mkdir -p "$dir"
    for n in operator adapter; do
      [ -x "$dir/keda-$n" ] && continue
      go_addon_build "$dir/keda-$n" "$src" "./cmd/$n" "-X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION"
    done
    rm -rf "$src"
  fi
  echo "$dir"
}

# Traefik reads the project's Ingress as ingress-nginx would (its kubernetesIngressNGINX provider) and serves the
# Gateway API too. Its module builds here after three local changes:
#   - the fork its go.mod puts in place of github.com/abbot/go-http-auth, at a version the proxy serves;
#   - go-acme/lego/v5 without the DNS providers whose SDKs the proxy refuses (Traefik then lacks those ACME
#     DNS challenges, which nothing here uses);
#   - the nested module github.com/traefik/traefik/dynamic/ext (pkg/config/dynamic/ext), which the module zip
#     leaves out: two empty types, the extension point for plugins' dynamic configuration.
TRAEFIK_LEGO_DROPPED='edgedns|huaweicloud|oraclecloud|sakuracloud|ucloud|yandexcloud'
traefik_bin() {
  local bin="$CACHE_DIR/bin/traefik-$TRAEFIK_VERSION" src lego p
  [ -x "$bin" ] && { echo "$bin"; return; }
  need_go Traefik
  src=$(go_module_copy github.com/traefik/traefik/v3 "$TRAEFIK_VERSION")
  lego=$(go_module_copy github.com/go-acme/lego/v5 v5.4.1)
  rm -rf "$lego/cmd" "$lego/main.go" "$lego/e2e"
  for p in ${TRAEFIK_LEGO_DROPPED//|/ }; do rm -rf "$lego/providers/dns/$p"; done
  sed -i -E "/providers\/dns\/($TRAEFIK_LEGO_DROPPED)\"\$/d; /^\tcase \"($TRAEFIK_LEGO_DROPPED)\"/,+1d" "$lego/providers/dns/zz_gen_dns_providers.go"
  mkdir -p "$src/pkg/config/dynamic/ext"
  printf 'module github.com/traefik/traefik/dynamic/ext\n\ngo 1.24\n' >"$src/pkg/config/dynamic/ext/go.mod"
  cat >"$src/pkg/config/dynamic/ext/ext.go" <<'GO'
// Package ext holds the extension points of the dynamic configuration; this build has none.
package ext

// HTTP extends the HTTP configuration.
type HTTP struct{}

// DeepCopyInto copies nothing: the type is empty.
func (in *HTTP) DeepCopyInto(out *HTTP) {}

// Router extends an HTTP router.
type Router struct{}

// DeepCopyInto copies nothing: the type is empty.
func (in *Router) DeepCopyInto(out *Router) {}
GO
  (cd "$src" && go mod edit -replace "github.com/abbot/go-http-auth=github.com/containous/go-http-auth@v0.4.1-0.20200324110947-a37a7636d23e" \
    -replace "github.com/go-acme/lego/v5=$lego")
  go_addon_build "$bin" "$src" ./cmd/traefik "-X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION"
  rm -rf "$src" "$lego"
  echo "$bin"
}

# --- store images from Debian's packages ----------------------------------------------------------------------
# A Debian bookworm base (debootstrap, minbase), made once: no registry can be reached here.
DEBIAN_BASE=localhost/mp3converter/debian:bookworm
debian_base_image() {
  podman image exists "$DEBIAN_BASE" 2>/dev/null && return
  command -v debootstrap >/dev/null || apt_install debootstrap
  local work
  work=$(mktemp -d)
  say "making a Debian bookworm base image (once, ~1 min)"
  debootstrap --variant=minbase bookworm "$work/root" http://deb.debian.org/debian >"$work/log" 2>&1 \
    || { tail -20 "$work/log" >&2; rm -rf "$work"; die "debootstrap failed"; }
  chroot "$work/root" /bin/sh -c 'apt-get clean && rm -rf /var/lib/apt/lists/*'
  tar -C "$work/root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$DEBIAN_BASE" >/dev/null
  rm -rf "$work"
}

# store_image NAME -> builds mp3converter/NAME:debian from the recipe store_recipe_NAME prints (a Containerfile
# whose context holds the files store_files_NAME writes), unless this version of it is in the cache.
store_image() {
  local name=$1 tag="localhost/mp3converter/$1:debian" key ctx
  key=$( { declare -f "store_recipe_$name" "store_files_$name"; echo "$STORE_IMAGE_VERSION"; } | sha256sum | cut -c1-16)
  mkdir -p "$CACHE_DIR/images"
  if podman image exists "$tag" 2>/dev/null && [ "$(cat "$CACHE_DIR/images/$name-debian" 2>/dev/null)" = "$key" ]; then
    echo "$tag"; return
  fi
  debian_base_image
  say "building the $name image from Debian's packages"
  ctx=$(mktemp -d)
  "store_files_$name" "$ctx"
  "store_recipe_$name" >"$ctx/Containerfile"
  buildah bud --isolation=chroot --pull=never -q -t "$tag" "$ctx" >"$ctx/build.log" 2>&1 \
    || { tail -30 "$ctx/build.log" >&2; rm -rf "$ctx"; die "building the $name image failed"; }
  rm -rf "$ctx"
  echo "$key" >"$CACHE_DIR/images/$name-debian"
  echo "$tag"
}

# MariaDB 10.11, as uid 999, with an entrypoint that honours what the official MySQL image's does on first start
# (MYSQL_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD), and a read-only root (data in
# /var/lib/mysql, socket in /var/run/mysqld, temporary files in /tmp).
store_recipe_mariadb() {
  cat <<'EOF'
FROM localhost/mp3converter/debian:bookworm
RUN groupadd --system --gid 999 mysql && useradd --system --uid 999 --gid 999 --home-dir /var/lib/mysql --no-create-home mysql \
 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/lib/mysql/* && mkdir -p /var/run/mysqld && chown mysql:mysql /var/lib/mysql /var/run/mysqld
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
USER 999:999
EXPOSE 3306
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
EOF
}
store_files_mariadb() {
  cat >"$1/entrypoint.sh" <<'EOF'
#!/bin/sh
# First start: a data directory, the root password, the database and its user from the environment.
set -eu
data=/var/lib/mysql
sql_str() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g; s/\\\\/\\\\\\\\/g")"; }
if [ ! -d "$data/mysql" ]; then
  : "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD is required on first start}"
  mariadb-install-db --datadir="$data" --auth-root-authentication-method=normal --skip-test-db >/dev/null
  mariadbd --datadir="$data" --skip-networking --socket=/tmp/init.sock &
  pid=$!
  i=0
  until mariadb-admin --socket=/tmp/init.sock -uroot ping >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt 300 ] || { echo "mariadbd did not start" >&2; exit 1; }; sleep 0.1
  done
  {
    echo "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_str "$MYSQL_ROOT_PASSWORD");"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_str "$MYSQL_ROOT_PASSWORD");"
    if [ -n "${MYSQL_DATABASE:-}" ]; then echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"; fi
    if [ -n "${MYSQL_USER:-}" ]; then
      echo "CREATE USER $(sql_str "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_str "${MYSQL_PASSWORD:?MYSQL_PASSWORD goes with MYSQL_USER}");"
      if [ -n "${MYSQL_DATABASE:-}" ]; then echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(sql_str "$MYSQL_USER")@'%';"; fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket=/tmp/init.sock -uroot
  mariadb-admin --socket=/tmp/init.sock -uroot -p"$MYSQL_ROOT_PASSWORD" shutdown
  wait "$pid" || true
fi
exec mariadbd --datadir="$data" --bind-address=0.0.0.0 --port=3306 --socket=/var/run/mysqld/mysqld.sock \
  --skip-name-resolve --log-error= "$@"
EOF
  chmod 0755 "$1/entrypoint.sh"
}

# RabbitMQ 3.10 with its management plugin, as uid 999: the configuration from /etc/rabbitmq/conf.d (the
# manifests mount theirs there, with load_definitions pointing at the definitions Secret), logs to stdout.
store_recipe_rabbitmq() {
  cat <<'EOF'
FROM localhost/mp3converter/debian:bookworm
RUN groupadd --system --gid 999 rabbitmq && useradd --system --uid 999 --gid 999 --home-dir /var/lib/rabbitmq --no-create-home rabbitmq \
 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/lib/rabbitmq/* /etc/rabbitmq/rabbitmq-env.conf \
 && mkdir -p /etc/rabbitmq/conf.d && printf '[rabbitmq_management].\n' >/etc/rabbitmq/enabled_plugins \
 && chown rabbitmq:rabbitmq /var/lib/rabbitmq
ENV HOME=/var/lib/rabbitmq PATH=/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RABBITMQ_LOGS=- RABBITMQ_UPGRADE_LOG=- RABBITMQ_CONFIG_FILES=/etc/rabbitmq/conf.d RABBITMQ_ENABLED_PLUGINS_FILE=/etc/rabbitmq/enabled_plugins
USER 999:999
EXPOSE 5672 15672
CMD ["rabbitmq-server"]
EOF
}
store_files_rabbitmq() { :; }

# PostgreSQL 15, as uid 999, for the FerretDB pod: honours the official image's PGDATA and POSTGRES_DB on first
# start; no password (it listens only on the pod's loopback, for FerretDB beside it); settings as arguments
# (`-c name=value`); a read-only root (data in PGDATA, the socket in /tmp).
store_recipe_postgresql() {
  cat <<'EOF'
FROM localhost/mp3converter/debian:bookworm
RUN groupadd --system --gid 999 postgres && useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql --no-create-home postgres \
 && mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf \
 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY entrypoint.sh /usr/local/bin/entrypoint.sh
USER 999:999
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
EOF
}
store_files_postgresql() {
  cat >"$1/entrypoint.sh" <<'EOF'
#!/bin/sh
# First start: a cluster in PGDATA and the database POSTGRES_DB. Then the server, on the pod's loopback only.
set -eu
bin=/usr/lib/postgresql/15/bin
export PGDATA="${PGDATA:-/var/lib/postgresql/data/pgdata}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "$bin/initdb" --username=postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
  "$bin/pg_ctl" --wait --silent -o "-c listen_addresses= -c unix_socket_directories=/tmp" start
  [ -z "${POSTGRES_DB:-}" ] || "$bin/createdb" --host=/tmp --username=postgres "$POSTGRES_DB"
  "$bin/pg_ctl" --wait --silent stop
fi
exec "$bin/postgres" -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp "$@"
EOF
  chmod 0755 "$1/entrypoint.sh"
}

# binary_image NAME VERSION BIN -> an image localhost/mp3converter/NAME:VERSION holding BIN as /usr/local/bin/NAME on
# the Debian base (the binaries link against its C library), made once.
binary_image() {
  local tag="localhost/mp3converter/$1:$2" c
  podman image exists "$tag" 2>/dev/null || {
    debian_base_image
    c=$(buildah from --pull=never "$DEBIAN_BASE")
    buildah copy "$c" "$3" "/usr/local/bin/$1" >/dev/null
    buildah config --entrypoint "[\"/usr/local/bin/$1\"]" --cmd '[]' --user 65532:65532 "$c"
    buildah commit -q "$c" "$tag" >/dev/null
    buildah rm "$c" >/dev/null
  }
  echo "$tag"
}

# The Gateway API's standard-channel CRDs, at the version Traefik is built against: prints a folder of them.
GATEWAY_API_VERSION=v1.6.1
gateway_api_crds() {
  local dir out="$CACHE_DIR/gateway-api-$GATEWAY_API_VERSION"
  if [ ! -d "$out" ]; then
    dir=$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    [ -n "$dir" ] && [ -d "$dir/config/crd/standard" ] || die "could not download the Gateway API $GATEWAY_API_VERSION CRDs"
    mkdir -p "$out.partial"
    # the CRDs only (not the ValidatingAdmissionPolicy that guards upgrades)
    cp "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$out.partial/"
    rm -f "$out.partial"/*vap*
    mv "$out.partial" "$out"
  fi
  echo "$out"
}
