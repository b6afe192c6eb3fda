"""What the client raises: one base type to catch, and messages that say what was tried."""

from __future__ import annotations


class ClientError(RuntimeError):
    """The services could not be used; the message says what was tried and why it failed."""


class NotAllowed(ClientError):
    """A file the services share exists, but this user may not read it (not in the team's group)."""


class ServicesUnavailable(ClientError):
    """No embed server answered before the call's deadline (a requeue longer than it, no job)."""


class RequestRefused(ClientError):
    """A server refused the request itself (bad input, a missing key, too many "try again"
    answers): sending it elsewhere would not help, so the call stops."""
