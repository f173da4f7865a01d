variable "stack" {
  description = "What every service of the stack shares: name prefix, network, whether containers run (false = `down`), labels, and the host address published ports bind to."
  type = object({
    prefix       = string
    network      = string
    running      = bool
    labels       = map(string)
    bind_address = string
  })

  validation {
    condition     = can(cidrhost("${var.stack.bind_address}/32", 0))
    error_message = "stack.bind_address must be an IPv4 address, e.g. 127.0.0.1 (local only) or 0.0.0.0 (every interface)."
  }
}

variable "enabled" {
  description = "Whether Metabase is part of the stack (its image is pulled from Docker Hub)."
  type        = bool
  default     = true
}

variable "image" {
  description = "Metabase image, pinned to an exact tag (never latest)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9./_-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must carry an exact tag or digest, e.g. metabase/metabase:v0.56.4 (not :latest)."
  }
}

variable "keep_image_locally" {
  description = "Keep the pulled image on destroy (it is large: about 800 MB)."
  type        = bool
  default     = true
}

variable "host_port" {
  description = "Host port of the Metabase UI (stack.bind_address:host_port)."
  type        = number

  validation {
    condition     = var.host_port >= 1 && var.host_port <= 65535
    error_message = "host_port must be a TCP port (1-65535)."
  }
}

variable "java_opts" {
  description = "JAVA_OPTS of the Metabase JVM."
  type        = string
  default     = "-Xmx1g"
}

variable "start_after" {
  description = "IDs Metabase waits for (the analytics database, healthy)."
  type        = list(string)
  default     = []
}
