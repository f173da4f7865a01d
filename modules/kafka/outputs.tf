output "bootstrap_internal" {
  description = "Bootstrap servers for containers on the stack's network."
  value       = "${local.alias}:${local.internal_port}"
}

output "bootstrap_external" {
  description = "Bootstrap servers for clients on the host."
  value       = "${var.advertised_host}:${var.host_port}"
}

output "container_name" {
  description = "Name of the broker container (null while the stack is down)."
  value       = one(module.container.names)
}

output "container_id" {
  description = "ID of the broker container, once it is healthy (null while the stack is down)."
  value       = one(module.container.ids)
}

output "volume_name" {
  description = "Named volume holding the broker's log directories."
  value       = docker_volume.data.name
}

output "image" {
  description = "Name of the broker image."
  value       = module.image.name
}
