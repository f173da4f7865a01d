# Dashboards: Metabase as code, and an HTML snapshot for the embedded stack (see dashboards/README.md).
# Included from the Makefile, which defines PY (the virtualenv's python) and STAMP (its install stamp).

.PHONY: dashboards dashboards-export dashboard-snapshot dashboard-screenshot

dashboards: $(STAMP) ## Create or update the Metabase dashboards from dashboards/definitions (idempotent)
	@$(PY) -m dashboards apply

dashboards-export: $(STAMP) ## Write the dashboards as they now are in Metabase back to dashboards/definitions
	@$(PY) -m dashboards export

dashboard-snapshot: $(STAMP) ## Render the dashboard cards from the live PostgreSQL into .wikistream/reports/dashboard.html
	@$(PY) -m dashboards snapshot

dashboard-screenshot: dashboard-snapshot ## Refresh docs/dashboard-snapshot.png from the snapshot (needs chromium)
	@$(PY) -m dashboards screenshot
