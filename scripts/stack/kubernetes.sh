# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# A real single-node Kubernetes (v1.37.2, built from the Go module proxy by kubernetes-build.sh)
# beside the Docker stack: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a kubelet
# on a containerd of its own (Debian's containerd and runc, CRI plugin), and kube-proxy (iptables).
# Opt out with STACK_SKIP_KUBERNETES=1 on a machine that cannot run it.
#
# Traffic stays on this machine: the node's address, the pods and the services live in the
# reserved benchmarking range 198.18.0.0/15 (pods 198.18.0.0/24 behind the bridge nmk8s0,
# services 198.19.0.0/24 routed to that bridge), never 10/8, 172.16/12 or 192.168/16. The pods
# reach the stack's PostgreSQL at the bridge's own address (a socat relay to 127.0.0.1).
#
# Facts of this kind of VM the settings answer: no CAP_SYS_RESOURCE (containerd
# restrict_oom_score_adj), cgroup v1 (cgroupfs driver, failCgroupV1: false), no registry.k8s.io
# (the pause image is built here). The kubelet changes three sysctls at start; stop puts back the
# values it found. State: .stack/kubernetes (certificates, etcd, kubeconfigs, storage) and
# $SHORT_DIR/k8s (sockets, the kubelet's root, containerd's state).

. "$STACK_SCRIPTS/kubernetes-build.sh"

KUBE_DIR="$STACK_DIR/kubernetes"
KUBE_PKI="$KUBE_DIR/pki"
KUBE_RUN="$SHORT_DIR/k8s"
KUBE_BRIDGE=nmk8s0
KUBE_NODE_IP=198.18.0.1
KUBE_POD_CIDR=198.18.0.0/24
KUBE_SERVICE_CIDR=198.19.0.0/24
KUBE_NODE_NAME=nocobase-maintenance-node
KUBE_ADMIN_KUBECONFIG="$KUBE_DIR/admin.kubeconfig"
KUBE_WORKER_KUBECONFIG="$KUBE_DIR/worker.kubeconfig"
KUBE_CONTAINERD_SOCK="$KUBE_RUN/containerd.sock"
KUBE_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)
KUBE_NAMESPACE=nocobase
KUBE_PG_PORT=5432
KUBE_APP_SERVICE_IP=198.19.0.80
KUBE_DB_NAME=nocobase_k8s
KUBE_STORAGE_DIR="$KUBE_DIR/storage/nocobase"
KUBE_PROCESSES=(kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd containerd kube-pg-relay)

kubernetes_enabled() { [ "${STACK_SKIP_KUBERNETES:-0}" != 1 ]; }

kubernetes_packages() {
  kubernetes_enabled || return 0
  need_command containerd containerd
  need_command runc runc
  need_command /usr/lib/cni/bridge containernetworking-plugins
  need_command socat socat
  need_command iptables iptables
  need_command envsubst gettext-base
  kubernetes_built || need_command go golang-go
}

kubectl_admin() { "$(kubernetes_bin_dir)/kubectl" --kubeconfig "$KUBE_ADMIN_KUBECONFIG" "$@"; }

# ------------------------------------------------------------ certificates

# kube_cert <name> <subject> [extensions]: a key and a certificate signed by the cluster's CA.
kube_cert() {
  local name="$1" subject="$2" ext="${3:-extendedKeyUsage=clientAuth}" conf
  [ -s "$KUBE_PKI/$name.crt" ] && return 0
  conf="$(mktemp)"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%s\n' "$ext" >"$conf"
  openssl req -newkey rsa:2048 -nodes -subj "$subject" -keyout "$KUBE_PKI/$name.key" -out "$KUBE_PKI/$name.csr" >>"$LOG_DIR/kubernetes.log" 2>&1 &&
    openssl x509 -req -in "$KUBE_PKI/$name.csr" -CA "$KUBE_PKI/ca.crt" -CAkey "$KUBE_PKI/ca.key" -CAcreateserial -days 3650 -sha256 \
      -extfile "$conf" -out "$KUBE_PKI/$name.crt" >>"$LOG_DIR/kubernetes.log" 2>&1 || fail kubernetes "openssl could not make the $name certificate"
  rm -f "$conf" "$KUBE_PKI/$name.csr"
  chmod 600 "$KUBE_PKI/$name.key"
}

