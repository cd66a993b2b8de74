"""One exception tree for the whole service; the API renders it in one place.

Each class carries the HTTP status and the Linq contract code (see api.md §1)::

    VoicememoError
    ├── BadRequest (400)
    │   ├── MissingField (1001)        ├── InvalidPhoneNumber (1002)
    │   ├── InvalidJson (1003)         ├── InvalidParameter (1005)
    │   ├── FetchFailed (5002)         ├── UnsupportedAudio (5004)
    │   ├── HandleUnreachable (1005: no service reaches a handle from the line)
    │   │   └── AddressRefused (5002: a non-public address, never retried)
    │   └── ContentTypeMismatch (5006)
    ├── Unauthorized (401, 2004)
    ├── Forbidden (403, 2005)          └── LineNotOwned (403, 2006)
    ├── NotFound (404)
    │   ├── ChatNotFound (2001)        ├── MessageNotFound (2002)
    │   ├── AttachmentNotFound (2003)  ├── AttachmentNotReady (2007)
    │   └── WebhookSubscriptionNotFound (2002-style, our own resource)
    ├── Conflict (409, permanent: x-should-retry false)
    ├── IdempotencyMismatch (422)
    ├── PayloadTooLarge (413, 5001)
    ├── RateLimited (429, 1007)
    ├── InternalError (500, 3006)
    ├── LineUnavailable (503, 4010: the line's sender could not answer; nothing was written)
    └── StorageUnavailable (503, 3006: the blob store failed or timed out; nothing was written)

Foreign errors (FFmpeg, httpx, SQLAlchemy) are mapped where they happen with
``raise Mine(...) from exc``; nothing else reaches the client.
"""

from __future__ import annotations


class VoicememoError(Exception):
    """Base: an error a client may see, with its status, contract code and plain message."""

    status: int = 500
    code: int = 3006
    #: whether the SDKs should retry (rendered as ``x-should-retry``); None leaves it to them
    should_retry: bool | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(VoicememoError):
    status = 400
    code = 1005


class MissingField(BadRequest):
    code = 1001


class InvalidPhoneNumber(BadRequest):
    code = 1002


class InvalidJson(BadRequest):
    code = 1003


class InvalidParameter(BadRequest):
    code = 1005


class FetchFailed(BadRequest):
    """The voice memo URL could not be downloaded; the message says why."""

    code = 5002


class AddressRefused(FetchFailed):
    """The host resolves to an address we never fetch from (a policy refusal, not a transient failure)."""


class UnsupportedAudio(BadRequest):
    """The bytes are not audio we accept; the message says what they look like."""

    code = 5004


class ContentTypeMismatch(BadRequest):
    code = 5006


class Unauthorized(VoicememoError):
    status = 401
    code = 2004


class Forbidden(VoicememoError):
    status = 403
    code = 2005


class LineNotOwned(Forbidden):
    code = 2006


class NotFound(VoicememoError):
    status = 404
    code = 2002


class ChatNotFound(NotFound):
    code = 2001

    def __init__(self, message: str = "Chat not found.") -> None:
        super().__init__(message)


class MessageNotFound(NotFound):
    code = 2002

    def __init__(self, message: str = "Message not found.") -> None:
        super().__init__(message)


class AttachmentNotFound(NotFound):
    code = 2003

    def __init__(self, message: str = "Attachment not found.") -> None:
        super().__init__(message)


class AttachmentNotReady(NotFound):
    code = 2007


class WebhookSubscriptionNotFound(NotFound):
    code = 2002

    def __init__(self, message: str = "Webhook subscription not found.") -> None:
        super().__init__(message)


class Conflict(VoicememoError):
    """A permanent conflict: retrying the same request cannot succeed."""

    status = 409
    code = 1005
    should_retry = False


class RequestInProgress(VoicememoError):
    """Same idempotency key while the first request still runs: retry shortly."""

    status = 409
    code = 1005
    should_retry = True


class IdempotencyMismatch(VoicememoError):
    status = 422
    code = 1005


class PayloadTooLarge(VoicememoError):
    status = 413
    code = 5001


class RateLimited(VoicememoError):
    status = 429
    code = 1007

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InternalError(VoicememoError):
    status = 500
    code = 3006


class HandleUnreachable(InvalidParameter):
    """No service reaches the handle from this line (e.g. no iMessage and the line sends no SMS)."""


class LineUnavailable(VoicememoError):
    """The line's sender could not answer a question the request depends on (a Mac that is off,
    or one that refuses us); the request changed nothing. Code 4010 as Linq's "check could not run"."""

    status = 503
    code = 4010

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.should_retry = retry


class StorageUnavailable(VoicememoError):
    """The blob store (an S3 bucket) failed or did not answer in time; the request changed nothing and
    may be tried again. The contract's internal-error code, with 503 and a retry hint rather than 500."""

    status = 503
    code = 3006
    should_retry = True
