"""Build the signer a ``signingkeys.json`` entry describes: a local key file (plain or encrypted) or a PKCS#11 key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from notation_py.config.files import KeySuite
from notation_py.envelope.model import PrimitiveSigner
from notation_py.errors import NotationError, PluginError, SigningKeyError
from notation_py.keys.local import LocalSigner
from notation_py.keys.passphrase import ENV_KEY_PASSPHRASE, PromptFn, obtain_secret

if TYPE_CHECKING:
    from notation_py.keys.pkcs11 import Pkcs11KeySpec


def config_relative(config_root: Path, path: str) -> Path:
    """``path`` with ``~`` expanded; relative paths are taken relative to the configuration directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else config_root / p


def key_passphrase(
    suite_name: str,
    passphrase_file: Path | None,
    *,
    new: bool = False,
    error: type[NotationError] = SigningKeyError,
    file_flag: str = "--passphrase-file FILE",
    prompt: PromptFn | None = None,
) -> bytes:
    """The passphrase of local key ``suite_name``: ``passphrase_file``, ``$NOTATION_KEY_PASSPHRASE``, or a prompt.

    Raises:
        SigningKeyError: no passphrase available (or, for a new one, too short or not confirmed).
    """
    return obtain_secret(
        what=f'passphrase of signing key "{suite_name}"',
        file=passphrase_file,
        env=ENV_KEY_PASSPHRASE,
        file_flag=file_flag,
        new=new,
        error=error,
        prompt=prompt,
    )


def local_signer(
    suite: KeySuite, config_root: Path, *, passphrase_file: Path | None = None, prompt: PromptFn | None = None
) -> LocalSigner:
    """The signer of a local key entry; an encrypted key is decrypted with its passphrase.

    The passphrase comes from ``passphrase_file`` (a flag), else the entry's ``passphraseFile``,
    else ``$NOTATION_KEY_PASSPHRASE``, else a terminal prompt; it is asked for only when the key is
    encrypted.

    Raises:
        SigningKeyError: see :meth:`LocalSigner.from_files`.
    """
    key_path = config_relative(config_root, suite.key_path or "")
    cert_path = config_relative(config_root, suite.cert_path or "")
    configured = config_relative(config_root, suite.passphrase_file) if suite.passphrase_file else None
    source = passphrase_file or configured
    return LocalSigner.from_files(
        key_path,
        cert_path,
        get_password=lambda: key_passphrase(
            suite.name, source, file_flag="passphraseFile in signingkeys.json", prompt=prompt
        ),
    )


def pkcs11_spec(suite: KeySuite, config_root: Path) -> Pkcs11KeySpec:
    """The :class:`~notation_py.keys.pkcs11.Pkcs11KeySpec` of a PKCS#11 entry.

    Raises:
        SigningKeyError: the entry is not a PKCS#11 key, or its URI is invalid.
    """
    from notation_py.keys.pkcs11 import Pkcs11KeySpec
    from notation_py.keys.pkcs11_uri import Pkcs11Uri

    if suite.pkcs11 is None:
        raise SigningKeyError(f'signing key "{suite.name}" is not a PKCS#11 key')
    cfg = suite.pkcs11
    return Pkcs11KeySpec(
        uri=Pkcs11Uri.parse(cfg.uri, SigningKeyError),
        cert_path=config_relative(config_root, cfg.cert_path) if cfg.cert_path else None,
        pin_file=config_relative(config_root, cfg.pin_file) if cfg.pin_file else None,
        name=suite.name,
    )


def signer_for_key(
    suite: KeySuite, config_root: Path, *, passphrase_file: Path | None = None, prompt: PromptFn | None = None
) -> PrimitiveSigner:
    """The signer for a ``signingkeys.json`` entry.

    Args:
        suite: The entry.
        config_root: The configuration directory (relative paths in the entry start there).
        passphrase_file: Overrides the entry's ``passphraseFile`` for an encrypted local key.
        prompt: Terminal reader for passphrases and PINs (tests).

    Raises:
        PluginError: a plugin key (plugins are not run).
        SigningKeyError: the key cannot be loaded or reached, the passphrase or PIN is wrong, or the
            certificate chain cannot be used for signing.
    """
    if suite.is_plugin:
        raise PluginError(f'signing key "{suite.name}" is a plugin key; notation-py does not run signing plugins yet')
    if suite.pkcs11 is not None:
        from notation_py.keys.pkcs11 import Pkcs11Signer

        return Pkcs11Signer(pkcs11_spec(suite, config_root), prompt=prompt)
    return local_signer(suite, config_root, passphrase_file=passphrase_file, prompt=prompt)
