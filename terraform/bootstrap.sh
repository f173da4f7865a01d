#!/usr/bin/env bash
# Terraform CLI and the kreuzwerker/docker provider for a machine without the Terraform registry.
#   terraform/bootstrap.sh provider    build the provider from the Go module proxy into a filesystem mirror
#   terraform/bootstrap.sh terraform   a terraform binary: PATH (if >= TERRAFORM_VERSION's minor), else build one
#   terraform/bootstrap.sh rc          write the CLI config that points Terraform at the mirror
#   terraform/bootstrap.sh all         all three; prints the variables to export
# Everything is cached under ${WIKISTREAM_CACHE:-~/.cache/wikistream}, keyed by version, so only the
# first run builds (about 5 minutes each on 2 cores). Needs Go >= 1.23 and the Go module proxy.
# Versions: config/stack.env (environment variables of the same name win).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=config/stack-env.sh
source "$here/../config/stack-env.sh"

cache="${WIKISTREAM_CACHE:-$HOME/.cache/wikistream}"
tf_version="$(setting TERRAFORM_VERSION)"
provider_version="$(setting DOCKER_PROVIDER_VERSION)"
provider_module="$(setting DOCKER_PROVIDER_MODULE)"
goos="$(go env GOOS 2>/dev/null || echo linux)"
goarch="$(go env GOARCH 2>/dev/null || echo amd64)"
mirror="$cache/terraform-providers"
provider_dir="$mirror/registry.terraform.io/kreuzwerker/docker/$provider_version/${goos}_${goarch}"
provider_bin="$provider_dir/terraform-provider-docker_v$provider_version"
tf_bin="$cache/terraform/$tf_version/terraform"
rc_file="$cache/terraform.rc"

log() { echo "bootstrap: $*" >&2; }

# go mod download + build in a writable copy: `go install` refuses these modules (module path
# mismatch for the provider, replace directives for Terraform).
go_source() { # go_source MODULE@VERSION DEST
    local dir
    dir="$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -n "$dir" ] || { log "go mod download $1 failed"; exit 1; }
    rm -rf "$2"
    cp -r "$dir" "$2"
    chmod -R u+w "$2"
}

build_provider() {
    if [ -x "$provider_bin" ] && [ "$(cat "$provider_bin.module" 2>/dev/null)" = "$provider_module" ]; then
        log "provider kreuzwerker/docker $provider_version: cached ($provider_bin)"
        return
    fi
    command -v go >/dev/null || { log "Go is required to build the provider"; exit 1; }
    local work started
    work="$(mktemp -d)"
    started=$SECONDS
    log "building kreuzwerker/docker $provider_version from $provider_module (about 5 minutes) ..."
    (cd "$work" && go_source "$provider_module" "$work/src")
    mkdir -p "$provider_dir"
    (cd "$work/src" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X main.version=$provider_version" -o "$provider_bin.tmp" .)
    mv "$provider_bin.tmp" "$provider_bin"
    printf '%s' "$provider_module" >"$provider_bin.module"
    rm -rf "$work"
    log "provider built in $((SECONDS - started)) s: $provider_bin"
}

terraform_ok() { # terraform_ok BINARY: same major, minor >= the pinned one
    local version want_major want_minor
    version="$("$1" version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p')"
    [ -n "$version" ] || return 1
    want_major="${tf_version%%.*}"; want_minor="$(echo "$tf_version" | cut -d. -f2)"
    [ "${version%%.*}" = "$want_major" ] && [ "$(echo "$version" | cut -d. -f2)" -ge "$want_minor" ]
}

build_terraform() {
    if command -v terraform >/dev/null && terraform_ok "$(command -v terraform)"; then
        log "terraform: $(command -v terraform) ($(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p'))"
        command -v terraform
        return
    fi
    if [ -x "$tf_bin" ] && terraform_ok "$tf_bin"; then
        log "terraform $tf_version: cached ($tf_bin)"
        echo "$tf_bin"
        return
    fi
    command -v go >/dev/null || { log "Go is required to build Terraform"; exit 1; }
    local work started
    work="$(mktemp -d)"
    started=$SECONDS
    log "building terraform $tf_version from the Go module proxy (about 5 minutes) ..."
    (cd "$work" && go_source "github.com/hashicorp/terraform@v$tf_version" "$work/src")
    # The module zip leaves out nested modules (the remote-state backends azurerm, consul, cos, gcs,
    # kubernetes, oss, pg, s3 and internal/legacy): build without them. local, http, remote and
    # cloud backends stay. Newer Go toolchains reject the obsolete `godebug tlskyber` line.
    (
        cd "$work/src"
        sed -i -E '/backend(Azure|Consul|Cos|GCS|Kubernetes|OSS|Pg|S3)[ .]/d' internal/backend/init/init.go
        sed -i -E '/github.com\/hashicorp\/terraform\/internal\/(backend\/remote-state\/(azure|consul|cos|gcs|kubernetes|oss|pg|s3)|legacy)( |$)/d' go.mod
        sed -i '/^godebug tlskyber/d' go.mod
        mkdir -p "$(dirname "$tf_bin")"
        GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X github.com/hashicorp/terraform/version.dev=no" -o "$tf_bin.tmp" .
    )
    mv "$tf_bin.tmp" "$tf_bin"
    rm -rf "$work"
    log "terraform built in $((SECONDS - started)) s: $tf_bin"
    echo "$tf_bin"
}

write_rc() {
    mkdir -p "$cache"
    cat >"$rc_file.tmp" <<RC
# Written by terraform/bootstrap.sh: kreuzwerker/docker from the local mirror, everything else direct.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/kreuzwerker/docker"]
  }
  direct {
    exclude = ["registry.terraform.io/kreuzwerker/docker"]
  }
}
RC
    mv "$rc_file.tmp" "$rc_file"
    log "CLI config: $rc_file"
}

case "${1:-all}" in
    provider) build_provider ;;
    terraform) build_terraform >/dev/null ;;
    rc) write_rc ;;
    all)
        build_provider
        bin="$(build_terraform)"
        write_rc
        echo "export TF_CLI_CONFIG_FILE=$rc_file"
        echo "export TERRAFORM=$bin"
        ;;
    *) echo "usage: $0 [provider|terraform|rc|all]" >&2; exit 2 ;;
esac
