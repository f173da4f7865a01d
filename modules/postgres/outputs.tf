output "internal_host" {
  description = "Host name of the server on the stack's network."
  value       = local.alias
}

output "internal_port" {
  description = "Port of the server on the stack's network."
  value       = local.port
}

output "host_port" {
  description = "Port published on the host (stack.bind_address)."
  value       = var.host_port
}

output "database" {
  description = "Name of the analytics database."
  value       = var.database
}

output "admin_user" {
  description = "Owner role of the database."
  value       = var.admin_user
}

output "jdbc_url_internal" {
  description = "JDBC URL for containers on the stack's network (the Flink job)."
  value       = "jdbc:postgresql://${local.alias}:${local.port}/${var.database}"
}

output "container_name" {
  description = "Name of the server container (null while the stack is down)."
  value       = one(module.container.names)
}

output "container_id" {
  description = "ID of the server container, once it is healthy (null while the stack is down)."
  value       = one(module.container.ids)
}

output "volume_name" {
  description = "Named volume holding the data directory."
  value       = docker_volume.data.name
}

output "image" {
  description = "Name of the server image."
  value       = module.image.name
}
