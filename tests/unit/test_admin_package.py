"""The admin page ships with an installed package: every file under api/admin/ is package data."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_admin_page_file_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    package = ROOT / "api"
    files = [path.relative_to(package) for path in (package / "admin").rglob("*") if path.is_file()]
    assert files
    unshipped = [str(path) for path in files if not any(path.match(pattern) for pattern in patterns)]
    assert unshipped == []
