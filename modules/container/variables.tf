variable "stack" {
  description = "What every service of the stack shares: name prefix, network, whether containers run (false = `down`), labels, and the host address published ports bind to."
  type = object({
    prefix       = string
    network      = string
    running      = bool
    labels       = map(string)
    bind_address = string
  })
}

variable "name" {
  description = "The service's name: the container is <prefix>-<name> (-<n> when numbered), labelled org.wikistream.service=<name>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.name))
    error_message = "name must be lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "hostname" {
  description = "Host name inside the container (-<n> appended when numbered)."
  type        = string
}

variable "aliases" {
  description = "Names other containers reach this one by on the stack's network (numbered containers: their host name)."
  type        = list(string)
  default     = []
}

variable "enabled" {
  description = "false: no container at all (an optional service such as Metabase)."
  type        = bool
  default     = true
}

variable "replicas" {
  description = "How many containers of this shape."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas >= 1 && floor(var.replicas) == var.replicas
    error_message = "replicas must be a whole number of at least 1."
  }
}

variable "numbered" {
  description = "Number the containers (<name>-1, <name>-2, ...) even when there is one."
  type        = bool
  default     = false
}

variable "image" {
  description = "Image id or exact tag."
  type        = string
}

variable "command" {
  description = "The image's command, or null for its default."
  type        = list(string)
  default     = null
}

variable "env" {
  description = "Environment of every replica, as KEY=value (never a password: see secrets)."
  type        = list(string)
  default     = []
}

variable "env_per_replica" {
  description = "More environment for replica n (index n-1), appended to env."
  type        = list(list(string))
  default     = []
}

variable "secrets" {
  description = "Files in /run/secrets, by name (the variable the service reads), with their content."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "ports" {
  description = "Ports published on stack.bind_address: internal (container) and external (host)."
  type        = list(object({ internal = number, external = number }))
  default     = []

  validation {
    condition     = alltrue([for port in var.ports : port.internal >= 1 && port.internal <= 65535 && port.external >= 1 && port.external <= 65535])
    error_message = "ports must be TCP ports (1-65535)."
  }
}

variable "volumes" {
  description = "Named volumes and where they are mounted."
  type        = list(object({ volume_name = string, container_path = string }))
  default     = []
}

variable "healthcheck" {
  description = "The health check `apply` waits for (Docker's fields; test as in a Dockerfile's HEALTHCHECK)."
  type = object({
    test         = list(string)
    interval     = optional(string, "5s")
    timeout      = optional(string, "5s")
    start_period = optional(string, "2m0s")
    retries      = optional(number, 3)
  })
}

variable "wait_timeout" {
  description = "Seconds `apply` waits for the container to become healthy."
  type        = number
  default     = 180
}

variable "stop_timeout" {
  description = "Seconds between the stop signal and SIGKILL (also the grace of a destroy)."
  type        = number
  default     = 30
}
