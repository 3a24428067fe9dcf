"""Load a site config YAML; errors say "file:line: key: problem" (configbase.yaml_files)."""

from __future__ import annotations

from pathlib import Path

from configbase import InvalidFile, load_yaml, parse_yaml
from edge.config import SiteConfig


class ConfigError(InvalidFile):
    """A site config that cannot be used; the message lists every problem with its line."""


def load_site_config(path: str | Path) -> SiteConfig:
    return load_yaml(path, SiteConfig, what="site config", error=ConfigError)


def parse_site_config(text: str, path: Path = Path("<config>")) -> SiteConfig:
    return parse_yaml(text, SiteConfig, path, what="site config", error=ConfigError)
