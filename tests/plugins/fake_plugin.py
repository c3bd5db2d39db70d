"""A notation plugin written for the tests, installed into a temporary plugin directory.

:func:`install_plugin` writes ``<plugins>/<name>/notation-<name>``: a Python script whose shebang is
the test interpreter, with its key, certificate chain and ``settings.json`` next to it. It speaks the
real contract (JSON on stdin/stdout, JSON errors on stderr with exit code 1) and can misbehave on
request: ``settings["mode"]`` (or ``pluginConfig["mode"]``, so plugin configuration is exercised too)
selects a fault, ``settings["mode_command"]`` limits it to one command. Every request is appended to
``requests.jsonl`` next to the script.
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from notation_py.envelope.algorithms import PrivateKey

SCRIPT = r"""
import base64, hashlib, json, os, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))


def emit(doc):
    sys.stdout.write(json.dumps(doc))
    sys.stdout.flush()


def fail(code, message, status=1):
    sys.stderr.write(json.dumps({"errorCode": code, "errorMessage": message, "errorMetadata": {"hint": "test"}}))
    sys.exit(status)


def load_key_and_chain():
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    with open(os.path.join(HERE, "key.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(HERE, "chain.pem"), "rb") as f:
        chain = x509.load_pem_x509_certificates(f.read())
    return key, chain


SIGNING_ALGORITHMS = {
    "RSA-2048": "RSASSA-PSS-SHA-256", "RSA-3072": "RSASSA-PSS-SHA-384", "RSA-4096": "RSASSA-PSS-SHA-512",
    "EC-256": "ECDSA-SHA-256", "EC-384": "ECDSA-SHA-384", "EC-521": "ECDSA-SHA-512",
}


def raw_sign(key, data, hash_name):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    h = {"SHA-256": hashes.SHA256(), "SHA-384": hashes.SHA384(), "SHA-512": hashes.SHA512()}[hash_name]
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
    n = (key.curve.key_size + 7) // 8
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    request = json.loads(sys.stdin.read() or "{}")
    with open(os.path.join(HERE, "settings.json")) as f:
        settings = json.load(f)
    with open(os.path.join(HERE, "requests.jsonl"), "a") as f:
        f.write(json.dumps({"command": command, "request": request}) + "\n")
    config = request.get("pluginConfig") or {}
    mode = config.get("mode", settings.get("mode", "ok"))
    if settings.get("mode_command") not in (None, command):
        mode = "ok"

    if mode == "bad-json":
        sys.stdout.write('{"name": "oops"')
        return
    if mode == "not-object":
        emit(["a", "list"])
        return
    if mode == "error":
        fail("ACCESS_DENIED", "the key vault refused the request")
    if mode == "exit2":
        sys.stderr.write("segmentation fault (not really)\n")
        sys.exit(2)
    if mode == "huge":
        chunk = "x" * 65536
        for _ in range(settings.get("huge_chunks", 64)):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return
    if mode == "hang":
        time.sleep(60)
        return

    if command == "get-plugin-metadata":
        emit({
            "name": settings["name"],
            "description": "notation-py test plugin",
            "version": settings.get("version", "1.0.0"),
            "url": "https://example.com/test-plugin",
            "supportedContractVersions": settings.get("contract_versions", ["1.0"]),
            "capabilities": settings["capabilities"],
        })
    elif command == "describe-key":
        if request.get("keyId") != settings["key_id"]:
            fail("VALIDATION_ERROR", "unknown key " + str(request.get("keyId")))
        emit({
            "keyId": "another-key" if mode == "wrong-key-id" else request["keyId"],
            "keySpec": settings.get("described_key_spec", settings["key_spec"]),
        })
    elif command == "generate-signature":
        key, chain = load_key_and_chain()
        payload = base64.b64decode(request["payload"])
        if mode == "tamper":
            payload = payload + b"tampered"
        signature = raw_sign(key, payload, request["hashAlgorithm"])
        algorithm = SIGNING_ALGORITHMS[request["keySpec"]]
        if mode == "wrong-algorithm":
            algorithm = "ECDSA-SHA-384" if algorithm != "ECDSA-SHA-384" else "ECDSA-SHA-256"
        from cryptography.hazmat.primitives.serialization import Encoding
        certs = [base64.b64encode(c.public_bytes(Encoding.DER)).decode() for c in chain]
        if mode == "bad-chain":
            certs = certs[:1] + certs[2:]  # drop the intermediate: the chain is no longer ordered
        emit({
            "keyId": "another-key" if mode == "wrong-key-id" else request["keyId"],
            "signature": base64.b64encode(signature).decode(),
            "signingAlgorithm": algorithm,
            "certificateChain": certs,
        })
    elif command == "generate-envelope":
        from datetime import datetime, timedelta, timezone
        from notation_py.envelope import sign_envelope
        from notation_py.envelope.model import SignRequest
        from notation_py.keys.local import LocalSigner

        key, chain = load_key_and_chain()
        payload = base64.b64decode(request["payload"])
        doc = json.loads(payload)
        if mode == "alter-target":
            doc["targetArtifact"]["digest"] = "sha256:" + hashlib.sha256(b"something else").hexdigest()
        if mode == "drop-annotation":
            doc["targetArtifact"].pop("annotations", None)
        if mode == "add-member":
            doc["targetArtifact"]["extra"] = "unexpected"
        if mode == "add-annotation":
            doc["targetArtifact"].setdefault("annotations", {})["io.example.added"] = "by-plugin"
        payload = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        now = datetime.now(timezone.utc)
        expiry = request.get("expiryDurationInSeconds")
        envelope = sign_envelope(request["signatureEnvelopeType"], SignRequest(
            payload=payload,
            signer=LocalSigner(key, chain),
            signing_time=now,
            expiry=now + timedelta(seconds=expiry) if expiry else None,
            signing_agent="test-plugin/" + settings.get("version", "1.0.0"),
        ))
        if mode == "corrupt-envelope":
            envelope = envelope.replace(b'"signature":"', b'"signature":"AA', 1)
        envelope_type = request["signatureEnvelopeType"]
        if mode == "wrong-envelope-type":
            envelope_type = "application/cose" if envelope_type != "application/cose" else "application/jose+json"
        emit({
            "signatureEnvelope": base64.b64encode(envelope).decode(),
            "signatureEnvelopeType": envelope_type,
            "annotations": {"io.example.plugin": "envelope-plugin"},
        })
    elif command == "verify-signature":
        requested = request["trustPolicy"]["signatureVerification"]
        results = {}
        for capability in requested:
            results[capability] = {"success": True, "reason": ""}
        if mode == "identity-fail" and "SIGNATURE_VERIFIER.TRUSTED_IDENTITY" in results:
            results["SIGNATURE_VERIFIER.TRUSTED_IDENTITY"] = {"success": False, "reason": "identity not allowed"}
        if mode == "revocation-fail" and "SIGNATURE_VERIFIER.REVOCATION_CHECK" in results:
            results["SIGNATURE_VERIFIER.REVOCATION_CHECK"] = {"success": False, "reason": "certificate revoked"}
        if mode == "missing-result":
            results = {}
        processed = list(request["signature"]["unprocessedAttributes"])
        if mode == "unprocessed":
            processed = []
        emit({"verificationResults": results, "processedAttributes": processed})
    else:
        fail("VALIDATION_ERROR", "unknown command " + command)


main()
"""

#: Capabilities of a signing plugin that returns raw signatures / whole envelopes, and of a verifier.
RAW = ["SIGNATURE_GENERATOR.RAW"]
ENVELOPE = ["SIGNATURE_GENERATOR.ENVELOPE"]
VERIFIER = ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY", "SIGNATURE_VERIFIER.REVOCATION_CHECK"]


@dataclass
class InstalledPlugin:
    """A test plugin on disk."""

    name: str
    directory: Path
    executable: Path

    @property
    def settings_path(self) -> Path:
        """``settings.json`` next to the executable."""
        return self.directory / self.name / "settings.json"

    def configure(self, **changes: Any) -> None:
        """Change settings (``mode``, ``mode_command``, ``version``, ``capabilities``, ...)."""
        settings = json.loads(self.settings_path.read_text())
        settings.update(changes)
        self.settings_path.write_text(json.dumps(settings))

    def requests(self, command: str | None = None) -> list[dict[str, Any]]:
        """The requests received so far (optionally of one command), oldest first."""
        log = self.directory / self.name / "requests.jsonl"
        if not log.exists():
            return []
        entries = [json.loads(line) for line in log.read_text().splitlines() if line]
        return [e["request"] for e in entries if command is None or e["command"] == command]


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def install_plugin(
    directory: Path,
    name: str,
    *,
    capabilities: Sequence[str],
    key: PrivateKey | None = None,
    chain: Sequence[x509.Certificate] = (),
    key_spec: str = "EC-256",
    key_id: str = "test-key",
    settings: Mapping[str, Any] | None = None,
) -> InstalledPlugin:
    """Write the plugin ``name`` into ``directory`` (the plugin directory) and return it."""
    home = directory / name
    home.mkdir(parents=True, exist_ok=True)
    executable = home / f"notation-{name}"
    executable.write_text(f"#!{sys.executable}\n" + SCRIPT)
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    if key is not None:
        (home / "key.pem").write_bytes(_pem_key(key))
        (home / "chain.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    doc: dict[str, Any] = {"name": name, "capabilities": list(capabilities), "key_spec": key_spec, "key_id": key_id}
    doc.update(settings or {})
    (home / "settings.json").write_text(json.dumps(doc))
    return InstalledPlugin(name=name, directory=directory, executable=executable)
