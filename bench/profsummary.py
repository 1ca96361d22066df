"""A flat summary of a pyinstrument session: where the time went, by package
(self time of the innermost frame) and through a few named stages (inclusive
time of any frame in the stack), each as a share of all samples.

    python -m bench.profsummary DIR/*.pyisession"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pyinstrument.frame_info import frame_info_get_identifier

PACKAGES = (
    ("asyncio/runners.py", "event loop idle (uvloop's run loop)"),
    ("/selectors.py", "event loop idle (select)"),
    ("/strawberry/", "strawberry"),
    ("/graphql/", "graphql-core"),
    ("/sqlalchemy/", "sqlalchemy"),
    ("/asyncpg/", "asyncpg"),
    ("/uvicorn/", "uvicorn"),
    ("/httptools/", "httptools"),
    ("/starlette/", "starlette"),
    ("/websockets/", "websockets"),
    ("/jwt/", "pyjwt"),
    ("/json/", "json"),
    ("/logging/", "logging"),
    ("/prometheus_client/", "prometheus-client"),
    ("/asyncio/", "asyncio"),
    ("/api/", "mailreg api/"),
    ("/events/", "mailreg events/"),
    ("/domain/", "mailreg domain/"),
    ("/bench/", "bench"),
)

# (label, function name or "" for any, path fragment): inclusive time of the
# samples whose stack passes through a matching frame. A method matches by its
# bare name too ("execute" matches "MailServerService.execute").
STAGES = (
    ("GraphQL parse", "parse", "graphql/language/parser.py"),
    ("GraphQL validation", "validate", "graphql/validation/validate.py"),
    ("GraphQL execution (graphql-core executor, incl. resolvers)", "", "graphql/execution/"),
    ("strawberry extensions", "", "strawberry/extensions/"),
    ("MailServer.from_domain (api/types.py)", "from_domain", "api/types.py"),
    ("JSON encoding/decoding", "", "/json/"),
    ("MailServerService.execute (write path)", "MailServerService.execute", "events/application/service.py"),
    ("MailServerService.current", "MailServerService.current", "events/application/service.py"),
    ("store.read", "read", "events/store.py"),
    ("Fold.apply", "Fold.apply", "domain/state.py"),
    ("apply_changes (domain/model.py)", "apply_changes", "domain/model.py"),
    ("from_payload", "from_payload", "events/serialization.py"),
    ("SQLAlchemy", "", "/sqlalchemy/"),
    ("asyncpg", "", "/asyncpg/"),
    ("response cache (api/cache.py)", "", "api/cache.py"),
    ("JWT verify", "TokenVerifier.verify", "api/auth.py"),
    ("logging", "", "/logging/"),
    ("live feed (EventFeed.pump)", "EventFeed.pump", "events/feed.py"),
    ("subscription generator (api/subscriptions.py)", "", "api/subscriptions.py"),
    ("websocket send (uvicorn)", "send", "uvicorn/protocols/websockets/"),
)


def _parts(frame_info: str) -> tuple[str, str]:
    function, _, rest = frame_info_get_identifier(frame_info).partition("\x00")
    path, _, _line = rest.partition("\x00")
    return function, path


def summarize(session: Any, *, cpu: bool, top: int = 25) -> str:
    records: list[tuple[list[str], float]] = session.frame_records
    total = sum(t for _, t in records) or 1.0
    packages: dict[str, float] = defaultdict(float)
    functions: dict[str, float] = defaultdict(float)
    stages: dict[str, float] = defaultdict(float)
    for stack, seconds in records:
        if not stack:
            continue
        function, path = _parts(stack[-1])
        packages[next((label for fragment, label in PACKAGES if fragment in path), "other")] += seconds
        short = path.rsplit("site-packages/", 1)[-1].rsplit("/work/main/", 1)[-1]
        functions[f"{function}  {short}"] += seconds
        frames = [_parts(f) for f in stack]
        for label, name, fragment in STAGES:
            if any(fragment in p and (not name or f == name or f.endswith("." + name)) for f, p in frames):
                stages[label] += seconds
    lines = [f"total sampled: {total:.3f}s ({'CPU' if cpu else 'wall-clock'} time)", "", "self time by package:"]
    lines += [f"  {100 * s / total:5.1f}%  {label}" for label, s in _ranked(packages)]
    lines += ["", "inclusive time by stage (stages overlap):"]
    lines += [f"  {100 * s / total:5.1f}%  {label}" for label, s in _ranked(stages)]
    lines += ["", f"top {top} functions by self time:"]
    lines += [f"  {100 * s / total:5.1f}%  {name}" for name, s in _ranked(functions)[:top]]
    return "\n".join(lines) + "\n"


def _ranked(values: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(values.items(), key=lambda item: -item[1])


def main() -> None:
    """python -m bench.profsummary FILE.pyisession ...: print the summaries again."""
    import sys

    from pyinstrument.session import Session

    for path in sys.argv[1:]:
        print(f"== {path}")
        print(summarize(Session.load(path), cpu=False))


if __name__ == "__main__":
    main()
