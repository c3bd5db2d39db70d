"""``notation-py`` with a transparency log, end to end: real ``tlog serve`` subprocesses on loopback,
OCI layouts, blobs and distribution 2.8.2 (``docker-registry``).

Signing records every signature and stores the proof beside it; a trust policy statement with
``transparencyLog`` then refuses signatures that were not recorded, proofs that do not prove this
signature of this artifact, checkpoints of untrusted keys or origins, and (online) logs that rolled
back or forked.
"""

from __future__ import annotations

import base64
import json
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from notation_py.oci.descriptor import Descriptor
from notation_py.oci.layout import OCILayout
from notation_py.oci.signatures import fetch_signature, list_signature_manifests
from notation_py.transparency import (
    ARTIFACT_TYPE_TLOG_PROOF,
    Inclusion,
    LogClient,
    LoggedSignature,
    find_proof_referrers,
    push_proof_referrer,
)
from tests.cli.conftest import SCOPE, Cli, Layout, blob_statement, make_layout, oci_statement
from tests.cli.registry_helpers import seed
from tests.registry.servers import OCIRegistryFactory, RunningRegistry
from tests.tlog.live import Served, serve, tlog
from tlog.note import generate_signer

pytestmark = pytest.mark.real_server

ORIGIN = "tlog.test.example"
TOKEN = "tlog-test-token-0123456789abcdef"
INSECURE = "--insecure-registry"


@dataclass
class Log:
    """A served log: its directory, URL, verifier key and a token file holding its write token."""

    directory: Path
    url: str
    vkey: str
    token_file: Path
    served: Served

    def stop(self) -> None:
        """Stop gracefully (the database is closed cleanly, so the directory can be copied)."""
        self.served.process.send_signal(signal.SIGTERM)
        self.served.process.wait(30)


def init_log(directory: Path, origin: str = ORIGIN) -> str:
    """``tlog init``; returns the verifier key it prints."""
    result = tlog("init", "--dir", directory, "--origin", origin)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@contextmanager
def running(directory: Path, vkey: str) -> Iterator[Log]:
    """``tlog serve`` on ``directory`` with a bearer token (writes need it)."""
    token_file = directory.parent / f"{directory.name}.token"
    token_file.write_text(TOKEN + "\n")
    with serve(directory, "--token-file", token_file) as served:
        yield Log(directory, served.url, vkey, token_file, served)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    directory = tmp_path / "log"
    vkey = init_log(directory)
    with running(directory, vkey) as served:
        yield served


def transparency(log: Log, **overrides: Any) -> dict[str, Any]:
    """A ``transparencyLog`` member requiring proofs from ``log``."""
    member: dict[str, Any] = {"required": True, "verifierKeys": [log.vkey]}
    member.update(overrides)
    return member


def require_log(
    cli: Cli, log: Log, *, level: str = "strict", scopes: tuple[str, ...] = (SCOPE,), **member: Any
) -> None:
    statement = oci_statement(level=level, scopes=scopes)
    statement["transparencyLog"] = transparency(log, **member)
    cli.write_oci_policy(statement)


def sign_logged(cli: Cli, log: Log, *target: str) -> str:
    result = cli.ok("sign", "--tlog", log.url, "--tlog-token-file", log.token_file, *target)
    assert f"Recorded in transparency log {ORIGIN} at index" in result.out, result.out
    return result.out


def signature_manifests(layout: Layout) -> list[Descriptor]:
    store = OCILayout(layout.path)
    return list(list_signature_manifests(store, store.resolve(layout.digest), 100))


# --- layouts: sign, store the proof, verify offline ---------------------------------------------------


def test_layout_sign_records_and_verify_requires_the_proof(cli: Cli, log: Log, layout: Layout) -> None:
    out = sign_logged(cli, log, "--oci-layout", layout.by_digest)
    assert "index 0 (checkpoint size 1)" in out
    (manifest,) = signature_manifests(layout)
    store = OCILayout(layout.path)
    ((proof_desc, proof),) = find_proof_referrers(store, manifest)
    assert proof.startswith(b"c2sp.org/tlog-proof@v1\nindex 0\n")
    assert b"extra " not in proof  # a layout names no repository

    require_log(cli, log)
    verified = cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert f"Successfully verified signature for {layout.path}@{layout.digest}" in verified.out
    assert f"Recorded in transparency log {ORIGIN} at index 0 (proven under checkpoint size 1)" in verified.out

    shown = cli.ok("inspect", "--oci-layout", layout.by_digest)
    assert "transparency log proofs" in shown.out
    assert f"log: {ORIGIN}" in shown.out
    assert "index: 0" in shown.out
    as_json = json.loads(cli.ok("inspect", "--oci-layout", "-o", "json", layout.by_digest).out)
    assert as_json["signatures"][0]["transparencyLog"] == [
        {"location": str(proof_desc.digest), "origin": ORIGIN, "index": 0, "treeSize": 1}
    ]
    shown = cli.ok("tlog", "proof", "--oci-layout", layout.by_digest)
    assert str(manifest.digest) in shown.out
    assert "checkpoint size: 1" in shown.out


