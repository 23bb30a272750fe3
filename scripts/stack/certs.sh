# shellcheck shell=bash disable=SC2034,SC1090 # variables used by the sibling files
# The stack's own certificate authority: TLS endpoints of the stack (Temporal's mTLS front,
# the TLS Docker Engine) and their clients get certificates signed by it, in Docker's
# DOCKER_CERT_PATH layout (ca.pem, cert.pem, key.pem) under .stack/certs/<name>/. Made once;
# a second up keeps them. Keys are 0600 in 0700 directories.

CERTS_DIR="$STACK_DIR/certs"
STACK_CA_KEY="$CERTS_DIR/ca/key.pem"
STACK_CA_CERT="$CERTS_DIR/ca/ca.pem"

certs_packages() { need_command openssl openssl; }

certs_ready() { [ -s "$STACK_CA_CERT" ] && [ -s "$STACK_CA_KEY" ]; }

certs_start() {
  if certs_ready; then log "stack CA already made ($STACK_CA_CERT)"; return 0; fi
  (umask 077 && mkdir -p "$CERTS_DIR/ca")
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj '/CN=nocobase-maintenance local stack CA' \
    -keyout "$STACK_CA_KEY.tmp" -out "$STACK_CA_CERT.tmp" >>"$LOG_DIR/certs.log" 2>&1 || fail certs "openssl could not make the stack CA"
  mv -f "$STACK_CA_KEY.tmp" "$STACK_CA_KEY"
  mv -f "$STACK_CA_CERT.tmp" "$STACK_CA_CERT"
  chmod 600 "$STACK_CA_KEY"
  log "stack CA made ($STACK_CA_CERT)"
}

# stack_cert <name> <server|client> <common name> [DNS:… or IP:… subject alt names…]
# Writes .stack/certs/<name>/{ca.pem,cert.pem,key.pem} once, signed by the stack CA.
stack_cert() {
  local name="$1" usage="$2" cn="$3" dir="$CERTS_DIR/$1" ext
  shift 3
  [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] && return 0
  certs_ready || fail certs "stack_cert $name: the stack CA is not made yet (certs must start first)"
  (umask 077 && mkdir -p "$dir")
  ext="$(mktemp)"
  if [ "$usage" = server ]; then
    printf 'extendedKeyUsage=serverAuth\n' >"$ext"
    [ "$#" -gt 0 ] && printf 'subjectAltName=%s\n' "$(IFS=,; echo "$*")" >>"$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >"$ext"
  fi
  {
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$cn" -keyout "$dir/key.pem" -out "$dir/req.csr" &&
      openssl x509 -req -sha256 -days 3650 -in "$dir/req.csr" -CA "$STACK_CA_CERT" -CAkey "$STACK_CA_KEY" \
        -CAcreateserial -CAserial "$CERTS_DIR/ca/serial" -extfile "$ext" -out "$dir/cert.pem"
  } >>"$LOG_DIR/certs.log" 2>&1 || { rm -f "$ext"; fail certs "openssl could not make the $name certificate"; }
  rm -f "$ext" "$dir/req.csr"
  cp "$STACK_CA_CERT" "$dir/ca.pem"
  chmod 600 "$dir/key.pem"
}

certs_stop() { :; }

certs_status() {
  local state=missing rc=1
  if certs_ready; then state=made; rc=0; fi
  printf '%-10s %-8s %s\n' certs "$state" "$CERTS_DIR"
  return "$rc"
}
