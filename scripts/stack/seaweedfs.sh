# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# SeaweedFS (Apache-2.0): a real S3-compatible object store for the backup store's S3 adapter
# (`backup.store.kind: s3`). One `weed server` process (master, volume, filer and S3 gateway) on
# 127.0.0.1, data under .stack/seaweedfs/, an S3 identity whose keys are generated into the
# secrets dir, and the bucket the stack's configs use. Built from the Go module proxy once per
# machine (seaweedfs-build.sh). gRPC ports are the HTTP ports + 10000, as SeaweedFS derives them.

source "$STACK_SCRIPTS/seaweedfs-build.sh"

SEAWEEDFS_DIR="$STACK_DIR/seaweedfs"
SEAWEEDFS_BUCKET=nocobase-backups
SEAWEEDFS_KEYS_FILE="$SECRETS_DIR/seaweedfs-s3-credentials" # access_key_id = … / secret_access_key = …
SEAWEEDFS_REGION=us-east-1

seaweedfs_packages() {
  [ -x "$(seaweedfs_bin 2>/dev/null)" ] && return 0
  need_command go golang-go
  need_command curl curl
}

seaweedfs_url() { printf 'http://127.0.0.1:%s' "$SEAWEEDFS_S3_PORT"; }

# Keys in the AWS shared-credentials spelling the worker's file adapter reads; the identity
# config SeaweedFS loads is written from the same file.
seaweedfs_keys() {
  [ -s "$SEAWEEDFS_KEYS_FILE" ] && return 0
  (umask 077 && printf 'access_key_id = %s\nsecret_access_key = %s\n' "nm$(random_secret | cut -c1-18)" "$(random_secret)" >"$SEAWEEDFS_KEYS_FILE.tmp" &&
    mv -f "$SEAWEEDFS_KEYS_FILE.tmp" "$SEAWEEDFS_KEYS_FILE")
}
seaweedfs_key() { sed -n "s/^$1 = //p" "$SEAWEEDFS_KEYS_FILE"; }

seaweedfs_answers() { curl -s -o /dev/null --max-time 3 "$(seaweedfs_url)/"; }

seaweedfs_bucket() { # PUT the bucket, signed like any S3 client (200 created, 409 already ours)
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --aws-sigv4 "aws:amz:$SEAWEEDFS_REGION:s3" \
    --user "$(seaweedfs_key access_key_id):$(seaweedfs_key secret_access_key)" -X PUT "$(seaweedfs_url)/$SEAWEEDFS_BUCKET")"
  [ "$code" = 200 ] || [ "$code" = 409 ]
}

seaweedfs_start() {
  seaweedfs_build
  local pid
  mkdir -p "$SEAWEEDFS_DIR/data"
  seaweedfs_keys
  write_text "$SEAWEEDFS_DIR/s3-identities.json" "{\"identities\":[{\"name\":\"nocobase-maintenance\",\"credentials\":[{\"accessKey\":\"$(seaweedfs_key access_key_id)\",\"secretKey\":\"$(seaweedfs_key secret_access_key)\"}],\"actions\":[\"Admin\",\"Read\",\"Write\",\"List\",\"Tagging\"]}]}
" 600 || true
  if pid="$(live_pid seaweedfs "$SEAWEEDFS_DIR/data")"; then
    wait_for 60 seaweedfs_answers || fail seaweedfs "pid $pid is running but 127.0.0.1:$SEAWEEDFS_S3_PORT does not answer"
    log "seaweedfs already running (pid $pid)"
  else
    require_free_ports seaweedfs "$SEAWEEDFS_MASTER_PORT" $((SEAWEEDFS_MASTER_PORT + 10000)) "$SEAWEEDFS_VOLUME_PORT" $((SEAWEEDFS_VOLUME_PORT + 10000)) \
      "$SEAWEEDFS_FILER_PORT" $((SEAWEEDFS_FILER_PORT + 10000)) "$SEAWEEDFS_S3_PORT"
    # -volume.max=0: as many volumes as the disk holds; small preallocation for a dev stack.
    spawn seaweedfs "$(seaweedfs_bin)" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$SEAWEEDFS_DIR/data" \
      -master.port="$SEAWEEDFS_MASTER_PORT" -master.volumeSizeLimitMB=64 -volume.port="$SEAWEEDFS_VOLUME_PORT" -volume.max=0 \
      -filer -filer.port="$SEAWEEDFS_FILER_PORT" -s3 -s3.port="$SEAWEEDFS_S3_PORT" -s3.config="$SEAWEEDFS_DIR/s3-identities.json"
    echo "$SPAWNED_PID" >"$(pid_file seaweedfs)"
    wait_spawned seaweedfs "$SPAWNED_PID" 90 seaweedfs_answers
    log "seaweedfs started (pid $SPAWNED_PID)"
  fi
  wait_for 60 seaweedfs_bucket || fail seaweedfs "could not create bucket $SEAWEEDFS_BUCKET at $(seaweedfs_url)"
}

seaweedfs_stop() {
  local pid
  if pid="$(live_pid seaweedfs "$SEAWEEDFS_DIR/data")"; then stop_pid seaweedfs "$pid" 20; else echo "seaweedfs  was not running"; fi
  rm -f "$(pid_file seaweedfs)"
}

seaweedfs_status() {
  local pid state=stopped rc=1
  if pid="$(live_pid seaweedfs "$SEAWEEDFS_DIR/data")" && seaweedfs_answers; then state=running rc=0; fi
  printf '%-10s %-8s pid %-7s s3 %s  bucket %s  keys %s\n' seaweedfs "$state" "${pid:--}" "$(seaweedfs_url)" "$SEAWEEDFS_BUCKET" "$SEAWEEDFS_KEYS_FILE"
  return "$rc"
}

# The environment tests and configs read (config.sh writes them into .stack/env).
seaweedfs_env() {
  printf '%s\n' BACKUP_S3_ENDPOINT "$(seaweedfs_url)" BACKUP_S3_BUCKET "$SEAWEEDFS_BUCKET" BACKUP_S3_REGION "$SEAWEEDFS_REGION" \
    BACKUP_S3_CREDENTIALS_FILE "$SEAWEEDFS_KEYS_FILE"
}