def test_unlogged_signature_fails_when_required_and_warns_at_audit(cli: Cli, log: Log, layout: Layout) -> None:
    cli.ok("sign", "--oci-layout", layout.by_digest)
    require_log(cli, log)
    failed = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert failed.code == 1
    assert "has no transparency log proof and the trust policy requires one" in failed.err

    require_log(cli, log, level="audit")
    passed = cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert 'transparency was set to "log" and failed with error' in passed.err
    assert "Recorded in transparency log" not in passed.out

    statement = oci_statement()
    statement["signatureVerification"]["override"] = {"transparency": "skip"}
    statement["transparencyLog"] = transparency(log)
    cli.write_oci_policy(statement)
    cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)


def test_signature_logged_elsewhere_is_found_online_and_its_proof_attached(cli: Cli, log: Log, layout: Layout) -> None:
    """An image copied without its proof referrer: the log's search API finds the entry."""
    cli.ok("sign", "--oci-layout", layout.by_digest)
    (manifest,) = signature_manifests(layout)
    store = OCILayout(layout.path)
    subject = store.resolve(layout.digest)
    sig = fetch_signature(store, manifest, subject)
    logged = LoggedSignature(
        sig.envelope,
        sig.envelope_media_type,
        str(subject.digest),
        subject.media_type,
        subject.size,
        str(manifest.digest),
    )
    with LogClient(log.url, token=TOKEN) as client:
        client.submit(logged.submission(None))

    require_log(cli, log)
    assert cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest).code == 1
    online = cli.ok("verify", "--oci-layout", "--scope", SCOPE, "--tlog-online", "--tlog", log.url, layout.by_digest)
    assert f"Recorded in transparency log {ORIGIN} at index 0" in online.out

    attached = cli.ok(
        "tlog", "proof", "--oci-layout", "--scope", SCOPE, "--tlog", log.url, "--attach", layout.by_digest
    )
    assert "fetched and attached" in attached.out
    cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)  # offline again


def test_online_check_follows_the_log(cli: Cli, log: Log, layout: Layout, tmp_path: Path) -> None:
    sign_logged(cli, log, "--oci-layout", layout.by_digest)
    second = make_layout(tmp_path / "second", b"another layer")
    sign_logged(cli, log, "--oci-layout", second.by_digest)
    require_log(cli, log, online=True, url=log.url)
    verified = cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert "index 0 (proven under checkpoint size 1)" in verified.out


# --- the tamper matrix --------------------------------------------------------------------------------


def test_checkpoint_of_an_unknown_key_or_another_origin_fails(cli: Cli, log: Log, layout: Layout) -> None:
    sign_logged(cli, log, "--oci-layout", layout.by_digest)
    _signer, stranger = generate_signer(ORIGIN)  # same name, another key
    require_log(cli, log, verifierKeys=[stranger])
    failed = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert failed.code == 1
    assert "transparency log proof rejected" in failed.err

    _signer, renamed = generate_signer("other.origin.example")
    require_log(cli, log, verifierKeys=[renamed])
    failed = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert failed.code == 1
    assert "transparency log proof rejected" in failed.err


def _copy_proof(layout: Layout, source: Descriptor, target: Descriptor, proof: bytes) -> None:
    """Store ``proof`` as a referrer of the signature manifest ``target`` (it was made for ``source``)."""
    assert source != target
    inclusion = Inclusion(ORIGIN, 0, 1, b"\0" * 32, b"-", proof, None)
    push_proof_referrer(OCILayout(layout.path), target, inclusion, datetime.now(UTC))


