#!/usr/bin/env bash
# npm run stack:up — installs what is missing and starts the local stack:
# PostgreSQL, Docker Engine, registry, HAProxy, SMTP sink, Temporal, Prometheus, then the
# demo NocoBase cluster (real NocoBase) and the stand-in cluster (a test fixture). Idempotent: a second run starts nothing twice, keeps
# the ports, and leaves .stack/ untouched. Options: --skip-demo (or
# STACK_SKIP_DEMO=1) stops before the images/demo cluster step.
set -Eeuo pipefail

SKIP_DEMO="${STACK_SKIP_DEMO:-0}"
for arg in "$@"; do
  case "$arg" in
    --skip-demo) SKIP_DEMO=1 ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/stack/lib.sh
. "$here/lib.sh"
# shellcheck disable=SC1090 # the component files, named right here
for component in "${STACK_SERVICES[@]}" "${STACK_LATE_SERVICES[@]}" demo config; do . "$here/$component.sh"; done

CURRENT=up
trap 'fail "$CURRENT" "unexpected error at line $LINENO: $BASH_COMMAND"' ERR
ensure_dirs
# Two concurrent ups would race on ports and pid files: the second waits,
# then finds everything running.
exec 9>>"$RUN_DIR/up.lock"
if ! flock -n 9; then
  log "another stack:up is running; waiting for it"
  flock -w 900 9 || fail up "another stack:up held the lock for 15 minutes"
fi

CURRENT=packages
docker_resolve_mode
need_command curl curl
need_command pgrep procps
for component in "${STACK_SERVICES[@]}" "${STACK_LATE_SERVICES[@]}"; do "${component}_packages"; done
[ "$SKIP_DEMO" = 1 ] || demo_packages
installing_postgres=no
case " ${MISSING_PACKAGES[*]-} " in *" postgresql "*) installing_postgres=yes ;; esac
install_missing_packages
[ "$installing_postgres" = yes ] && postgres_after_install

CURRENT=ports
assign_ports
postgres_resolve_layout

for component in "${STACK_SERVICES[@]}"; do
  CURRENT="$component"
  "${component}_start"
done

CURRENT=config
write_clusters_yaml
write_stack_env

# The approval page reads the config just written (the mails' links point at it).
for component in "${STACK_LATE_SERVICES[@]}"; do
  CURRENT="$component"
  "${component}_start"
done

if [ "$SKIP_DEMO" = 1 ]; then
  log "skipping the node images and the demo and stand-in clusters (--skip-demo)"
else
  CURRENT=demo-cluster
  demo_require_scripts
  demo_build_images
  write_stack_env # demo-cluster.ts reads DEMO_IMAGE_V1 and STANDIN_IMAGE_V1 from it
  write_clusters_yaml # backup.toolImage names the toolbox image just built
  demo_ensure_cluster
  CURRENT=kubernetes-nocobase
  kubernetes_deploy_nocobase
fi

cat <<EOF

Local stack is up ($((SECONDS))s). Endpoints:
  Temporal      127.0.0.1:$TEMPORAL_PORT   Web UI http://127.0.0.1:$TEMPORAL_UI_PORT   ($(temporal_bin))
  Temporal mTLS 127.0.0.1:$TEMPORAL_TLS_PORT (client certs $TEMPORAL_TLS_CLIENT_CERTS)   codec server http://127.0.0.1:$CODEC_PORT
  Docker        $STACK_DOCKER_HOST ($DOCKER_MODE)
  Docker hosts  $(tls_docker_host) (TLS, client certs $TLS_DOCKER_CLIENT_CERTS)   $(ssh_docker_host) (SSH, key $SSH_DOCKER_KEY_FILE)
  Registry      127.0.0.1:$REGISTRY_PORT
  PostgreSQL    127.0.0.1:$PG_PORT   data $PG_DATA
  Load balancer http://127.0.0.1:$LB_PORT (demo), http://127.0.0.1:$STANDIN_LB_PORT (standin)   runtime API unix://$HAPROXY_SOCK, 127.0.0.1:$HAPROXY_RUNTIME_PORT
  SMTP          127.0.0.1:$SMTP_PORT   mail in $SMTP_MAILDIR/new
  Approvals     $(approvals_url)   the page the approval mails' Approve/Reject links open
  Kubernetes    $(kubernetes_enabled && echo "https://127.0.0.1:$KUBE_API_PORT   kubectl --kubeconfig $KUBE_ADMIN_KUBECONFIG -n $KUBE_NAMESPACE   NocoBase via its Service http://$KUBE_APP_SERVICE_IP" || echo "skipped (STACK_SKIP_KUBERNETES=1)")
  Prometheus    $(prometheus_url)   scrapes the worker at 127.0.0.1:$METRICS_PORT (npm start) and 127.0.0.1:$TEST_METRICS_PORT (tests)
  Demo nodes    127.0.0.1:$NODE_PORT_1 $NODE_PORT_2 $NODE_PORT_3 (real NocoBase $(image_ref DEMO_IMAGE_V1 | sed 's/.*://'))$([ "$SKIP_DEMO" = 1 ] && echo '   (skipped)')
  Stand-in      127.0.0.1:$STANDIN_NODE_PORT_1 $STANDIN_NODE_PORT_2 $STANDIN_NODE_PORT_3 (test fixture, cluster standin)
  Env           $ENV_FILE   (scripts/with-deps.sh sources it)
  Config        $CLUSTERS_FILE
EOF
