# shellcheck shell=bash disable=SC2034 # variables used by kubernetes.sh
# Builds the stack's Kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy, kubectl) and etcd from the Go module proxy, once per machine: the binaries are kept
# under $CACHE_DIR/kubernetes/<hash of the build module and the Go version>/bin, so a change of
# version or Go builds afresh and an unchanged one is never rebuilt (the cold build takes 8-10 min
# on 2 cores and peaks at about 2.6 GB). The module is scripts/stack/kubernetes/build.

KUBERNETES_BUILD_MODULE="$STACK_SCRIPTS/kubernetes/build"
KUBERNETES_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

kubernetes_build_hash() {
  { cat "$KUBERNETES_BUILD_MODULE/go.mod" "$KUBERNETES_BUILD_MODULE/go.sum" "$KUBERNETES_BUILD_MODULE/etcd/main.go"
    go env GOVERSION GOARCH; } | sha256sum | cut -c1-16
}

kubernetes_bin_dir() { printf '%s/kubernetes/%s/bin' "$CACHE_DIR" "$(kubernetes_build_hash)"; }

kubernetes_built() {
  local dir command
  dir="$(kubernetes_bin_dir)"
  for command in "${KUBERNETES_COMMANDS[@]}" etcd; do [ -x "$dir/$command" ] || return 1; done
}

kubernetes_build() {
  kubernetes_built && return 0
  local dir work
  dir="$(kubernetes_bin_dir)"
  work="$dir.partial"
  rm -rf "$work" && mkdir -p "$work"
  log "building Kubernetes v1.37.2 and etcd from the Go module proxy (8-10 min, once per machine; log: $LOG_DIR/kubernetes-build.log)"
  (
    cd "$KUBERNETES_BUILD_MODULE" &&
      CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$work/" \
        $(printf 'k8s.io/kubernetes/cmd/%s ' "${KUBERNETES_COMMANDS[@]}") &&
      CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$work/etcd" ./etcd
  ) >>"$LOG_DIR/kubernetes-build.log" 2>&1 || fail kubernetes-build "go build of Kubernetes failed"
  rm -rf "$dir" && mv "$work" "$dir"
  log "Kubernetes built into $dir ($(du -sh "$dir" | cut -f1))"
}
