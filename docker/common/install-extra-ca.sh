#!/bin/sh
# Add an optional extra CA certificate (PEM, one or more certificates) to the image's trust store.
# The build context always holds extra-ca.crt; it is empty unless Terraform's extra_ca_cert_path is set
# (a TLS-intercepting proxy, a corporate CA). pip and Maven inside the build then trust it too.
set -eu
file="${1:-/tmp/extra-ca.crt}"
if [ -s "$file" ]; then
    mkdir -p /usr/local/share/ca-certificates
    cp "$file" /usr/local/share/ca-certificates/wikistream-extra-ca.crt
    update-ca-certificates >/dev/null
    echo "extra CA certificate added to the trust store"
fi
rm -f "$file"
