# shellcheck shell=bash
# The local stack's TLS material, sourced by start.sh (after lib.sh).
#
# make_stack_tls: issues a fresh CA and one server certificate (127.0.0.1 and
# localhost, RSA-2048 like AWS endpoints) into $TLS_DIR at every stack start,
# with the openssl CLI when present, else with `cryptography` from the
# LocalStack venv (tls/make_ca.py). Then writes $TLS_TRUST: the system root
# bundle (if any) followed by the CA. That file is what clients get as
# SSL_CERT_FILE: rustls-native-certs (used by the AWS SDK's default https
# client and by reqwest's platform verifier) and OpenSSL read ONLY that file
# when it is set, so it must hold the public roots too, exactly as an
# operator's private-CA bundle would (docs/OPERATIONS.md).

# Where distributions keep the system bundle (Debian/Ubuntu, then Amazon
# Linux / Fedora / RHEL, the layout of Lambda's provided.al2023).
SYSTEM_BUNDLES=(/etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt)

make_stack_tls() {
  local days=7 tool bundle
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  if command -v openssl >/dev/null 2>&1 && [[ "${KEYBROKER_STACK_CERT_TOOL:-openssl}" == openssl ]]; then
    tool=openssl
    (
      cd "$TLS_DIR"
      umask 077
      openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
        -keyout ca-key.pem -out ca.pem -subj "/CN=keybroker local stack CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -sha256 -keyout server-key.pem \
        -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
      printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" >server.ext
      openssl x509 -req -sha256 -days "$days" -in server.csr -CA ca.pem \
        -CAkey ca-key.pem -CAcreateserial -extfile server.ext -out server.pem 2>/dev/null
      rm -f server.csr server.ext ca.srl
      chmod 644 ca.pem server.pem
    ) || die "openssl could not issue the stack's certificates"
  else
    tool="python cryptography"
    "$LS_VENV/bin/python" "$STACK_SCRIPT_DIR/tls/make_ca.py" "$TLS_DIR" "$days" \
      || die "could not issue the stack's certificates with $LS_VENV/bin/python"
  fi
  : >"$TLS_TRUST"
  for bundle in "${SYSTEM_BUNDLES[@]}"; do
    if [[ -r "$bundle" ]]; then
      cat "$bundle" >>"$TLS_TRUST"
      break
    fi
  done
  cat "$TLS_DIR/ca.pem" >>"$TLS_TRUST"
  log "TLS: issued a local CA and a server certificate for 127.0.0.1 ($tool, valid $days days) in $TLS_DIR"
}
