#!/bin/sh
# The Python images' one pip step: trust the optional extra CA (extra-ca.crt), then install
# requirements.txt (a slice of requirements.lock, with hashes: build-context.sh) into /opt/venv.
# Run from a directory holding extra-ca.crt, install-extra-ca.sh and requirements.txt; removes it.
set -eu
dir="$(cd "$(dirname "$0")" && pwd)"
sh "$dir/install-extra-ca.sh" "$dir/extra-ca.crt"
python3 -m venv /opt/venv
PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    /opt/venv/bin/pip install --quiet --use-pep517 --require-hashes -r "$dir/requirements.txt"
rm -rf "$dir" /root/.cache
