output "url" {
  description = "Metabase on the host (null when Metabase is disabled)."
  value       = var.enabled ? "http://${var.stack.bind_address == "0.0.0.0" ? "127.0.0.1" : var.stack.bind_address}:${var.host_port}" : null
}

output "container_name" {
  description = "Name of the Metabase container (null when disabled or down)."
  value       = one(module.container.names)
}

output "volume_name" {
  description = "Named volume holding Metabase's application database (null when disabled)."
  value       = one(docker_volume.data[*].name)
}
