# shellcheck shell=bash disable=SC2034 # sourced by seaweedfs.sh
# Builds SeaweedFS's `weed` from the module in scripts/stack/seaweedfs/ (go.mod pins the
# version: SeaweedFS's tags are not semver, so the Go module proxy serves it as a pseudo-version).
# Built once per machine and cached by content hash (go.mod, go.sum, Go version): a second
# `up`, another clone or a CI cache restore finds the binary and skips minutes of compiling.

SEAWEEDFS_MODULE="$STACK_SCRIPTS/seaweedfs"

seaweedfs_hash() {
  { cat "$SEAWEEDFS_MODULE/go.mod" "$SEAWEEDFS_MODULE/go.sum"; go env GOVERSION; } | sha256sum | cut -c1-16
}

seaweedfs_bin() { printf '%s/seaweedfs/%s/weed' "$CACHE_DIR" "$(seaweedfs_hash)"; }

seaweedfs_build() {
  local bin dir tmp started=$SECONDS
  bin="$(seaweedfs_bin)"
  [ -x "$bin" ] && return 0
  dir="$(dirname "$bin")"
  mkdir -p "$dir"
  log "building SeaweedFS weed with $(command -v go) (minutes, once per machine; log: $LOG_DIR/seaweedfs-build.log)"
  tmp="$(mktemp "$dir/weed.XXXXXX")"
  # -trimpath and the module's own go.sum: the same inputs give the same hash and binary.
  (cd "$SEAWEEDFS_MODULE" && go build -trimpath -o "$tmp" github.com/seaweedfs/seaweedfs/weed) \
    >>"$LOG_DIR/seaweedfs-build.log" 2>&1 || { rm -f "$tmp"; fail seaweedfs-build "go build of SeaweedFS failed"; }
  mv -f "$tmp" "$bin" # atomic: a concurrent up never runs a half-written binary
  log "SeaweedFS built in $((SECONDS - started))s: $bin"
}
