"""Central service (issue 5): ingest, review workflow, pages. See design.md."""