kube_kubeconfig() { # kube_kubeconfig <file> <user> <cert name>
  write_text "$1" "apiVersion: v1
kind: Config
clusters:
  - name: nocobase-maintenance-stack
    cluster:
      server: https://127.0.0.1:$KUBE_API_PORT
      certificate-authority-data: $(base64 -w0 "$KUBE_PKI/ca.crt")
users:
  - name: $2
    user:
      client-certificate-data: $(base64 -w0 "$KUBE_PKI/$3.crt")
      client-key-data: $(base64 -w0 "$KUBE_PKI/$3.key")
contexts:
  - name: stack
    context: {cluster: nocobase-maintenance-stack, user: $2}
current-context: stack
" 600 || true
}

kubernetes_pki() {
  (umask 077 && mkdir -p "$KUBE_PKI")
  if [ ! -s "$KUBE_PKI/ca.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj '/CN=nocobase-maintenance stack kubernetes CA' \
      -keyout "$KUBE_PKI/ca.key" -out "$KUBE_PKI/ca.crt" >>"$LOG_DIR/kubernetes.log" 2>&1 || fail kubernetes "openssl could not make the cluster CA"
  fi
  if [ ! -s "$KUBE_PKI/sa.key" ]; then
    openssl genrsa -out "$KUBE_PKI/sa.key" 2048 >>"$LOG_DIR/kubernetes.log" 2>&1 &&
      openssl rsa -in "$KUBE_PKI/sa.key" -pubout -out "$KUBE_PKI/sa.pub" >>"$LOG_DIR/kubernetes.log" 2>&1 || fail kubernetes "openssl could not make the service-account key"
  fi
  kube_cert apiserver '/CN=kube-apiserver' \
    "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$KUBE_NODE_IP,IP:198.19.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:localhost"
  kube_cert admin '/O=system:masters/CN=nocobase-maintenance-stack-admin'
  kube_cert apiserver-kubelet-client '/O=system:masters/CN=kube-apiserver-kubelet-client'
  kube_cert controller-manager '/CN=system:kube-controller-manager'
  kube_cert scheduler '/CN=system:kube-scheduler'
  kube_cert kube-proxy '/CN=system:kube-proxy'
  kube_cert kubelet "/O=system:nodes/CN=system:node:$KUBE_NODE_NAME"
  kube_kubeconfig "$KUBE_ADMIN_KUBECONFIG" admin admin
  kube_kubeconfig "$KUBE_DIR/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
  kube_kubeconfig "$KUBE_DIR/scheduler.kubeconfig" system:kube-scheduler scheduler
  kube_kubeconfig "$KUBE_DIR/kube-proxy.kubeconfig" system:kube-proxy kube-proxy
  kube_kubeconfig "$KUBE_DIR/kubelet.kubeconfig" "system:node:$KUBE_NODE_NAME" kubelet
}

# ------------------------------------------------------------------ network

# The node's address is the bridge's own: it exists before the kubelet starts (which refuses a
# loopback node IP), and the service range is routed to it so that a service address never leaves
# the machine, even before kube-proxy wrote its rules.
kubernetes_network() {
  ip link show "$KUBE_BRIDGE" >/dev/null 2>&1 || ip link add "$KUBE_BRIDGE" type bridge || fail kubernetes "cannot create the bridge $KUBE_BRIDGE"
  ip -4 addr show dev "$KUBE_BRIDGE" | grep -q "inet $KUBE_NODE_IP/" || ip addr add "$KUBE_NODE_IP/24" dev "$KUBE_BRIDGE"
  ip link set "$KUBE_BRIDGE" up
  ip route replace "$KUBE_SERVICE_CIDR" dev "$KUBE_BRIDGE" src "$KUBE_NODE_IP"
  mkdir -p "$KUBE_DIR/cni/net.d" "$KUBE_DIR/cni/ipam"
  write_text "$KUBE_DIR/cni/net.d/10-nocobase-maintenance.conflist" "{
  \"cniVersion\": \"1.0.0\",
  \"name\": \"nocobase-maintenance\",
  \"plugins\": [
    {
      \"type\": \"bridge\",
      \"bridge\": \"$KUBE_BRIDGE\",
      \"isGateway\": true,
      \"ipMasq\": false,
      \"hairpinMode\": true,
      \"ipam\": {
        \"type\": \"host-local\",
        \"dataDir\": \"$KUBE_DIR/cni/ipam\",
        \"ranges\": [[{ \"subnet\": \"$KUBE_POD_CIDR\", \"gateway\": \"$KUBE_NODE_IP\", \"rangeStart\": \"198.18.0.10\" }]]
      }
    }
  ]
}
" || true
}

