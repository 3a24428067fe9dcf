"""The central service: episodes (ingest, review workflow), warden reports, web pages and
API. See design.md."""
