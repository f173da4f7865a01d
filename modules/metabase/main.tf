# Metabase, the dashboards. Its application database (questions, dashboards, users) is an H2 file
# on its own volume <prefix>-metabase-data, apart from the analytics data in PostgreSQL, which
# Metabase reads with the read-only role wikistream_reader (see the root module's outputs).

locals {
  port  = 3000
  count = var.enabled ? 1 : 0
}

resource "docker_image" "metabase" {
  count = local.count

  name         = var.image
  keep_locally = var.keep_image_locally
}

resource "docker_volume" "data" {
  count = local.count

  name = "${var.stack.prefix}-metabase-data"

  dynamic "labels" {
    for_each = var.stack.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "metabase" {
  count = var.enabled && var.stack.running ? 1 : 0

  name     = "${var.stack.prefix}-metabase"
  hostname = "metabase"
  image    = docker_image.metabase[0].image_id
  restart  = "unless-stopped"

  env = [
    "MB_DB_TYPE=h2",
    "MB_DB_FILE=/metabase-data/metabase.db",
    "MB_JETTY_PORT=${local.port}",
    "JAVA_OPTS=${var.java_opts}",
    "JAVA_TIMEZONE=UTC",
  ]

  networks_advanced {
    name    = var.stack.network
    aliases = ["metabase"]
  }

  ports {
    internal = local.port
    external = var.host_port
    ip       = var.stack.bind_address
  }

  volumes {
    volume_name    = docker_volume.data[0].name
    container_path = "/metabase-data"
  }

  # Metabase's documented health endpoint; the official image ships curl.
  healthcheck {
    test         = ["CMD-SHELL", "curl --fail --silent http://localhost:${local.port}/api/health || exit 1"]
    interval     = "10s"
    timeout      = "5s"
    start_period = "5m0s"
    retries      = 5
  }

  wait                  = true
  wait_timeout          = 420
  destroy_grace_seconds = 30
  stop_timeout          = 30

  log_driver = "json-file"
  log_opts   = { "max-size" = "10m", "max-file" = "3" }

  dynamic "labels" {
    for_each = merge(var.stack.labels, { "org.wikistream.service" = "metabase" })
    content {
      label = labels.key
      value = labels.value
    }
  }

  depends_on = [var.start_after]
}
