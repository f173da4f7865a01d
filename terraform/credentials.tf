# Database passwords without a hard-coded value and without the hashicorp/random provider (the
# registry is unreachable and the Go module proxy serves only random v1.3.1/v2.0.0 from 2018, plugin
# protocol 4, which Terraform >= 0.12 cannot load).
#
# uuid() draws 122 random bits from crypto/rand at apply time; two of them make a 64-hex-digit
# password. ignore_changes keeps the first value in the state for good (a later plan would
# otherwise draw new ones), so a password changes only when its resource is destroyed; one resource
# per role, so a new role gets a password without touching the others'. A password given in
# var.postgres_passwords wins. PostgreSQL's entrypoint sets every role's password on each start.

locals {
  postgres_roles = ["admin", "seeder", "writer", "reader"]
}

resource "terraform_data" "generated_password" {
  for_each = toset(local.postgres_roles)

  input = sensitive(replace("${uuid()}${uuid()}", "-", ""))

  lifecycle {
    ignore_changes = [input]
  }
}

locals {
  postgres_passwords = sensitive({
    for role in local.postgres_roles :
    role => try(length(var.postgres_passwords[role]) > 0, false) ? var.postgres_passwords[role] : terraform_data.generated_password[role].output
  })
}
