"""GraphiQL served from mailreg itself: the page and its assets (GraphiQL, React and
React DOM from their npm packages, with their licenses), so it works without internet access."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/graphiql-assets"
_FOLDER = Path(__file__).resolve().parent / "graphiql"


@cache
def page() -> str:
    """The GraphiQL page, its scripts and styles pointing at ASSETS_PATH."""
    return (_FOLDER / "index.html").read_text(encoding="utf-8").replace("__ASSETS__", ASSETS_PATH)


def assets() -> StaticFiles:
    """The app that serves the assets under ASSETS_PATH."""
    return StaticFiles(directory=_FOLDER)
