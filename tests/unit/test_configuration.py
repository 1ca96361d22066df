"""The configuration: every variable the code reads is in the README's table (and
nothing else is), and secrets may come from files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.config import Config, ConfigError

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"MAILREG_[A-Z_]*[A-Z]")
LONG_SECRET = "a-secret-from-a-file-that-is-long-enough-for-hs256"


def variables_in_code() -> set[str]:
    found: set[str] = set()
    for package in ("api", "events", "domain"):
        for source in (ROOT / package).rglob("*.py"):
            found |= set(VARIABLE.findall(source.read_text(encoding="utf-8")))
    return found


def variables_in_readme_table() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration (environment)", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `MAILREG_")]
    return {name for row in rows for name in VARIABLE.findall(row.split("|")[1])}


def test_the_readme_table_lists_exactly_the_variables_the_code_reads():
    in_code, documented = variables_in_code(), variables_in_readme_table()

    assert in_code - documented == set(), "read by the code but missing from the README's table"
    assert documented - in_code == set(), "in the README's table but read nowhere"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in variables_in_code():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_secret_and_the_database_url_may_come_from_files(clean_env: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "jwt").write_text(f"{LONG_SECRET}\n")
    (tmp_path / "db").write_text("  postgresql+asyncpg://app:pw@db:5432/mailreg\n")
    clean_env.setenv("MAILREG_JWT_SECRET_FILE", str(tmp_path / "jwt"))
    clean_env.setenv("MAILREG_DATABASE_URL_FILE", str(tmp_path / "db"))

    config = Config.from_env()

    assert config.jwt_secret == LONG_SECRET
    assert config.database_url == "postgresql+asyncpg://app:pw@db:5432/mailreg"


@pytest.mark.parametrize("name", ["MAILREG_JWT_SECRET", "MAILREG_DATABASE_URL"])
def test_a_variable_and_its_file_together_are_refused(clean_env: pytest.MonkeyPatch, tmp_path: Path, name: str):
    (tmp_path / "value").write_text(LONG_SECRET)
    clean_env.setenv(name, LONG_SECRET)
    clean_env.setenv(f"{name}_FILE", str(tmp_path / "value"))

    with pytest.raises(ConfigError, match=f"either {name} or {name}_FILE"):
        Config.from_env()


def test_a_missing_or_empty_secret_file_is_refused(clean_env: pytest.MonkeyPatch, tmp_path: Path):
    clean_env.setenv("MAILREG_JWT_SECRET_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="cannot read"):
        Config.from_env()

    (tmp_path / "empty").write_text("\n")
    clean_env.setenv("MAILREG_JWT_SECRET_FILE", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="is empty"):
        Config.from_env()


def test_a_short_secret_from_a_file_is_refused_like_a_short_variable(clean_env: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "jwt").write_text("short")
    clean_env.setenv("MAILREG_JWT_SECRET_FILE", str(tmp_path / "jwt"))

    with pytest.raises(ConfigError, match="at least 32 bytes"):
        Config.from_env()


def test_cors_origins_are_a_comma_separated_list_of_origins(clean_env: pytest.MonkeyPatch):
    clean_env.setenv("MAILREG_CORS_ORIGINS", " https://Office.example.com:443/ ,http://intranet:8080")
    assert Config.from_env().cors_origins == ("https://office.example.com", "http://intranet:8080")

    clean_env.delenv("MAILREG_CORS_ORIGINS")
    assert Config.from_env().cors_origins == ()

    clean_env.setenv("MAILREG_CORS_ORIGINS", "https://office.example.com/app")
    with pytest.raises(ConfigError, match="not an origin"):
        Config.from_env()
