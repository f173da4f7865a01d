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

module "container" {
  source = "../container"

  stack    = var.stack
  enabled  = var.enabled
  name     = "metabase"
  hostname = "metabase"
  aliases  = ["metabase"]
  image    = var.enabled ? docker_image.metabase[0].image_id : ""
  env = [
    "MB_DB_TYPE=h2",
    "MB_DB_FILE=/metabase-data/metabase.db",
    "MB_JETTY_PORT=${local.port}",
    "JAVA_OPTS=${var.java_opts}",
    "JAVA_TIMEZONE=UTC",
  ]
  ports   = [{ internal = local.port, external = var.host_port }]
  volumes = var.enabled ? [{ volume_name = docker_volume.data[0].name, container_path = "/metabase-data" }] : []
  healthcheck = {
    test         = ["CMD-SHELL", "curl --fail --silent http://localhost:${local.port}/api/health || exit 1"]
    interval     = "10s"
    start_period = "5m0s"
    retries      = 5
  }
  wait_timeout = 420

  depends_on = [var.start_after]
}

moved {
  from = docker_container.metabase
  to   = module.container.docker_container.this
}
