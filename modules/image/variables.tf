variable "image" {
  description = "Which of the repository's images to build: the directory under docker/ (kafka, flink, postgres, producer)."
  type        = string

  validation {
    condition     = contains(["kafka", "flink", "postgres", "producer"], var.image)
    error_message = "image must be one of kafka, flink, postgres, producer."
  }
}

variable "build" {
  description = "How images are built, shared by every service module: repo_root (the checkout holding docker/, config/, jars/), base_image (FROM, an exact tag), extra_ca_cert_path (PEM trusted inside the build before pip runs; empty: none), build_dir (where the git-ignored build context is assembled), namespace (<namespace>/<image>:<content hash>), keep_locally (keep the image on destroy for the next apply), legacy_builder (classic builder; Debian's docker.io has no buildx)."
  type = object({
    repo_root          = string
    base_image         = string
    extra_ca_cert_path = string
    build_dir          = string
    namespace          = string
    keep_locally       = bool
    legacy_builder     = bool
  })
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

variable "labels" {
  description = "Labels put on the image (org.wikistream.project is left out: images are shared between stacks)."
  type        = map(string)
  default     = {}
}
