"""Bearer tokens: pinned algorithms, alg none, HS/RS key confusion, issuer and
audience, expiry, tampering, and optional RS256 with a PEM key or a JWKS file
(key chosen by kid). In-process on SQLite, keys made with `cryptography`."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import Harness, fleet_warmup, forge, in_process, tamper  # noqa: F401
from tests.support import SECRET, token

pytestmark = pytest.mark.usefixtures("fleet_warmup")  # start the shared servers early; they are slow to start

ISSUER = "https://idp.example.com/"
AUDIENCE = "mailreg"
PROBE = "{ mailServers { totalCount } }"
ADMIN_CLAIMS = {"sub": "mallory", "roles": ["admin"]}


class Keys:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers=headers or None)

    def jwk(self, kid: str) -> dict[str, Any]:
        key: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**key, "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture(scope="module")
def keys() -> dict[str, Keys]:
    return {name: Keys() for name in ("a", "b", "stranger")}


@pytest.fixture(scope="module")
async def plain(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    """HS256 with the shared secret only."""
    folder = tmp_path_factory.mktemp("plain")
    async with in_process(sqlite_url(folder), folder) as harness:
        yield harness


@pytest.fixture(scope="module")
async def pem(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Keys]) -> AsyncIterator[Harness]:
    """RS256 with a PEM public key, plus an issuer and an audience."""
    folder = tmp_path_factory.mktemp("pem")
    key_file = folder / "public.pem"
    key_file.write_bytes(keys["a"].public_pem)
    async with in_process(
        sqlite_url(folder), folder, jwt_public_key_file=key_file, jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    ) as harness:
        yield harness


@pytest.fixture(scope="module")
async def jwks(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Keys]) -> AsyncIterator[Harness]:
    """RS256 with a JWKS file of two keys, chosen by kid."""
    folder = tmp_path_factory.mktemp("jwks")
    jwks_file = folder / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [keys["a"].jwk("key-a"), keys["b"].jwk("key-b")]}))
    async with in_process(sqlite_url(folder), folder, jwt_jwks_file=jwks_file) as harness:
        yield harness


async def verdict(site: Harness, bearer: str) -> str | None:
    """None when the token gets the admin in, else the top-level error code."""
    body = await site.gql(PROBE, bearer=bearer)
    if "errors" not in body:
        return None
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def assert_verdicts(site: Harness, expected: dict[str, tuple[str, str | None]]) -> None:
    got = {name: await verdict(site, bearer) for name, (bearer, _) in expected.items()}
    assert got == {name: code for name, (_, code) in expected.items()}


def hmac_token(algorithm: str, key: bytes, claims: dict[str, Any] = ADMIN_CLAIMS) -> str:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm]
    return forge({"alg": algorithm, "typ": "JWT"}, claims, key, digest)


async def test_algorithms_are_pinned_and_alg_none_is_rejected(plain: Harness, keys: dict[str, Keys]):
    unsigned = {
        f"alg {alg!r}": (forge({"alg": alg, "typ": "JWT"}, ADMIN_CLAIMS, None), "UNAUTHENTICATED")
        for alg in ("none", "None", "NONE", "nOnE")
    }
    await assert_verdicts(
        plain,
        {
            "HS256 with the secret (control)": (hmac_token("HS256", SECRET.encode()), None),
            **unsigned,
            "alg none, signed anyway": (forge({"alg": "none"}, ADMIN_CLAIMS, SECRET.encode()), "UNAUTHENTICATED"),
            "HS384 with the secret": (hmac_token("HS384", SECRET.encode()), "UNAUTHENTICATED"),
            "HS512 with the secret": (hmac_token("HS512", SECRET.encode()), "UNAUTHENTICATED"),
            "RS256 with no public key configured": (keys["a"].sign(ADMIN_CLAIMS), "UNAUTHENTICATED"),
            "no alg header": (forge({"typ": "JWT"}, ADMIN_CLAIMS, SECRET.encode()), "UNAUTHENTICATED"),
        },
    )


async def test_an_hs256_token_signed_with_the_rsa_public_key_is_rejected(pem: Harness, keys: dict[str, Keys]):
    claims = {**ADMIN_CLAIMS, "iss": ISSUER, "aud": AUDIENCE}
    public = keys["a"].public_pem
    await assert_verdicts(
        pem,
        {
            "RS256 with the private key (control)": (keys["a"].sign(claims), None),
            "HS256 keyed with the PEM": (hmac_token("HS256", public, claims), "UNAUTHENTICATED"),
            "HS256 keyed with the PEM, stripped": (hmac_token("HS256", public.strip(), claims), "UNAUTHENTICATED"),
            "HS512 keyed with the PEM": (hmac_token("HS512", public, claims), "UNAUTHENTICATED"),
        },
    )


async def test_issuer_and_audience_are_enforced_when_configured(pem: Harness, keys: dict[str, Keys]):
    def rs(**claims: Any) -> str:
        return keys["a"].sign({**ADMIN_CLAIMS, **claims})

    def hs(**claims: Any) -> str:
        return hmac_token("HS256", SECRET.encode(), {**ADMIN_CLAIMS, **claims})

    await assert_verdicts(
        pem,
        {
            "RS256 right iss and aud": (rs(iss=ISSUER, aud=AUDIENCE), None),
            "RS256 aud in a list": (rs(iss=ISSUER, aud=["other", AUDIENCE]), None),
            "HS256 right iss and aud": (hs(iss=ISSUER, aud=AUDIENCE), None),
            "RS256 wrong iss": (rs(iss="https://evil.example.com/", aud=AUDIENCE), "UNAUTHENTICATED"),
            "RS256 wrong aud": (rs(iss=ISSUER, aud="another-service"), "UNAUTHENTICATED"),
            "RS256 no iss": (rs(aud=AUDIENCE), "UNAUTHENTICATED"),
            "RS256 no aud": (rs(iss=ISSUER), "UNAUTHENTICATED"),
            "HS256 wrong iss": (hs(iss="https://evil.example.com/", aud=AUDIENCE), "UNAUTHENTICATED"),
            "HS256 wrong aud": (hs(iss=ISSUER, aud="another-service"), "UNAUTHENTICATED"),
            "HS256 no iss or aud": (hs(), "UNAUTHENTICATED"),
            "RS256 by another key": (
                keys["stranger"].sign({**ADMIN_CLAIMS, "iss": ISSUER, "aud": AUDIENCE}),
                "UNAUTHENTICATED",
            ),
        },
    )


async def test_expired_and_not_yet_valid_tokens_are_rejected(plain: Harness):
    now = int(time.time())
    await assert_verdicts(
        plain,
        {
            "exp in an hour (control)": (token(ttl=3600), None),
            "exp a minute ago": (token(ttl=-60), "UNAUTHENTICATED"),
            "exp 31 seconds ago (past the leeway)": (
                hmac_token("HS256", SECRET.encode(), {**ADMIN_CLAIMS, "exp": now - 31}),
                "UNAUTHENTICATED",
            ),
            "exp not a number": (
                hmac_token("HS256", SECRET.encode(), {**ADMIN_CLAIMS, "exp": "soon"}),
                "UNAUTHENTICATED",
            ),
            "nbf in an hour": (
                hmac_token("HS256", SECRET.encode(), {**ADMIN_CLAIMS, "nbf": now + 3600}),
                "UNAUTHENTICATED",
            ),
        },
    )


async def test_a_tampered_claim_with_the_signature_kept_is_rejected(plain: Harness):
    clerk = token("clerk", roles=[])
    unexpired = tamper(token("admin-user", ttl=-60), exp=int(time.time()) + 3600)
    await assert_verdicts(
        plain,
        {
            "clerk as issued (control)": (clerk, "FORBIDDEN"),
            "roles raised to admin": (tamper(clerk, roles=["admin"]), "UNAUTHENTICATED"),
            "sub changed": (tamper(token("admin-user"), sub="someone-else"), "UNAUTHENTICATED"),
            "expiry pushed back": (unexpired, "UNAUTHENTICATED"),
            "signature dropped": (tamper(clerk, roles=["admin"]).rsplit(".", 1)[0] + ".", "UNAUTHENTICATED"),
            "signed, but no sub": (hmac_token("HS256", SECRET.encode(), {"roles": ["admin"]}), "UNAUTHENTICATED"),
            "signed, sub empty": (
                hmac_token("HS256", SECRET.encode(), {"sub": "", "roles": ["admin"]}),
                "UNAUTHENTICATED",
            ),
            "signed, sub a number": (
                hmac_token("HS256", SECRET.encode(), {"sub": 7, "roles": ["admin"]}),
                "UNAUTHENTICATED",
            ),
        },
    )


async def test_rs256_with_a_pem_public_key_is_accepted_and_sub_is_the_actor(pem: Harness, keys: dict[str, Keys]):
    bearer = keys["a"].sign(
        {"sub": "sso-admin", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 600}
    )
    async with pem.log.appends(1) as appended:
        body = await pem.gql(
            'mutation { addMailServer(input: {code: "rs256", name: "RS", outgoing: {host: '
            '"smtp.example.com", port: 25}, incoming: {protocol: POP3, host: "pop.example.com", '
            "port: 110}}) { errors { code } } }",
            bearer=bearer,
        )
    assert body["data"]["addMailServer"]["errors"] == [], body
    assert appended[0].actor == "sso-admin"


async def test_rs256_with_a_jwks_file_picks_the_key_by_kid(jwks: Harness, keys: dict[str, Keys]):
    await assert_verdicts(
        jwks,
        {
            "key a, kid key-a": (keys["a"].sign(ADMIN_CLAIMS, kid="key-a"), None),
            "key b, kid key-b": (keys["b"].sign(ADMIN_CLAIMS, kid="key-b"), None),
            "key a, kid key-b": (keys["a"].sign(ADMIN_CLAIMS, kid="key-b"), "UNAUTHENTICATED"),
            "unknown kid": (keys["stranger"].sign(ADMIN_CLAIMS, kid="key-c"), "UNAUTHENTICATED"),
            "no kid": (keys["a"].sign(ADMIN_CLAIMS), "UNAUTHENTICATED"),
            "HS256 with the secret still works": (token(), None),
            "HS256 with kid key-a": (forge({"alg": "HS256", "kid": "key-a"}, ADMIN_CLAIMS, SECRET.encode()), None),
        },
    )


def test_a_token_verified_before_is_refused_once_it_has_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    import api.auth
    from api.auth import LEEWAY_SECONDS, TokenVerifier

    verifier = TokenVerifier(secret=SECRET)
    expires = time.time() + 3
    short_lived = jwt.encode({"sub": "brief-admin", "roles": ["admin"], "exp": expires}, SECRET, algorithm="HS256")
    header = f"Bearer {short_lived}"
    first = verifier.principal(header)
    assert first is not None and first.subject == "brief-admin"
    assert verifier.principal(header) is first  # the second time from what was verified
    # Past the expiry and the clock-skew leeway, without waiting for them.
    later = expires + LEEWAY_SECONDS + 1
    monkeypatch.setattr(api.auth.time, "time", lambda: later)
    assert verifier.principal(header) is None
