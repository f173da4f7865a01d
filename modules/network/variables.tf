variable "name" {
  description = "Name of the Docker network (the stack's name prefix)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "labels" {
  description = "Labels put on the network (the project label identifies everything the stack owns)."
  type        = map(string)
  default     = {}
}
