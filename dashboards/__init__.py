"""Metabase dashboards as code, and an HTML snapshot of the same cards for the embedded stack."""
