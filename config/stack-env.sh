# Sourced by the shell scripts that read config/stack.env (terraform/bootstrap.sh, docker/base-image.sh):
# `setting KEY` prints the environment variable KEY if set, else KEY's last value in the file.
# shellcheck shell=bash

stack_env_file="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stack.env"

setting() {
    local key="$1" value="${!1:-}"
    if [ -z "$value" ]; then
        value="$(sed -n "s/^${key}=//p" "$stack_env_file" | tail -n1)"
    fi
    printf '%s' "$value"
}
