"""What the client raises: one base type to catch, and messages that say what was tried."""

from __future__ import annotations


class ClientError(RuntimeError):
    """The services could not be used; the message says what was tried and why it failed."""


class NotAllowed(ClientError):
    """A file the services share exists, but this user may not read it (not in the team's group)."""


class ServicesUnavailable(ClientError):
    """No embed server answered before the call's deadline (a requeue longer than it, no job),
    or a batch was answered "try again" (429/503) or 5xx `max_attempts` times."""


class RequestRefused(ClientError):
    """A server refused the request itself (bad input, a wrong or missing key, a malformed
    answer): sending it elsewhere would not help, so the call stops."""
