terraform {
  # Tested with 1.11.4 (config/stack.env TERRAFORM_VERSION; tests/terraform checks they agree).
  required_version = "~> 1.11"

  required_providers {
    # No registry here: terraform/bootstrap.sh builds this version into a local filesystem mirror.
    docker = {
      source  = "kreuzwerker/docker"
      version = "4.6.0"
    }
  }

  # State: local, terraform/terraform.tfstate (git-ignored). Tests use their own with -state=PATH.
}
