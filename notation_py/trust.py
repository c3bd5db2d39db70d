"""Binds a trust policy statement to its trust store, timestamp and revocation checks.

:class:`PolicyTrustAnchors` is the :class:`~notation_py.verify.TrustAnchors` the verifier uses:
it knows *what* the statement trusts; the verifier decides *when* each check runs and what a
failure does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509

from notation_py.envelope.model import EnvelopeContent, SigningScheme
from notation_py.errors import RevocationError
from notation_py.policy.document import TrustPolicyStatement
from notation_py.policy.levels import VerificationLevel
from notation_py.policy.truststore import StoreType, TrustStore
from notation_py.revocation import Purpose, RevocationChecker, raise_for_result
from notation_py.timestamp.authentic import verify_authentic_timestamp

if TYPE_CHECKING:
    from notation_py.plugins.verification import VerificationPluginCheck

_STORE_FOR_SCHEME = {
    SigningScheme.X509: StoreType.CA,
    SigningScheme.X509_SIGNING_AUTHORITY: StoreType.SIGNING_AUTHORITY,
}


class PolicyTrustAnchors:
    """What one trust policy statement trusts, with the checks that depend on it.

    Args:
        statement: The applicable statement.
        trust_store: Where the statement's named stores live.
        revocation: Checker for OCSP/CRL; None disables revocation checking entirely (then the
            revocation check fails closed unless the level skips it).
        plugin_directory: Where verification plugins are installed
            (:func:`notation_py.plugins.plugin_directory`); None: no plugin can be located.
        plugin_config: ``--plugin-config`` values passed to verification plugins.
        plugin_timeout: Seconds each verification plugin command may take (default: the plugins' default).
    """

    def __init__(
        self,
        statement: TrustPolicyStatement,
        trust_store: TrustStore,
        *,
        revocation: RevocationChecker | None,
        plugin_directory: Path | None = None,
        plugin_config: Mapping[str, str] | None = None,
        plugin_timeout: float | None = None,
    ) -> None:
        self.statement = statement
        self.trust_store = trust_store
        self.revocation = revocation
        self.plugin_directory = plugin_directory
        self.plugin_config: dict[str, str] = dict(plugin_config or {})
        self.plugin_timeout = plugin_timeout

    @property
    def name(self) -> str:
        """Statement name."""
        return self.statement.name

    @property
    def level(self) -> VerificationLevel:
        """The statement's verification level."""
        return self.statement.level

    def trusted_certificates(self, scheme: SigningScheme) -> list[x509.Certificate]:
        """Certificates of the ``ca`` (x509) or ``signingAuthority`` stores the statement references."""
        return self.statement.certificates(self.trust_store, _STORE_FOR_SCHEME[scheme])

    def check_identity(self, leaf: x509.Certificate) -> None:
        """Leaf subject against the trusted identities."""
        self.statement.verify_identity(leaf)

    def _tsa_revocation(self, chain: Sequence[x509.Certificate], _now: datetime) -> None:
        if self.revocation is None:
            return
        raise_for_result(self.revocation.check_chain(list(chain), purpose=Purpose.TIMESTAMPING))

    def check_authentic_timestamp(self, content: EnvelopeContent, now: datetime) -> None:
        """The authentic-timestamp step (signing time in cert validity, or a trusted RFC 3161 token)."""
        verify_authentic_timestamp(
            content,
            self.statement,
            self.trust_store,
            now,
            revocation_check=self._tsa_revocation if self.revocation is not None else None,
        )

    def check_revocation(self, content: EnvelopeContent) -> None:
        """OCSP/CRL status of the signing chain; authentic signing time only for the SA scheme (as Go)."""
        if self.revocation is None:
            raise RevocationError("revocation checking is not configured")
        signed = content.signed
        authentic = (
            signed.authentic_signing_time if signed.signing_scheme is SigningScheme.X509_SIGNING_AUTHORITY else None
        )
        result = self.revocation.check_chain(
            list(content.unsigned.certificate_chain),
            authentic_signing_time=authentic,
            purpose=Purpose.CODE_SIGNING,
            validate_chain=False,  # integrity already validated the chain
        )
        raise_for_result(result)

    def verification_plugin(self, content: EnvelopeContent) -> VerificationPluginCheck | None:
        """The verification plugin the envelope names, checked usable; None when it names none.

        The returned check carries this statement's trusted identities and the plugin configuration;
        see :mod:`notation_py.plugins.verification` for how the verifier uses it.

        Raises:
            PluginError: the plugin is missing, too old, has no verification capability, or its
                metadata cannot be read (notation-go's messages; always an enforced failure).
        """
        if content.signed.verification_plugin is None:
            return None  # as prepare_verification_plugin returns, without importing the plugin machinery
        # Imported here: only signatures that name a verification plugin need the plugin machinery.
        from notation_py.plugins.process import DEFAULT_TIMEOUT
        from notation_py.plugins.verification import prepare_verification_plugin

        return prepare_verification_plugin(
            content,
            directory=self.plugin_directory,
            trusted_identities=self.statement.trusted_identities,
            plugin_config=self.plugin_config,
            timeout=self.plugin_timeout if self.plugin_timeout is not None else DEFAULT_TIMEOUT,
        )
