"""Helpers for testing the centre (and anything that talks to it): a throwaway PostgreSQL,
fake payloads. Not imported by the service itself."""