def test_proof_of_another_signature_or_subject_fails(cli: Cli, log: Log, tmp_path: Path) -> None:
    signed = make_layout(tmp_path / "a", b"layer a")
    sign_logged(cli, log, "--oci-layout", signed.by_digest)
    ((manifest,),) = [signature_manifests(signed)]
    ((_desc, proof),) = find_proof_referrers(OCILayout(signed.path), manifest)

    # Another signature of the same image, carrying the first one's proof.
    cli.ok("sign", "--oci-layout", signed.by_digest)
    (other,) = [m for m in signature_manifests(signed) if m.digest != manifest.digest]
    _copy_proof(signed, manifest, other, proof)
    require_log(cli, log)
    result = cli("verify", "--oci-layout", "--scope", SCOPE, "-v", signed.by_digest)
    assert result.code == 0  # the first signature still verifies: notation's "any one signature"

    # An image whose only signature carries a proof made for another image's signature.
    victim = make_layout(tmp_path / "b", b"layer b")
    cli.ok("sign", "--oci-layout", victim.by_digest)
    (victim_manifest,) = signature_manifests(victim)
    _copy_proof(victim, manifest, victim_manifest, proof)
    failed = cli("verify", "--oci-layout", "--scope", SCOPE, victim.by_digest)
    assert failed.code == 1
    assert "transparency log proof rejected" in failed.err


def test_altered_proof_fails(cli: Cli, log: Log, layout: Layout) -> None:
    sign_logged(cli, log, "--oci-layout", layout.by_digest)
    sign_logged(cli, log, "--oci-layout", layout.by_digest)  # two entries: the proof has an audit path
    manifests = signature_manifests(layout)
    store = OCILayout(layout.path)
    # Replace the proofs of both signatures by altered copies (index changed: proves another leaf).
    for manifest in manifests:
        ((desc, proof),) = find_proof_referrers(store, manifest)
        altered = (
            proof.replace(b"\nindex 0\n", b"\nindex 1\n")
            if b"\nindex 0\n" in proof
            else proof.replace(b"\nindex 1\n", b"\nindex 0\n")
        )
        assert altered != proof
        _remove_referrer(layout, desc)
        _copy_proof(layout, desc, manifest, altered)
    _remove_announcements(layout)
    require_log(cli, log)
    failed = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert failed.code == 1
    assert failed.err.count("transparency log proof rejected") == 2


def _remove_referrer(layout: Layout, desc: Descriptor) -> None:
    """Delete a manifest from a layout's index (as if it had never been pushed)."""
    index_path = layout.path / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"] = [m for m in index["manifests"] if m["digest"] != str(desc.digest)]
    index_path.write_text(json.dumps(index))


def announcements(layout: Layout) -> list[Descriptor]:
    """The proof announcements among the image's referrers."""
    store = OCILayout(layout.path)
    return [
        d
        for d in store.referrers(store.resolve(layout.digest))
        if d.annotations and "io.notation-py.tlog.signature" in d.annotations
    ]


def _remove_announcements(layout: Layout) -> None:
    """What someone with write access to the registry can do: drop the announcements beside the signatures."""
    for desc in announcements(layout):
        _remove_referrer(layout, desc)


def test_log_that_rolled_back_or_forked_fails_online(cli: Cli, tmp_path: Path) -> None:
    directory = tmp_path / "log"
    vkey = init_log(directory)
    first = make_layout(tmp_path / "first", b"first")
    second = make_layout(tmp_path / "second", b"second")
    third = make_layout(tmp_path / "third", b"third")
    with running(directory, vkey) as log:
        sign_logged(cli, log, "--oci-layout", first.by_digest)
        log.stop()
    snapshot = tmp_path / "snapshot"
    shutil.copytree(directory, snapshot)  # the log at size 1
    with running(directory, vkey) as log:
        sign_logged(cli, log, "--oci-layout", second.by_digest)  # proven at size 2
        require_log(cli, log, online=True)
        cli.ok("verify", "--oci-layout", "--scope", SCOPE, "--tlog", log.url, second.by_digest)

    with running(snapshot, vkey) as rolled_back:
        failed = cli("verify", "--oci-layout", "--scope", SCOPE, "--tlog", rolled_back.url, second.by_digest)
        assert failed.code == 1
        assert "rolled back" in failed.err
        sign_logged(cli, rolled_back, "--oci-layout", third.by_digest)  # size 2 again, another leaf: a fork
        failed = cli("verify", "--oci-layout", "--scope", SCOPE, "--tlog", rolled_back.url, second.by_digest)
        assert failed.code == 1
        assert "forked" in failed.err


# --- failures at signing time ---------------------------------------------------------------------------


