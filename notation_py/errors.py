"""The one exception tree of notation_py.

Every error raised on purpose derives from :class:`NotationError`. The CLI maps the tree to exit
codes in one place (``notation_py.cli.errors``); library callers catch what they need.

Messages follow notation-go's wording where users and scripts are likely to match on them.
"""

from __future__ import annotations


class NotationError(Exception):
    """Root of every deliberate notation_py error."""

    @property
    def message(self) -> str:
        """The human-readable message (the first argument)."""
        return str(self.args[0]) if self.args else self.__class__.__name__


# --- usage and configuration ------------------------------------------------------------------


class UsageError(NotationError):
    """The caller asked for something malformed: a bad flag value, reference or argument."""


class ConfigError(NotationError):
    """A configuration file or directory is missing or invalid."""


class TrustPolicyError(ConfigError):
    """A trust policy document is invalid, or no statement applies to an artifact."""


class TrustStoreError(ConfigError):
    """A trust store is missing, empty, or holds a certificate it must not hold."""


class SigningKeyError(ConfigError):
    """A signing key is missing, unreadable or not usable with its certificate."""


# --- formats --------------------------------------------------------------------------------


class EnvelopeError(NotationError):
    """A signature envelope is malformed or violates the envelope specification."""


class UnsupportedEnvelopeError(EnvelopeError):
    """The envelope media type or algorithm is not supported."""


class SignatureIntegrityError(EnvelopeError):
    """The signature does not verify over the envelope's signed bytes."""


class CertificateError(NotationError):
    """A certificate or certificate chain violates the Notary Project certificate requirements."""


class PayloadError(NotationError):
    """The signed payload is malformed or does not match the artifact."""


class DigestError(NotationError):
    """A digest string is malformed, or content does not match its digest."""


# --- artifacts and storage ------------------------------------------------------------------


class ArtifactError(NotationError):
    """An artifact, manifest, blob or signature could not be found or read."""


class NotFoundError(ArtifactError):
    """The named artifact, blob, tag or file does not exist."""


class LayoutError(ArtifactError):
    """An OCI image layout is missing or malformed."""


class RegistryError(ArtifactError):
    """A registry refused a request or could not be reached.

    Attributes:
        status: The HTTP status code, or ``None`` when no response arrived.
        code: The first distribution-spec error code of the response body (``MANIFEST_UNKNOWN``,
            ``DENIED``, ...), or ``None``.
    """

    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthenticationError(RegistryError):
    """The registry (or its token service) did not accept the credentials, or none were available."""


class CredentialError(ConfigError):
    """Credentials could not be read or stored: a malformed config file or a failing credential helper."""


# --- operations -----------------------------------------------------------------------------


class SigningError(NotationError):
    """Signing could not be completed; nothing was written."""


class PluginError(NotationError):
    """A plugin is missing, or misbehaved."""


class TimestampError(NotationError):
    """An RFC 3161 timestamp countersignature is missing, malformed or not trusted."""


class RevocationError(NotationError):
    """Revocation status could not be determined, or a certificate is revoked."""


class DeadlineExceededError(NotationError):
    """An operation did not finish within its overall deadline (:class:`notation_py.deadline.Deadline`).

    Deliberately not a :class:`VerificationError`, :class:`RegistryError` or :class:`RevocationError`:
    verification catches those per signature and goes on with the next one, whereas a passed
    deadline ends the whole operation.

    Attributes:
        operation: What had to finish (``verification of registry.example/app@sha256:...``).
        seconds: The deadline, in seconds from the start of the operation.
    """

    def __init__(self, message: str, operation: str = "", seconds: float | None = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.seconds = seconds


class VerificationError(NotationError):
    """Signature verification failed.

    ``failures`` holds one message per evaluated signature (``digest: reason``) so callers
    and the CLI can explain why every candidate was rejected.
    """

    def __init__(self, message: str, failures: list[str] | None = None) -> None:
        super().__init__(message)
        self.failures: list[str] = list(failures or [])


class TransparencyError(VerificationError):
    """A transparency log proof is missing, malformed or does not verify, or the log cannot be used.

    Raised by :mod:`notation_py.transparency`: a proof not signed by a trusted log key, an inclusion
    proof that does not match the signature, a log that rolled back or forked, a log that cannot be
    reached or answers garbage. It is a :class:`VerificationError`, so a policy that requires
    transparency fails verification with it.
    """
