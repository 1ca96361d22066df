"""docker-compose.yml starts the first time and is not open by default: the database's
health check asks over TCP, the app restarts, no secret is committed, the image does not
run as root and the API is published on loopback unless the operator says otherwise."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")
SECRET_NAMES = re.compile(r"(PASSWORD|SECRET|TOKEN|KEY)$")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def with_defaults(value: str) -> str:
    """The value as compose reads it when the operator sets none of its variables."""
    return DEFAULTED.sub(lambda match: match[2], value)


def test_the_database_is_healthy_only_when_it_answers_over_tcp():
    check = compose()["services"]["db"]["healthcheck"]["test"]
    command = " ".join(check[1:]) if isinstance(check, list) else check

    assert "pg_isready" in command and re.search(r"-h\s+127\.0\.0\.1", command), command
    assert compose()["services"]["app"]["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_app_restarts_after_a_failure():
    assert compose()["services"]["app"]["restart"] in ("on-failure", "unless-stopped", "always")


def test_no_secret_is_committed():
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        assert isinstance(environment, dict), f"{name}: environment as a mapping, please"
        for variable, value in environment.items():
            assert not SECRET_NAMES.search(variable), f"{name}: {variable}={value!r} is a committed secret"
            assert "URL" not in variable or "@" not in str(value), f"{name}: {variable} carries a password"
    app = compose()["services"]["app"]["environment"]
    assert app["MAILREG_DATABASE_URL_FILE"].startswith("/run/")
    assert compose()["services"]["db"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/")


def test_the_api_is_published_on_loopback_unless_the_operator_says_otherwise():
    ports = compose()["services"]["app"]["ports"]

    assert [with_defaults(port) for port in ports] == ["127.0.0.1:8000:8000"]
    assert all("${" in port for port in ports), "the operator can publish elsewhere with a variable"


def test_the_image_runs_as_a_user_that_is_not_root():
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    last_stage = dockerfile[max(i for i, line in enumerate(dockerfile) if line.startswith("FROM")) :]
    users = [line.split()[1] for line in last_stage if line.startswith("USER ")]

    assert users and users[-1].split(":")[0] not in ("root", "0"), users


def docker_compose() -> list[str] | None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return command
    return None


@pytest.mark.skipif(docker_compose() is None, reason="no docker compose here; the YAML tests above stand in")
def test_docker_compose_accepts_the_file():
    command = docker_compose()
    assert command is not None
    done = subprocess.run([*command, "config", "--quiet"], cwd=ROOT, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