def test_log_refusing_or_down_fails_signing_and_says_the_signature_is_stored(
    cli: Cli, log: Log, layout: Layout, tmp_path: Path
) -> None:
    bad_token = tmp_path / "bad.token"
    bad_token.write_text("wrong-token-value\n")
    refused = cli("sign", "--oci-layout", "--tlog", log.url, "--tlog-token-file", bad_token, layout.by_digest)
    assert refused.code == 1
    assert "The signature was stored as sha256:" in refused.err
    assert "was not recorded in the transparency log" in refused.err

    log.stop()
    down = cli("sign", "--oci-layout", "--tlog", log.url, "--tlog-token-file", log.token_file, layout.by_digest)
    assert down.code == 1
    assert "was not recorded in the transparency log" in down.err
    kept = cli.ok(
        "sign",
        "--oci-layout",
        "--tlog",
        log.url,
        "--tlog-optional",
        "--tlog-token-file",
        log.token_file,
        layout.by_digest,
    )
    assert "without a transparency log record (--tlog-optional)" in kept.err
    assert len(signature_manifests(layout)) == 3


def test_log_settings_from_config_json_and_environment(
    cli: Cli, log: Log, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cli.config / "config.json").write_text(json.dumps({"transparencyLog": {"url": log.url}}))
    monkeypatch.setenv("NOTATION_TLOG_TOKEN", TOKEN)
    out = cli.ok("sign", "--oci-layout", layout.by_digest).out
    assert f"Recorded in transparency log {ORIGIN}" in out
    (cli.config / "config.json").write_text(json.dumps({"transparencyLog": {"url": 5}}))
    bad = cli("sign", "--oci-layout", layout.by_digest)
    assert bad.code == 2
    assert '"transparencyLog": "url" must be an http(s) URL' in bad.err


def test_bad_transparency_policy_is_a_configuration_error(cli: Cli, log: Log, layout: Layout) -> None:
    cli.ok("sign", "--oci-layout", layout.by_digest)
    require_log(cli, log, verifierKeys=["not a key"])
    bad = cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert bad.code == 2
    assert 'trust policy statement "app" has invalid transparencyLog' in bad.err
    cli.write_oci_policy(oci_statement())
    usage = cli("verify", "--oci-layout", "--scope", SCOPE, "--tlog-online", layout.by_digest)
    assert usage.code == 2
    assert "has no transparencyLog member" in usage.err


# --- blobs ------------------------------------------------------------------------------------------------


def test_blob_sign_writes_the_proof_and_verify_requires_it(cli: Cli, log: Log, tmp_path: Path) -> None:
    blob = tmp_path / "release.tar"
    blob.write_bytes(b"release contents\n")
    out = cli.ok("blob", "sign", "--tlog", log.url, "--tlog-token-file", log.token_file, blob).out
    signature = tmp_path / "release.tar.jws.sig"
    proof = tmp_path / "release.tar.jws.sig.tlog-proof"
    assert "proof stored as release.tar.jws.sig.tlog-proof" in out  # next to the signature (cwd)
    statement = blob_statement()
    statement["transparencyLog"] = transparency(log)
    cli.write_blob_policy(statement)
    verified = cli.ok("blob", "verify", "--signature", signature, blob)
    assert f"Recorded in transparency log {ORIGIN} at index 0" in verified.out
    assert "log: " + ORIGIN in cli.ok("blob", "inspect", signature).out

    saved = proof.read_bytes()
    proof.unlink()
    failed = cli("blob", "verify", "--signature", signature, blob)
    assert failed.code == 1
    assert "no transparency log proof" in failed.err
    cli.ok("blob", "verify", "--signature", signature, "--tlog-online", "--tlog", log.url, blob)

    proof.write_bytes(saved.replace(b"index 0", b"index 1"))
    assert cli("blob", "verify", "--signature", signature, blob).code == 1


# --- a real registry (referrers tag schema) ---------------------------------------------------------------


@pytest.mark.slow
def test_registry_sign_and_verify_with_the_log(cli: Cli, log: Log, registry_noauth: RunningRegistry) -> None:
    pushed = seed(registry_noauth)
    out = sign_logged(cli, log, INSECURE, pushed.by_digest)
    assert "proof stored as sha256:" in out
    require_log(cli, log, scopes=(pushed.scope,), online=True, url=log.url)
    verified = cli.ok("verify", INSECURE, pushed.by_digest)
    assert f"Recorded in transparency log {ORIGIN} at index 0" in verified.out
    shown = cli.ok("inspect", INSECURE, pushed.by_digest)
    assert f"log: {ORIGIN}" in shown.out
    with LogClient(log.url) as client:
        ((index, entry),) = client.search_digest(pushed.digest)
    assert index == 0
    assert json.loads(entry)["subject"]["repository"] == pushed.scope


