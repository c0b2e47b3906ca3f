"""Identity verification by SMS code: the rules, without I/O.

A contact of a sensitive issue type asks for the customer's identity to be
confirmed.  A worker sends a 6-digit code; kefu keeps only an HMAC of it.  A
code expires after :data:`CODE_TTL_S` and allows :data:`MAX_ATTEMPTS` tries.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

CODE_TTL_S = 300.0
MAX_ATTEMPTS = 5


class VerificationState(enum.StrEnum):
    #: A code is being sent or has been sent; waiting for the customer.
    PENDING = "pending"
    VERIFIED = "verified"
    #: Wrong code too often, or the code expired.
    FAILED = "failed"
    #: The SMS provider could not be used; the session goes on unverified.
    UNAVAILABLE = "unavailable"


class Outcome(enum.StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class Challenge:
    session_id: str
    code_hash: str
    expires_at: float
    attempts: int = 0


def new_code() -> str:
    """A uniformly random 6-digit code."""
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_code(key: bytes, session_id: str, code: str) -> str:
    """The keyed hash kefu stores instead of the code."""
    message = f"{session_id}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def issue(key: bytes, session_id: str, code: str, now: float) -> Challenge:
    return Challenge(session_id, hash_code(key, session_id, code), now + CODE_TTL_S)


def check(
    challenge: Challenge, key: bytes, code: str, now: float
) -> tuple[Outcome, Challenge]:
    """Judge one attempt; the returned challenge counts it."""
    if now >= challenge.expires_at:
        return Outcome.EXPIRED, challenge
    if challenge.attempts >= MAX_ATTEMPTS:
        return Outcome.LOCKED, challenge
    counted = replace(challenge, attempts=challenge.attempts + 1)
    expected = hash_code(key, challenge.session_id, code)
    if hmac.compare_digest(expected, challenge.code_hash):
        return Outcome.VERIFIED, counted
    if counted.attempts >= MAX_ATTEMPTS:
        return Outcome.LOCKED, counted
    return Outcome.WRONG, counted


def attempts_left(challenge: Challenge) -> int:
    return max(0, MAX_ATTEMPTS - challenge.attempts)
