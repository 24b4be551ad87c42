"""Every error the library raises on purpose; each message is one line written for the user.

    ExportError                   base: ``str(error)`` says what is wrong and what to do
    ├── ConfigError               bad input or settings (org name, date, URL, missing token)
    ├── AuthError                 the Hub refused the credentials
    │   ├── TwoFactorRequired     a password of a 2FA account was given instead of a token
    │   ├── LoginRateLimited      the Hub rate-limits logins for this identifier
    │   └── HubForbidden          the token may not read this listing (403, or 401 after a login)
    ├── HubError                  the Hub answered something we cannot use
    │   ├── TransientHubError     one 429 / 5xx answer: retried by the client, surfaces only
    │   │                         as HubUnavailable once retries are exhausted
    │   ├── HubUnavailable        429 / 5xx / network failures outlasted every retry
    │   ├── HubNotFound           the first page of a listing answered 404 (a wrong URL, or a
    │   │                         repository deleted while its tags were listed)
    │   └── ForeignHostError      a link pointed at another host: the token is never sent there
    ├── EmptyOrgError             zero repositories visible (unknown org or a token without scope)
    ├── OutputError               the CSV could not be written
    ├── StoreError                the snapshot database failed or refused
    │   └── HistoryGuardError     this run would silently rewrite history (lost scope, big drop)
    └── BackfillError             some CSV files to import are malformed

Errors are translated once, at the boundary that sees the raw failure (HTTP in ``hub``/``auth``,
SQL in ``store``); nothing above that boundary catches httpx or SQLAlchemy exceptions.
"""


class ExportError(Exception):
    """Base class: the message is a complete, single-line explanation for the user."""


class ConfigError(ExportError):
    """The settings or the command line are wrong."""


class AuthError(ExportError):
    """Docker Hub refused to authenticate."""


class TwoFactorRequired(AuthError):
    """The account has 2FA and a password was given."""


class LoginRateLimited(AuthError):
    """Too many logins for this identifier."""


class HubForbidden(AuthError):
    """The Hub answered 403: the token (or the plan) does not allow this listing."""


class HubError(ExportError):
    """Docker Hub answered something unusable."""


class TransientHubError(HubError):
    """A single retryable answer (429, 5xx); ``retry_after`` is the Hub's requested pause in seconds."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class HubUnavailable(HubError):
    """Retries were exhausted."""


class HubNotFound(HubError):
    """The first page of a listing answered 404."""


class ForeignHostError(HubError):
    """A link or redirect pointed away from the configured API host."""


class EmptyOrgError(ExportError):
    """No repository is visible for the organization."""


class OutputError(ExportError):
    """Writing the CSV failed."""


class StoreError(ExportError):
    """The snapshot database failed."""


class HistoryGuardError(StoreError):
    """The run looks like a broken token or a partial listing, not a real change."""


class BackfillError(ExportError):
    """One or more files to import are malformed (each named with its line)."""
