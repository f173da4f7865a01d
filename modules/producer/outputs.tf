output "container_name" {
  description = "Name of the producer container (null while the stack is down)."
  value       = one(module.container.names)
}

output "container_id" {
  description = "ID of the producer container, once the users are seeded and clicks flow (null while the stack is down)."
  value       = one(module.container.ids)
}

output "volume_name" {
  description = "Named volume holding the producer's data set and model cache."
  value       = docker_volume.data.name
}

output "image" {
  description = "Name of the producer image."
  value       = module.image.name
}
