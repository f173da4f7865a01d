output "image_id" {
  description = "ID of the built image (sha256:...); containers reference it, so they are replaced when it is rebuilt."
  value       = docker_image.this.image_id
}

output "name" {
  description = "Name of the built image, <namespace>/<image>:<content hash>."
  value       = docker_image.this.name
}

output "source_hash" {
  description = "Content hash of every file the image is built from."
  value       = local.source_hash
}