@pytest.mark.slow
def test_referrers_api_registry_holds_the_proof_as_a_referrer(
    cli: Cli, log: Log, oci_registry: OCIRegistryFactory
) -> None:
    """OCI 1.1 referrers API: the proof is listed as a referrer of the signature manifest, no tag written."""
    fake = oci_registry()
    pushed = seed(fake)
    out = sign_logged(cli, log, INSECURE, "-v", pushed.by_digest)
    assert "proof stored as sha256:" in out
    signature = out.split("Signature manifest: ")[1].split()[0]
    with fake.client() as http:
        listed = http.get(
            f"/v2/{pushed.repo}/referrers/{signature}", params={"artifactType": ARTIFACT_TYPE_TLOG_PROOF}
        ).json()
    (proof,) = listed["manifests"]
    assert proof["artifactType"] == ARTIFACT_TYPE_TLOG_PROOF
    assert proof["annotations"]["io.notation-py.tlog.origin"] == ORIGIN
    assert not any(r.method == "PUT" and "sha256-" in r.path for r in fake.requests)  # OCI-Subject honoured
    require_log(cli, log, scopes=(pushed.scope,))
    assert "at index 0 (proven under checkpoint size 1)" in cli.ok("verify", INSECURE, pushed.by_digest).out


def _proof_manifest(layout: Layout) -> tuple[Descriptor, dict[str, Any]]:
    (manifest,) = signature_manifests(layout)
    store = OCILayout(layout.path)
    ((desc, _proof),) = find_proof_referrers(store, manifest)
    return desc, json.loads(store.fetch_manifest(desc))


def test_proof_is_read_from_the_referrers_listing_and_the_layer_is_the_fallback(
    cli: Cli, log: Log, layout: Layout
) -> None:
    sign_logged(cli, log, "--oci-layout", layout.by_digest)
    _remove_announcements(layout)  # so that the proof referrer of the signature manifest is what is read
    require_log(cli, log)
    desc, manifest = _proof_manifest(layout)
    assert base64.b64decode(manifest["annotations"]["io.notation-py.tlog.proof"]).startswith(b"c2sp.org/tlog-proof")

    # The embedded copy suffices: the proof layer is not even read.
    layer = layout.path / "blobs" / "sha256" / manifest["layers"][0]["digest"].removeprefix("sha256:")
    saved = layer.read_bytes()
    layer.unlink()
    cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    layer.write_bytes(saved)

    # A mangled embedded copy: the digest-addressed layer is used instead.
    manifest["annotations"]["io.notation-py.tlog.proof"] = base64.b64encode(
        b"c2sp.org/tlog-proof@v1\nindex 7\n"
    ).decode()
    _remove_referrer(layout, desc)
    OCILayout(layout.path).push_manifest(desc.media_type, json.dumps(manifest).encode())
    verified = cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    assert "Recorded in transparency log" in verified.out


def test_proof_announced_beside_the_signature_needs_no_lookup_and_a_bad_one_falls_back(
    cli: Cli, log: Log, layout: Layout
) -> None:
    sign_logged(cli, log, "--oci-layout", layout.by_digest)
    require_log(cli, log)
    (signature,) = signature_manifests(layout)
    (announcement,) = announcements(layout)
    assert announcement.artifact_type == ARTIFACT_TYPE_TLOG_PROOF
    assert (announcement.annotations or {}).get("io.notation-py.tlog.signature") == str(signature.digest)
    assert cli.ok("list", "--oci-layout", layout.by_digest).out.count("sha256:") == 2  # image + 1 signature

    # The announcement alone proves the signature: the proof referrer is not needed.
    ((proof_referrer, _proof),) = find_proof_referrers(OCILayout(layout.path), signature)
    index_path = layout.path / "index.json"
    saved = index_path.read_text()
    _remove_referrer(layout, proof_referrer)
    cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)
    index_path.write_text(saved)

    # A forged announcement does not hide the genuine proof referrer.
    store = OCILayout(layout.path)
    forged = json.loads(store.fetch_manifest(announcement))
    forged["annotations"]["io.notation-py.tlog.proof"] = base64.b64encode(b"c2sp.org/tlog-proof@v1\nindex 9\n").decode()
    _remove_referrer(layout, announcement)
    store.push_manifest(announcement.media_type, json.dumps(forged).encode())
    cli.ok("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest)

    # Both gone: the signature is no longer proven.
    _remove_referrer(layout, proof_referrer)
    _remove_announcements(layout)
    assert cli("verify", "--oci-layout", "--scope", SCOPE, layout.by_digest).code == 1
