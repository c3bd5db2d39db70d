"""Artifact references: ``registry/repository[:tag|@digest]`` and OCI layout ``path[:tag|@digest]``.

Registry references follow the distribution reference grammar as oras-go's ``ParseReference``
applies it (which notation uses): the registry is always explicit (no ``docker.io`` default), the
repository path is lowercase, a tag matches ``[\\w][\\w.-]{0,127}``, and in ``repo:tag@digest``
the digest wins and the tag is dropped.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

from notation_py.errors import DigestError, UsageError
from notation_py.oci.digest import Digest

_PATH_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REPOSITORY_RE: Final = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_TAG_RE: Final = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DOMAIN_COMPONENT_RE: Final = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")
_PORT_RE: Final = re.compile(r"[0-9]+")
#: Tags of an OCI layout (``org.opencontainers.image.ref.name`` values addressable from the CLI).
_LAYOUT_TAG_RE: Final = re.compile(r"[\w][\w.+-]{0,127}", re.ASCII)
#: distribution's limit on the repository name length.
_MAX_NAME_LENGTH: Final = 255


def is_tag(value: str) -> bool:
    """Whether ``value`` is a valid registry tag."""
    return _TAG_RE.fullmatch(value) is not None


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return all(_DOMAIN_COMPONENT_RE.fullmatch(part) for part in host.split("."))


def _valid_registry(registry: str) -> bool:
    if registry.startswith("["):
        host, bracket, port_part = registry.partition("]")
        host += bracket
    else:
        host, _, port_part = registry.partition(":")
        port_part = f":{port_part}" if ":" in registry else ""
    if port_part:
        port = port_part[1:] if port_part.startswith(":") else None
        if port is None or not _PORT_RE.fullmatch(port) or int(port) > 65535:
            return False
    return bool(host) and _valid_host(host)


def _parse_digest(value: str, raw: str) -> Digest:
    try:
        return Digest.parse(value)
    except DigestError as e:
        raise UsageError(f"invalid reference {raw!r}: {e.message}") from e


@dataclass(frozen=True)
class RegistryReference:
    """A reference to an artifact in a registry.

    Attributes:
        registry: Host with optional port, e.g. ``localhost:5000``.
        repository: Repository path, e.g. ``software/net-monitor``.
        tag: The tag, or ``None``.
        digest: The digest, or ``None``. When set, ``tag`` is ``None``.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, raw: str) -> RegistryReference:
        """Parse ``registry/repository[:tag|@digest]``.

        Args:
            raw: The reference string.

        Returns:
            The reference; ``tag`` and ``digest`` are both ``None`` when neither was given.

        Raises:
            UsageError: The reference is malformed; the message says which part.
        """
        if not isinstance(raw, str) or not raw:
            raise UsageError("invalid reference: empty reference")
        registry, slash, rest = raw.partition("/")
        if not slash or not registry or not rest:
            raise UsageError(f"invalid reference {raw!r}: missing registry or repository")
        if not _valid_registry(registry):
            raise UsageError(f"invalid reference {raw!r}: invalid registry {registry!r}")
        tag: str | None = None
        digest: Digest | None = None
        repository, at, digest_part = rest.partition("@")
        if at:
            digest = _parse_digest(digest_part, raw)
            # oras-go drops the tag of "repo:tag@digest": the digest is what is addressed.
            repository = repository.rpartition(":")[0] if ":" in repository else repository
        elif ":" in repository:
            repository, _, tag = repository.rpartition(":")
            if not is_tag(tag):
                raise UsageError(f"invalid reference {raw!r}: invalid tag {tag!r}")
        if not _REPOSITORY_RE.fullmatch(repository):
            raise UsageError(
                f"invalid reference {raw!r}: invalid repository {repository!r} "
                "(lowercase letters, digits and separators '.', '_', '__', '-' between '/'-separated components)"
            )
        if len(registry) + 1 + len(repository) > _MAX_NAME_LENGTH:
            raise UsageError(f"invalid reference {raw!r}: repository name longer than {_MAX_NAME_LENGTH} characters")
        return cls(registry, repository, tag, digest)

    @property
    def repository_path(self) -> str:
        """``registry/repository``: what trust policy ``registryScopes`` match."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str | None:
        """The digest string, else the tag, else ``None``."""
        return str(self.digest) if self.digest is not None else self.tag

    def with_digest(self, digest: Digest) -> RegistryReference:
        """This reference addressing ``digest`` (any tag dropped)."""
        return RegistryReference(self.registry, self.repository, None, digest)

    def __str__(self) -> str:
        if self.digest is not None:
            return f"{self.repository_path}@{self.digest}"
        if self.tag is not None:
            return f"{self.repository_path}:{self.tag}"
        return self.repository_path


@dataclass(frozen=True)
class LayoutReference:
    """A reference to an artifact in an OCI image layout directory (``--oci-layout``).

    Attributes:
        path: The layout directory as given.
        tag: The tag (``org.opencontainers.image.ref.name``), or ``None``.
        digest: The digest, or ``None``. Exactly one of ``tag`` and ``digest`` is set.
    """

    path: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, raw: str) -> LayoutReference:
        """Parse ``path@digest`` or ``path:tag`` as the notation CLI does.

        The last ``@`` introduces a digest. Otherwise the last ``:`` introduces a tag when what
        follows contains no path separator, so ``dir:with:colons:v1`` is ``dir:with:colons`` + ``v1``.

        Raises:
            UsageError: No tag or digest, an empty path, or a malformed tag or digest.
        """
        if not isinstance(raw, str) or not raw:
            raise UsageError("invalid reference: empty reference")
        if "@" in raw:
            path, _, digest_part = raw.rpartition("@")
            if not path:
                raise UsageError(f"found empty file path in {raw!r}")
            return cls(path, None, _parse_digest(digest_part, raw))
        path, colon, tag = raw.rpartition(":")
        if not colon or "/" in tag or "\\" in tag:
            raise UsageError(f"invalid reference {raw!r}: reference is missing either digest or tag")
        if not path:
            raise UsageError(f"found empty file path in {raw!r}")
        if not _LAYOUT_TAG_RE.fullmatch(tag):
            raise UsageError(f"invalid reference {raw!r}: invalid tag {tag!r}")
        return cls(path, tag, None)

    @property
    def reference(self) -> str:
        """The digest string or the tag."""
        return str(self.digest) if self.digest is not None else str(self.tag)

    def with_digest(self, digest: Digest) -> LayoutReference:
        """This reference addressing ``digest`` (the tag dropped)."""
        return LayoutReference(self.path, None, digest)

    def __str__(self) -> str:
        if self.digest is not None:
            return f"{self.path}@{self.digest}"
        return f"{self.path}:{self.tag}"


def is_layout_tag(value: str) -> bool:
    """Whether ``value`` can be used as a tag of an OCI layout (see :meth:`LayoutReference.parse`)."""
    return _LAYOUT_TAG_RE.fullmatch(value) is not None
