# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# The NocoBase stand-in images and the 3-node demo cluster. Both TypeScript
# scripts are idempotent; they need docker, the registry and postgres up, and
# read everything from .stack/env (sourced by with-deps.sh).

DEMO_MARKER="$STACK_DIR/demo-cluster.ok" # status counts the demo nodes once they were created

# The storage activities' tool image is built FROM scratch around Debian's
# static busybox (nothing can be pulled here). Debian's dynamic `busybox`
# installs the same path but would not run in an empty image, so ask dpkg.
demo_packages() {
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' && return 0
  case " ${MISSING_PACKAGES[*]-} " in *" busybox-static "*) ;; *) MISSING_PACKAGES+=(busybox-static) ;; esac
}

demo_require_scripts() {
  local script
  for script in build-images.ts demo-cluster.ts; do
    [ -f "$STACK_SCRIPTS/$script" ] ||
      fail demo-cluster "scripts/stack/$script does not exist yet; everything else is up (run with --skip-demo to skip this step)"
  done
}

demo_build_images() {
  local out line
  log "building and pushing the stand-in images (log: $LOG_DIR/build-images.log)"
  printf '\n--- %s build-images.ts\n' "$(date -Is)" >>"$LOG_DIR/build-images.log"
  out="$(bash "$REPO_ROOT/scripts/with-deps.sh" tsx scripts/stack/build-images.ts 2>>"$LOG_DIR/build-images.log")" ||
    fail build-images "tsx scripts/stack/build-images.ts failed"
  printf '%s\n' "$out" >>"$LOG_DIR/build-images.log"
  local images="" found
  for line in DEMO_IMAGE_V1 DEMO_IMAGE_V2 DEMO_IMAGE_BROKEN TOOLBOX_IMAGE; do
    found="$(grep -E "^$line=[^[:space:]]+\$" <<<"$out" | tail -n 1)" ||
      fail build-images "build-images.ts printed no $line=<image> line on stdout"
    images+="$found"$'\n'
  done
  write_text "$IMAGES_FILE" "$images" || true
}

demo_ensure_cluster() {
  log "ensuring the demo cluster (log: $LOG_DIR/demo-cluster.log)"
  printf '\n--- %s demo-cluster.ts ensure\n' "$(date -Is)" >>"$LOG_DIR/demo-cluster.log"
  bash "$REPO_ROOT/scripts/with-deps.sh" tsx scripts/stack/demo-cluster.ts ensure >>"$LOG_DIR/demo-cluster.log" 2>&1 ||
    fail demo-cluster "tsx scripts/stack/demo-cluster.ts ensure failed"
  [ -f "$DEMO_MARKER" ] || touch "$DEMO_MARKER"
}

# demo-cluster.ts only creates the containers: starting them is the job of
# the first-start workflow. So "up" here means all three exist.
demo_status() {
  local created=0 running=0 rc=1 state=missing
  if docker_answers "$STACK_DOCKER_HOST"; then
    created="$(docker -H "$STACK_DOCKER_HOST" ps -aq --filter "$DEMO_CONTAINER_FILTER" | wc -l)"
    running="$(docker -H "$STACK_DOCKER_HOST" ps -q --filter "$DEMO_CONTAINER_FILTER" | wc -l)"
  fi
  [ "$created" -ge 3 ] && state=created rc=0
  [ -f "$DEMO_MARKER" ] || { state="not-set-up (--skip-demo; not counted)" rc=0; }
  printf '%-10s %-8s %-11s containers demo-node-{1,2,3}: %s/3 created, %s running; ports %s %s %s\n' \
    demo "$state" "" "$created" "$running" "$NODE_PORT_1" "$NODE_PORT_2" "$NODE_PORT_3"
  return "$rc"
}
