# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# The node images and the two 3-node clusters: `demo` (real NocoBase) and `standin` (the
# stand-in test fixture). Both TypeScript
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
  for script in build-images.ts nocobase/build-nocobase-images.ts demo-cluster.ts; do
    [ -f "$STACK_SCRIPTS/$script" ] ||
      fail demo-cluster "scripts/stack/$script does not exist yet; everything else is up (run with --skip-demo to skip this step)"
  done
}

# Runs an image script and keeps the `NAME=<image>` lines it prints, renamed: <script> <log> then
# pairs of <printed name> <name in images.env>.
demo_collect_images() {
  local script="$1" logname="$2" out found images=""
  shift 2
  printf '\n--- %s %s\n' "$(date -Is)" "$script" >>"$LOG_DIR/$logname.log"
  out="$(bash "$REPO_ROOT/scripts/with-deps.sh" tsx "scripts/stack/$script" 2>>"$LOG_DIR/$logname.log")" ||
    fail "$logname" "tsx scripts/stack/$script failed"
  printf '%s\n' "$out" >>"$LOG_DIR/$logname.log"
  while [ "$#" -ge 2 ]; do
    found="$(grep -E "^$1=[^[:space:]]+\$" <<<"$out" | tail -n 1)" ||
      fail "$logname" "$script printed no $1=<image> line on stdout"
    images+="$2=${found#*=}"$'\n'
    shift 2
  done
  COLLECTED_IMAGES+="$images"
}

# The demo runs real NocoBase (scripts/stack/nocobase/, cached by content hash: seconds once
# built); the stand-in images are the test fixture's.
demo_build_images() {
  COLLECTED_IMAGES=""
  log "building and pushing the stand-in images (log: $LOG_DIR/build-images.log)"
  demo_collect_images build-images.ts build-images \
    DEMO_IMAGE_V1 STANDIN_IMAGE_V1 DEMO_IMAGE_V2 STANDIN_IMAGE_V2 DEMO_IMAGE_BROKEN STANDIN_IMAGE_BROKEN TOOLBOX_IMAGE TOOLBOX_IMAGE
  log "building (or finding cached) the real NocoBase images (log: $LOG_DIR/nocobase-images.log)"
  demo_collect_images nocobase/build-nocobase-images.ts nocobase-images \
    NOCOBASE_IMAGE_V1 DEMO_IMAGE_V1 NOCOBASE_IMAGE_V2 DEMO_IMAGE_V2 NOCOBASE_IMAGE_BROKEN DEMO_IMAGE_BROKEN
  write_text "$IMAGES_FILE" "$COLLECTED_IMAGES" || true
}

demo_ensure_cluster() {
  log "ensuring the demo (real NocoBase) and stand-in clusters (log: $LOG_DIR/demo-cluster.log)"
  printf '\n--- %s demo-cluster.ts ensure\n' "$(date -Is)" >>"$LOG_DIR/demo-cluster.log"
  bash "$REPO_ROOT/scripts/with-deps.sh" tsx scripts/stack/demo-cluster.ts ensure >>"$LOG_DIR/demo-cluster.log" 2>&1 ||
    fail demo-cluster "tsx scripts/stack/demo-cluster.ts ensure failed"
  [ -f "$DEMO_MARKER" ] || touch "$DEMO_MARKER"
}

# demo-cluster.ts only creates the containers: starting them is the job of
# the first-start workflow. So "up" here means all three of each cluster exist.
demo_status() {
  local cluster ports created running rc=0 state
  for cluster in demo standin; do
    created=0 running=0 state=missing
    if docker_answers "$STACK_DOCKER_HOST"; then
      created="$(docker -H "$STACK_DOCKER_HOST" ps -aq --filter "label=nocobase-maintenance.cluster=$cluster" | wc -l)"
      running="$(docker -H "$STACK_DOCKER_HOST" ps -q --filter "label=nocobase-maintenance.cluster=$cluster" | wc -l)"
    fi
    if [ "$created" -ge 3 ]; then state=created; else rc=1; fi
    [ -f "$DEMO_MARKER" ] || { state="not-set-up (--skip-demo; not counted)" rc=0; }
    if [ "$cluster" = demo ]; then ports="$NODE_PORT_1 $NODE_PORT_2 $NODE_PORT_3"; else ports="$STANDIN_NODE_PORT_1 $STANDIN_NODE_PORT_2 $STANDIN_NODE_PORT_3"; fi
    printf '%-10s %-8s %-11s containers %s-node-{1,2,3}: %s/3 created, %s running; ports %s\n' \
      "$cluster" "$state" "" "$cluster" "$created" "$running" "$ports"
  done
  return "$rc"
}
