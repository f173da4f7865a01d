terraform {
  required_version = ">= 1.11.0"

  required_providers {
    docker = {
      source = "kreuzwerker/docker"
      # A minimum: the root module (terraform/versions.tf) pins the exact version.
      version = ">= 4.6.0"
    }
  }
}
