"""The errors a client can see, written down once.

Every error kefu returns to a client is one of these classes.  Each carries a
stable snake_case ``code`` (clients branch on it), the HTTP status it maps to,
and, for the WebSocket, the same code inside an ``error`` frame.
"""

from __future__ import annotations


class KefuError(Exception):
    """Base of every client-visible error."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class InvalidRequest(KefuError):
    """The request is malformed or fails validation; nothing was changed."""

    code = "invalid_request"
    status = 400


class Unauthorized(KefuError):
    """No token, or a token that is expired, forged or revoked."""

    code = "unauthorized"
    status = 401


class Forbidden(KefuError):
    """The caller is authenticated but its role may not use this endpoint."""

    code = "forbidden"
    status = 403


class NotFound(KefuError):
    """Unknown, or not visible to the caller (another customer's session)."""

    code = "not_found"
    status = 404


class SessionClosed(KefuError):
    """The session is closed and takes no more messages or changes."""

    code = "session_closed"
    status = 409


class Conflict(KefuError):
    """The request conflicts with the current state (for example a transfer
    to an agent with no free capacity)."""

    code = "conflict"
    status = 409


class PayloadTooLarge(KefuError):
    """The body or frame is larger than the configured limit."""

    code = "payload_too_large"
    status = 413


class RateLimited(KefuError):
    """The caller sent too much too fast; retry after ``retry_after_s``."""

    code = "rate_limited"
    status = 429


class Overloaded(KefuError):
    """kefu is shedding load or a dependency is down; retry after ``retry_after_s``."""

    code = "overloaded"
    status = 503


class StoreUnavailable(Overloaded):
    """The durable store refused a write (disk full, connection lost)."""

    code = "store_unavailable"


class WrongCode(InvalidRequest):
    """The verification code does not match; the message says how many tries
    are left."""

    code = "wrong_code"


class CodeExpired(InvalidRequest):
    """The verification code has expired; verification has failed."""

    code = "code_expired"


class VerificationClosed(Conflict):
    """No code is waiting to be checked: none was sent, or verification is
    already over (verified, failed or unavailable)."""

    code = "verification_closed"
