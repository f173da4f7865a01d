variable "image" {
  description = "Which of the repository's images to build: the directory under docker/ (kafka, flink, postgres, producer)."
  type        = string

  validation {
    condition     = contains(["kafka", "flink", "postgres", "producer"], var.image)
    error_message = "image must be one of kafka, flink, postgres, producer."
  }
}

variable "repo_root" {
  description = "Absolute path of the repository checkout (holds docker/, config/, jars/ ...)."
  type        = string
}

variable "source_patterns" {
  description = "fileset() patterns, relative to repo_root, of every file the image is built from. Their content hash tags the image and triggers a rebuild when it changes."
  type        = list(string)
}

variable "required_patterns" {
  description = "fileset() patterns that must match at least one file before the build (e.g. the Maven-resolved jars)."
  type        = list(string)
  default     = []
}

variable "required_hint" {
  description = "What to do when a required pattern matches nothing (shown in the plan-time error)."
  type        = string
  default     = ""
}

variable "namespace" {
  description = "Repository part of the image name: <namespace>/<image>:<content hash>."
  type        = string
}

variable "base_image" {
  description = "Image every Dockerfile starts FROM (build argument BASE_IMAGE), pinned to an exact tag."
  type        = string
}

variable "extra_ca_cert_path" {
  description = "Optional PEM file with extra CA certificates, trusted inside the build before pip runs (TLS-intercepting proxies). Empty: none."
  type        = string
  default     = ""
}

variable "build_dir" {
  description = "Directory where the image's build context is assembled (git-ignored)."
  type        = string
}

variable "keep_locally" {
  description = "Keep the image in the Docker engine on destroy, so the next apply reuses it and its build cache."
  type        = bool
  default     = true
}

variable "legacy_builder" {
  description = "Build with the classic builder (Debian's docker.io has no buildx); false uses the provider's built-in buildx client."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels put on the image (org.wikistream.project is left out: images are shared between stacks)."
  type        = map(string)
  default     = {}
}
