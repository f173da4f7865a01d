# One service container of the stack, in the shape every service shares: restarted unless stopped,
# on the stack's network, published only on stack.bind_address, health-checked and waited for
# (`apply` returns once it is healthy), logs rotated, labelled with the project and the service,
# and passwords as read-only files in /run/secrets instead of environment variables.

locals {
  count = var.stack.running && var.enabled ? var.replicas : 0
}

resource "docker_container" "this" {
  count = local.count

  name     = var.numbered ? "${var.stack.prefix}-${var.name}-${count.index + 1}" : "${var.stack.prefix}-${var.name}"
  hostname = var.numbered ? "${var.hostname}-${count.index + 1}" : var.hostname
  image    = var.image
  command  = var.command
  restart  = "unless-stopped"
  env      = concat(var.env, try(var.env_per_replica[count.index], []))

  # Root's and readable inside the container only: this provider build ignores an upload's owner,
  # so 0400 would lock a non-root service out (docker inspect shows no password either way).
  dynamic "upload" {
    for_each = toset(keys(nonsensitive(var.secrets)))
    content {
      file        = "/run/secrets/${upload.key}"
      content     = var.secrets[upload.key]
      permissions = "0444"
    }
  }

  networks_advanced {
    name    = var.stack.network
    aliases = var.numbered ? ["${var.hostname}-${count.index + 1}"] : var.aliases
  }

  dynamic "ports" {
    for_each = var.ports
    content {
      internal = ports.value.internal
      external = ports.value.external
      ip       = var.stack.bind_address
    }
  }

  dynamic "volumes" {
    for_each = var.volumes
    content {
      volume_name    = volumes.value.volume_name
      container_path = volumes.value.container_path
    }
  }

  healthcheck {
    test         = var.healthcheck.test
    interval     = var.healthcheck.interval
    timeout      = var.healthcheck.timeout
    start_period = var.healthcheck.start_period
    retries      = var.healthcheck.retries
  }

  wait                  = true
  wait_timeout          = var.wait_timeout
  destroy_grace_seconds = var.stop_timeout
  stop_timeout          = var.stop_timeout

  log_driver = "json-file"
  log_opts   = { "max-size" = "10m", "max-file" = "3" }

  dynamic "labels" {
    for_each = merge(var.stack.labels, { "org.wikistream.service" = var.name })
    content {
      label = labels.key
      value = labels.value
    }
  }
}