# ---------------------------------------------------------------- processes

kube_spawn() { # kube_spawn <name> <marker> <healthy command> <seconds> <command...>
  local name="$1" marker="$2" healthy="$3" seconds="$4" pid
  shift 4
  if pid="$(live_pid "$name" "$marker")"; then
    wait_for "$seconds" $healthy || fail kubernetes "$name (pid $pid) is running but not healthy"
    return 0
  fi
  spawn "$name" "$@"
  echo "$SPAWNED_PID" >"$(pid_file "$name")"
  wait_spawned "$name" "$SPAWNED_PID" "$seconds" $healthy
}

kube_healthz() { # kube_healthz <port>: a component's /healthz over TLS (self-signed)
  curl -fsSk --max-time 3 "https://127.0.0.1:$1/healthz" >/dev/null
}
kube_apiserver_ready() { curl -fsS --max-time 3 --cacert "$KUBE_PKI/ca.crt" --cert "$KUBE_PKI/admin.crt" --key "$KUBE_PKI/admin.key" "https://127.0.0.1:$KUBE_API_PORT/readyz" >/dev/null; }
kube_containerd_ready() { [ -S "$KUBE_CONTAINERD_SOCK" ] && ctr --address "$KUBE_CONTAINERD_SOCK" version >/dev/null 2>&1; }
kube_etcd_ready() { curl -fsS --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
kube_kubelet_ready() { curl -fsS --max-time 3 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" >/dev/null; }
kube_proxy_ready() { curl -fsS --max-time 3 "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz" >/dev/null; }
kube_node_ready() { kubectl_admin get node "$KUBE_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; }
kube_pg_relay_ready() { timeout 1 bash -c "exec 3<>/dev/tcp/$KUBE_NODE_IP/$KUBE_PG_PORT" 2>/dev/null; }

kubernetes_containerd() {
  mkdir -p "$KUBE_DIR/containerd/root" "$KUBE_DIR/containerd/certs.d/127.0.0.1:$REGISTRY_PORT" "$KUBE_RUN/containerd-state"
  write_text "$KUBE_DIR/containerd/certs.d/127.0.0.1:$REGISTRY_PORT/hosts.toml" "server = \"http://127.0.0.1:$REGISTRY_PORT\"
[host.\"http://127.0.0.1:$REGISTRY_PORT\"]
  capabilities = [\"pull\", \"resolve\"]
" || true
  write_text "$KUBE_DIR/containerd/config.toml" "version = 2
root = \"$KUBE_DIR/containerd/root\"
state = \"$KUBE_RUN/containerd-state\"
disabled_plugins = [\"io.containerd.internal.v1.tracing\"]
[grpc]
  address = \"$KUBE_CONTAINERD_SOCK\"
[ttrpc]
  address = \"$KUBE_CONTAINERD_SOCK.ttrpc\"
[plugins.\"io.containerd.internal.v1.opt\"]
  path = \"$KUBE_DIR/containerd/opt\"
[plugins.\"io.containerd.grpc.v1.cri\"]
  sandbox_image = \"$(kube_image_ref KUBE_PAUSE_IMAGE)\"
  # This VM lacks CAP_SYS_RESOURCE: pod sandboxes fail on oom_score_adj without it.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins.\"io.containerd.grpc.v1.cri\".containerd]
    snapshotter = \"overlayfs\"
    default_runtime_name = \"runc\"
    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]
      runtime_type = \"io.containerd.runc.v2\"
      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins.\"io.containerd.grpc.v1.cri\".cni]
    bin_dir = \"/usr/lib/cni\"
    conf_dir = \"$KUBE_DIR/cni/net.d\"
  [plugins.\"io.containerd.grpc.v1.cri\".registry]
    config_path = \"$KUBE_DIR/containerd/certs.d\"
" || true
  kube_spawn containerd "$KUBE_DIR/containerd/config.toml" kube_containerd_ready 60 containerd --config "$KUBE_DIR/containerd/config.toml"
}

kubernetes_control_plane() {
  local bin
  bin="$(kubernetes_bin_dir)"
  mkdir -p "$KUBE_DIR/etcd"
  kube_spawn etcd "$KUBE_DIR/etcd" kube_etcd_ready 60 "$bin/etcd" --name stack --data-dir "$KUBE_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "stack=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls '' --log-level warn
  kube_spawn kube-apiserver "$KUBE_PKI/apiserver.crt" kube_apiserver_ready 120 "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" --bind-address 127.0.0.1 --secure-port "$KUBE_API_PORT" \
    --advertise-address "$KUBE_NODE_IP" --service-cluster-ip-range "$KUBE_SERVICE_CIDR" \
    --tls-cert-file "$KUBE_PKI/apiserver.crt" --tls-private-key-file "$KUBE_PKI/apiserver.key" --client-ca-file "$KUBE_PKI/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$KUBE_PKI/sa.pub" \
    --service-account-signing-key-file "$KUBE_PKI/sa.key" --authorization-mode Node,RBAC \
    --kubelet-client-certificate "$KUBE_PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$KUBE_PKI/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP --allow-privileged=false --profiling=false --v=1
  kube_spawn kube-controller-manager "$KUBE_DIR/controller-manager.kubeconfig" "kube_healthz $KUBE_CM_PORT" 60 "$bin/kube-controller-manager" \
    --kubeconfig "$KUBE_DIR/controller-manager.kubeconfig" --authentication-kubeconfig "$KUBE_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$KUBE_DIR/controller-manager.kubeconfig" --bind-address 127.0.0.1 --secure-port "$KUBE_CM_PORT" \
    --service-account-private-key-file "$KUBE_PKI/sa.key" --root-ca-file "$KUBE_PKI/ca.crt" --use-service-account-credentials \
    --service-cluster-ip-range "$KUBE_SERVICE_CIDR" --cluster-cidr "$KUBE_POD_CIDR" --allocate-node-cidrs=false --profiling=false
  kube_spawn kube-scheduler "$KUBE_DIR/scheduler.kubeconfig" "kube_healthz $KUBE_SCHED_PORT" 60 "$bin/kube-scheduler" \
    --kubeconfig "$KUBE_DIR/scheduler.kubeconfig" --authentication-kubeconfig "$KUBE_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig "$KUBE_DIR/scheduler.kubeconfig" --bind-address 127.0.0.1 --secure-port "$KUBE_SCHED_PORT" --profiling=false
}

kubernetes_node() {
  local bin name
  bin="$(kubernetes_bin_dir)"
  # The kubelet changes these at start; down puts back what was there before the first start.
  if [ ! -s "$KUBE_DIR/sysctl.before" ]; then
    for name in "${KUBE_SYSCTLS[@]}"; do printf '%s=%s\n' "$name" "$(sysctl -n "$name")"; done >"$KUBE_DIR/sysctl.before"
  fi
  mkdir -p "$KUBE_RUN/kubelet"
  write_text "$KUBE_DIR/kubelet.yaml" "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $KUBE_NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $KUBE_PKI/ca.crt}
authorization: {mode: AlwaysAllow}
# cgroup v1 on this kind of VM
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://$KUBE_CONTAINERD_SOCK
podCIDR: $KUBE_POD_CIDR
failSwapOn: false
serializeImagePulls: false
maxPods: 40
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
" || true
  kube_spawn kubelet "$KUBE_DIR/kubelet.yaml" kube_kubelet_ready 90 "$bin/kubelet" --config "$KUBE_DIR/kubelet.yaml" \
    --kubeconfig "$KUBE_DIR/kubelet.kubeconfig" --hostname-override "$KUBE_NODE_NAME" --node-ip "$KUBE_NODE_IP" \
    --root-dir "$KUBE_RUN/kubelet" --v=1
  write_text "$KUBE_DIR/kube-proxy.yaml" "apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBE_DIR/kube-proxy.kubeconfig}
mode: iptables
hostnameOverride: $KUBE_NODE_NAME
clusterCIDR: $KUBE_POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
nodePortAddresses: [$KUBE_NODE_IP/32]
iptables: {localhostNodePorts: false}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
" || true
  kube_spawn kube-proxy "$KUBE_DIR/kube-proxy.yaml" kube_proxy_ready 60 "$bin/kube-proxy" --config "$KUBE_DIR/kube-proxy.yaml"
  wait_for 90 kube_node_ready || fail kubernetes "node $KUBE_NODE_NAME did not become Ready"
}

# The pods reach PostgreSQL at the node's address; the stack's PostgreSQL listens on loopback.
kubernetes_pg_relay() {
  kube_spawn kube-pg-relay "TCP-LISTEN:$KUBE_PG_PORT,bind=$KUBE_NODE_IP" kube_pg_relay_ready 20 \
    socat "TCP-LISTEN:$KUBE_PG_PORT,bind=$KUBE_NODE_IP,reuseaddr,fork" "TCP:127.0.0.1:$PG_PORT"
}

kube_image_ref() { sed -n "s/^$1=//p" "$KUBE_DIR/images.env" 2>/dev/null | tail -n 1; }

# The pause image and the maintenance page's image, built by the stack's Docker and pushed to its
# registry (kubernetes/images.ts); the pause binary is a few lines of Go, cached by content hash.
kubernetes_images() {
  local pause_dir pause_hash
  pause_hash="$( { cat "$STACK_SCRIPTS/kubernetes/pause/go.mod" "$STACK_SCRIPTS/kubernetes/pause/main.go"; go env GOVERSION; } | sha256sum | cut -c1-16)"
  pause_dir="$CACHE_DIR/kubernetes/pause-$pause_hash"
  if [ ! -x "$pause_dir/pause" ]; then
    mkdir -p "$pause_dir"
    (cd "$STACK_SCRIPTS/kubernetes/pause" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$pause_dir/pause.tmp" .) >>"$LOG_DIR/kubernetes.log" 2>&1 ||
      fail kubernetes "go build of the pause binary failed"
    mv "$pause_dir/pause.tmp" "$pause_dir/pause"
  fi
  DOCKER_HOST="$STACK_DOCKER_HOST" REGISTRY="127.0.0.1:$REGISTRY_PORT" KUBE_PAUSE_BINARY="$pause_dir/pause" \
    "$REPO_ROOT/node_modules/.bin/tsx" "$STACK_SCRIPTS/kubernetes/images.ts" >"$KUBE_DIR/images.env.tmp" 2>>"$LOG_DIR/kubernetes.log" ||
    fail kubernetes "building the pause and maintenance page images failed"
  mv "$KUBE_DIR/images.env.tmp" "$KUBE_DIR/images.env"
}

kubernetes_start() {
  kubernetes_enabled || { log "kubernetes skipped (STACK_SKIP_KUBERNETES=1)"; return 0; }
  mkdir -p "$KUBE_DIR" "$KUBE_RUN"
  echo "--- $(date)" >>"$LOG_DIR/kubernetes.log"
  kubernetes_build
  kubernetes_pki
  kubernetes_network
  kubernetes_images
  kubernetes_containerd
  kubernetes_control_plane
  kubernetes_node
  kubernetes_pg_relay
  log "kubernetes running: API https://127.0.0.1:$KUBE_API_PORT (kubeconfig $KUBE_ADMIN_KUBECONFIG), node $KUBE_NODE_NAME at $KUBE_NODE_IP"
}

# ------------------------------------------------------- NocoBase on it

kube_render() { # kube_render <template>: ${NAMES} filled from this script's variables
  KUBE_NODE_IP="$KUBE_NODE_IP" KUBE_PG_PORT="$KUBE_PG_PORT" KUBE_DB_NAME="$KUBE_DB_NAME" KUBE_DB_USER="$DEMO_DB_USER" \
    KUBE_DB_PASSWORD="$(cat "$DEMO_DB_PASSWORD_FILE")" KUBE_ROOT_EMAIL="$DEMO_ROOT_EMAIL" KUBE_ROOT_PASSWORD="$DEMO_ROOT_PASSWORD" \
    KUBE_NAMESPACE="$KUBE_NAMESPACE" KUBE_STORAGE_DIR="$KUBE_STORAGE_DIR" KUBE_APP_REPLICAS="$KUBE_APP_REPLICAS" \
    KUBE_WORKER_REPLICAS="$KUBE_WORKER_REPLICAS" KUBE_NOCOBASE_IMAGE="$KUBE_NOCOBASE_IMAGE" KUBE_APP_SERVICE_IP="$KUBE_APP_SERVICE_IP" \
    MAINTENANCE_PAGE_IMAGE="$(kube_image_ref KUBE_MAINTENANCE_PAGE_IMAGE)" \
    envsubst '${KUBE_NODE_IP} ${KUBE_PG_PORT} ${KUBE_DB_NAME} ${KUBE_DB_USER} ${KUBE_DB_PASSWORD} ${KUBE_ROOT_EMAIL} ${KUBE_ROOT_PASSWORD} ${KUBE_NAMESPACE} ${KUBE_STORAGE_DIR} ${KUBE_APP_REPLICAS} ${KUBE_WORKER_REPLICAS} ${KUBE_NOCOBASE_IMAGE} ${KUBE_APP_SERVICE_IP} ${MAINTENANCE_PAGE_IMAGE}' <"$1"
}

kube_replicas() { kubectl_admin -n "$KUBE_NAMESPACE" get deployment "$1" -o jsonpath='{.spec.replicas}' 2>/dev/null; }
kube_image() { kubectl_admin -n "$KUBE_NAMESPACE" get deployment "$1" -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null; }

kube_worker_token() {
  local token
  token="$(kubectl_admin -n "$KUBE_NAMESPACE" get secret nocobase-maintenance-token -o jsonpath='{.data.token}' 2>/dev/null)" &&
    [ -n "$token" ] && printf '%s' "$token" | base64 -d
}

# The worker's login: the ServiceAccount of deploy/kubernetes/rbac.yaml and nothing more, through
# a token Secret the token controller fills.
kube_worker_kubeconfig() {
  local token
  printf '%s\n' 'apiVersion: v1' 'kind: Secret' 'metadata:' '  name: nocobase-maintenance-token' '  annotations:' \
    '    kubernetes.io/service-account.name: nocobase-maintenance' 'type: kubernetes.io/service-account-token' |
    kubectl_admin -n "$KUBE_NAMESPACE" apply -f - >>"$LOG_DIR/kubernetes.log" 2>&1 || fail kubernetes "cannot create the worker's token Secret"
  wait_for 30 kube_worker_token || fail kubernetes "the token controller did not fill nocobase-maintenance-token"
  token="$(kube_worker_token)"
  write_text "$KUBE_WORKER_KUBECONFIG" "apiVersion: v1
kind: Config
clusters:
  - name: nocobase-maintenance-stack
    cluster:
      server: https://127.0.0.1:$KUBE_API_PORT
      certificate-authority-data: $(base64 -w0 "$KUBE_PKI/ca.crt")
users:
  - name: nocobase-maintenance
    user:
      token: $token
contexts:
  - name: stack
    context: {cluster: nocobase-maintenance-stack, user: nocobase-maintenance, namespace: $KUBE_NAMESPACE}
current-context: stack
" 600 || true
}

kube_rollout() { # kube_rollout <deployment> <seconds>
  kubectl_admin -n "$KUBE_NAMESPACE" rollout status "deployment/$1" --timeout="$2s" >>"$LOG_DIR/kubernetes.log" 2>&1
}

# A real NocoBase cluster on the stack's Kubernetes, from the registry's real NocoBase image: the
# first deployment starts ONE app replica until it installed, then two app replicas and one
# WORKER_MODE replica (NocoBase's first-start rule); later runs change nothing the procedures own
# (replicas and image are read back from the cluster).
kubernetes_deploy_nocobase() {
  kubernetes_enabled || return 0
  local first=no
  KUBE_NOCOBASE_IMAGE="$(kube_image nocobase || true)"
  KUBE_APP_REPLICAS="$(kube_replicas nocobase || true)"
  KUBE_WORKER_REPLICAS="$(kube_replicas nocobase-worker || true)"
  if [ -z "$KUBE_APP_REPLICAS" ]; then
    first=yes KUBE_APP_REPLICAS=1 KUBE_WORKER_REPLICAS=0 KUBE_NOCOBASE_IMAGE="$(image_ref DEMO_IMAGE_V1)"
  fi
  [ -n "$KUBE_NOCOBASE_IMAGE" ] || fail kubernetes "no NocoBase image to deploy (images.env has no DEMO_IMAGE_V1)"
  printf "SELECT 'CREATE DATABASE %s OWNER %s' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '%s')\\\\gexec\n" \
    "$KUBE_DB_NAME" "$DEMO_DB_USER" "$KUBE_DB_NAME" | pg_admin_sql || fail kubernetes "cannot create the database $KUBE_DB_NAME"
  mkdir -p "$KUBE_STORAGE_DIR"
  kubectl_admin get namespace "$KUBE_NAMESPACE" >/dev/null 2>&1 ||
    kubectl_admin create namespace "$KUBE_NAMESPACE" >>"$LOG_DIR/kubernetes.log" 2>&1 || fail kubernetes "cannot create namespace $KUBE_NAMESPACE"
  kubectl_admin -n "$KUBE_NAMESPACE" apply -f "$REPO_ROOT/deploy/kubernetes/rbac.yaml" >>"$LOG_DIR/kubernetes.log" 2>&1 || fail kubernetes "kubectl apply rbac.yaml failed"
  kube_worker_kubeconfig
  { kube_render "$STACK_SCRIPTS/kubernetes/nocobase.yaml"; echo '---'; kube_render "$REPO_ROOT/deploy/kubernetes/maintenance-page.yaml"; } |
    kubectl_admin -n "$KUBE_NAMESPACE" apply -f - >>"$LOG_DIR/kubernetes.log" 2>&1 || fail kubernetes "kubectl apply of the NocoBase layout failed"
  log "waiting for NocoBase on Kubernetes ($KUBE_APP_REPLICAS app replica(s), image $KUBE_NOCOBASE_IMAGE)"
  kube_rollout nocobase-maintenance-page 300 || fail kubernetes "the maintenance page Deployment did not become ready"
  kube_rollout nocobase 600 || fail kubernetes "NocoBase's app Deployment did not become ready"
  if [ "$first" = yes ]; then
    kubectl_admin -n "$KUBE_NAMESPACE" scale deployment/nocobase --replicas=2 >>"$LOG_DIR/kubernetes.log" 2>&1 &&
      kubectl_admin -n "$KUBE_NAMESPACE" scale deployment/nocobase-worker --replicas=1 >>"$LOG_DIR/kubernetes.log" 2>&1 || fail kubernetes "cannot scale NocoBase up"
    kube_rollout nocobase 600 && kube_rollout nocobase-worker 600 || fail kubernetes "NocoBase did not become ready at full strength"
  fi
  wait_for 60 curl -fsS --max-time 3 -o /dev/null "http://$KUBE_APP_SERVICE_IP/api/__health_check" ||
    fail kubernetes "NocoBase does not answer through its Service at http://$KUBE_APP_SERVICE_IP"
  log "NocoBase on Kubernetes serves through its Service at http://$KUBE_APP_SERVICE_IP"
}

kube_kill_containers() {
  local task ctr_cmd=(ctr --address "$KUBE_CONTAINERD_SOCK" -n k8s.io)
  "${ctr_cmd[@]}" tasks ls -q 2>/dev/null | while read -r task; do
    "${ctr_cmd[@]}" tasks kill -a -s SIGKILL "$task" >/dev/null 2>&1 || true
  done
  wait_for 15 kube_no_tasks || warn "some pod containers of the stack's Kubernetes did not end"
}
kube_no_tasks() { [ -z "$(ctr --address "$KUBE_CONTAINERD_SOCK" -n k8s.io tasks ls -q 2>/dev/null | while read -r t; do ctr --address "$KUBE_CONTAINERD_SOCK" -n k8s.io tasks ps "$t" 2>/dev/null | awk 'NR>1'; done)" ]; }

# Whatever still runs in the kubelet's pod cgroups (only one stack's Kubernetes runs at a time):
# the last word, for containers whose containerd was already gone.
kube_kill_pod_processes() {
  local file pid
  for file in /sys/fs/cgroup/pids/kubepods/cgroup.procs /sys/fs/cgroup/pids/kubepods/*/cgroup.procs /sys/fs/cgroup/pids/kubepods/*/*/cgroup.procs /sys/fs/cgroup/pids/kubepods/*/*/*/cgroup.procs; do
    [ -f "$file" ] || continue
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$file"
  done
}

kubernetes_stop() {
  local name pid line
  kubernetes_enabled || return 0
  for name in "${KUBE_PROCESSES[@]}"; do
    # The kubelet is stopped by now: end the pods' containers while their containerd still runs
    # (a container outlives its killed shim, reparented to init).
    if [ "$name" = containerd ] && [ -S "$KUBE_CONTAINERD_SOCK" ]; then kube_kill_containers; fi
    pid="$(cat "$(pid_file "$name")" 2>/dev/null)" || continue
    if pid_alive "$pid"; then stop_pid "$name" "$pid" 30; fi
    rm -f "$(pid_file "$name")"
  done
  # Pods' containers outlive the kubelet; their shims and the pods' mounts are ours to clean up.
  pkill -f -- "containerd-shim-runc-v2 .*-address $KUBE_CONTAINERD_SOCK" 2>/dev/null || true
  kube_kill_pod_processes
  if [ -d "$KUBE_RUN" ]; then
    awk -v root="$KUBE_RUN" '$2 ~ "^"root {print $2}' /proc/mounts | sort -r | while read -r line; do umount -l "$line" 2>/dev/null || true; done
  fi
  # The pods' network ends with them: their veths on the bridge (each takes its pod-side end
  # along), then the emptied pod namespaces and the address reservations, so no stale pod keeps an
  # address the next start hands out again.
  if ip link show "$KUBE_BRIDGE" >/dev/null 2>&1; then
    ip -o link show master "$KUBE_BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1 | while read -r line; do ip link del "$line" 2>/dev/null || true; done
  fi
  ip netns list 2>/dev/null | awk '/^cni-/ {print $1}' | while read -r line; do
    [ "$(ip -n "$line" -o link show 2>/dev/null | grep -vc ': lo:')" = 0 ] && ip netns delete "$line" 2>/dev/null || true
  done
  rm -rf "$KUBE_DIR/cni/ipam"
  [ -x "$(kubernetes_bin_dir)/kube-proxy" ] && "$(kubernetes_bin_dir)/kube-proxy" --cleanup >>"$LOG_DIR/kubernetes.log" 2>&1 || true
  if [ -s "$KUBE_DIR/sysctl.before" ]; then
    while IFS= read -r line; do sysctl -q -w "$line" >/dev/null 2>&1 || true; done <"$KUBE_DIR/sysctl.before"
  fi
}

kubernetes_status() {
  local state=stopped rc=1
  kubernetes_enabled || { printf '%-10s %-8s %s\n' kubernetes skipped 'STACK_SKIP_KUBERNETES=1'; return 0; }
  if kube_apiserver_ready 2>/dev/null && kube_node_ready; then state=running rc=0; fi
  printf '%-10s %-8s API https://127.0.0.1:%s  node %s  kubeconfig %s\n' kubernetes "$state" "$KUBE_API_PORT" "$KUBE_NODE_IP" "$KUBE_ADMIN_KUBECONFIG"
  return "$rc"
}
