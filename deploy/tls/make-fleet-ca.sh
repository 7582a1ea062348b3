#!/usr/bin/env bash
# A small certificate authority for one EdgeSplit fleet, with openssl alone.
#
#   deploy/tls/make-fleet-ca.sh DIR ca                       # DIR/ca.crt + DIR/ca.key, once per fleet
#   deploy/tls/make-fleet-ca.sh DIR device NAME [SAN...]     # DIR/NAME.crt + DIR/NAME.key for an agent or
#                                                            # the coordinator; SANs: NAME, then each
#                                                            # extra name or IP address given
#   deploy/tls/make-fleet-ca.sh DIR client NAME              # DIR/NAME.crt + DIR/NAME.key for mutual TLS
#                                                            # (infer, top, a dashboard), no server use
#
# Device certificates serve and also authenticate as clients: an agent is the server of the
# coordinator and of the agent before it, and the client of the agent after it. Keys are EC P-256,
# certificates last DAYS (default 825) days. ca.key signs everything: keep it off the boards.
# Step by step (with the openssl commands this runs) in deploy/README.md.
set -euo pipefail

usage() { sed -n '2,9p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
dir=$1 kind=$2
shift 2
days=${DAYS:-825}
mkdir -p "$dir"
umask 077

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

case "$kind" in
  ca)
    [ ! -e "$dir/ca.key" ] || { echo "error: $dir/ca.key exists; a fleet has one CA (remove it to start over)" >&2; exit 2; }
    new_key "$dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" -subj "/O=EdgeSplit fleet/CN=EdgeSplit fleet CA" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$dir/ca.crt"
    chmod 644 "$dir/ca.crt"
    echo "$dir/ca.crt (give to every device and client), $dir/ca.key (keep offline)"
    ;;
  device|client)
    [ $# -ge 1 ] || usage
    name=$1
    shift
    [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*$ ]] || { echo "error: '$name' is not a device name (letters, digits, '.', '-')" >&2; exit 2; }
    [ -e "$dir/ca.key" ] || { echo "error: no $dir/ca.key; run '$0 $dir ca' first" >&2; exit 2; }
    if [ "$kind" = device ]; then
      sans="DNS:$name"
      for san in "$@"; do
        if [[ "$san" =~ ^[0-9.]+$ || "$san" == *:* ]]; then sans="$sans,IP:$san"; else sans="$sans,DNS:$san"; fi
      done
      usage_ext="serverAuth,clientAuth"
    else
      [ $# -eq 0 ] || { echo "error: a client certificate takes no SANs" >&2; exit 2; }
      sans="DNS:$name"
      usage_ext="clientAuth"
    fi
    new_key "$dir/$name.key"
    ext=$(mktemp)
    trap 'rm -f "$ext" "$dir/$name.csr"' EXIT
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$usage_ext" "$sans" > "$ext"
    openssl req -new -key "$dir/$name.key" -subj "/O=EdgeSplit fleet/CN=$name" -out "$dir/$name.csr"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -sha256 -days "$days" \
      -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
    chmod 644 "$dir/$name.crt"
    echo "$dir/$name.crt + $dir/$name.key ($kind; $sans)"
    ;;
  *) usage ;;
esac
