"""Who is calling: customer tokens from the host app, agent tokens from kefu.

Customer tokens are HS256 JWTs minted by the host app with the shared secret
(claims ``sub``, ``exp``, optional ``name`` and ``tier``).  Agent tokens are
HS256 JWTs kefu mints itself at login with its own secret; they carry the
agent's token version, so raising the version (logout, password change)
revokes every token issued before.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kefu.errors import Unauthorized
from kefu.sessions.model import Principal, Role

AGENT_AUDIENCE = "kefu-agent"
TIERS = ("regular", "vip")

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of the password, salt included."""
    return _hasher.hash(password)


async def verify_password(password_hash: str, password: str) -> bool:
    """Check a password off the event loop (argon2 is deliberately slow)."""

    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


@dataclass(frozen=True, slots=True)
class TokenSettings:
    customer_secret: str
    agent_secret: str
    agent_token_ttl_s: float = 12 * 3600.0
    #: When set, customer tokens must carry this ``aud``.
    customer_audience: str | None = None


class Authenticator:
    """Turns bearer tokens into principals."""

    def __init__(self, settings: TokenSettings) -> None:
        self.settings = settings
        #: agent id -> (token version, disabled); refreshed by the caller.
        self._agent_versions: dict[str, int] = {}

    def set_agent_version(self, agent_id: str, version: int | None) -> None:
        """Record an agent's current token version; None disables the agent."""
        if version is None:
            self._agent_versions.pop(agent_id, None)
        else:
            self._agent_versions[agent_id] = version

    def customer_token(
        self,
        customer_id: str,
        tier: str = "regular",
        name: str | None = None,
        ttl_s: float = 24 * 3600.0,
    ) -> str:
        """Mint a customer token as a host app would (used by the demo)."""
        claims: dict[str, Any] = {
            "sub": customer_id,
            "tier": tier,
            "exp": int(time.time() + ttl_s),
        }
        if name is not None:
            claims["name"] = name
        if self.settings.customer_audience is not None:
            claims["aud"] = self.settings.customer_audience
        return jwt.encode(claims, self.settings.customer_secret, algorithm="HS256")

    def agent_token(self, agent_id: str, version: int) -> tuple[str, float]:
        """A new agent token and its expiry (seconds since the epoch)."""
        expires_at = time.time() + self.settings.agent_token_ttl_s
        claims = {
            "sub": agent_id,
            "aud": AGENT_AUDIENCE,
            "ver": version,
            "exp": int(expires_at),
            "iat": int(time.time()),
        }
        token = jwt.encode(claims, self.settings.agent_secret, algorithm="HS256")
        return token, float(int(expires_at))

    def authenticate(self, token: str) -> Principal:
        """The principal a token names; :class:`Unauthorized` if it names none."""
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("the token is malformed") from None
        if header.get("alg") != "HS256":
            raise Unauthorized("the token's algorithm is not accepted")
        if claims.get("aud") == AGENT_AUDIENCE:
            return self._agent(token)
        return self._customer(token)

    def _customer(self, token: str) -> Principal:
        audience = self.settings.customer_audience
        try:
            claims = jwt.decode(
                token,
                self.settings.customer_secret,
                algorithms=["HS256"],
                audience=audience,
                options={"require": ["sub", "exp"], "verify_aud": audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(_reason(exc)) from None
        subject, tier, name = (
            claims["sub"],
            claims.get("tier", "regular"),
            claims.get("name"),
        )
        if not isinstance(subject, str) or not 0 < len(subject) <= 128:
            raise Unauthorized("the token's subject is not a customer id")
        if tier not in TIERS:
            raise Unauthorized("the token's tier is not regular or vip")
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            raise Unauthorized("the token's name is not a short string")
        return Principal(Role.CUSTOMER, subject, name, tier)

    def _agent(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.settings.agent_secret,
                algorithms=["HS256"],
                audience=AGENT_AUDIENCE,
                options={"require": ["sub", "exp", "ver"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(_reason(exc)) from None
        agent_id = claims["sub"]
        if self._agent_versions.get(agent_id) != claims["ver"]:
            raise Unauthorized("the token has been revoked")
        return Principal(Role.AGENT, agent_id)


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the token is not valid yet"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "the token is for another audience"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token's signature does not match"
    return "the token is invalid"
