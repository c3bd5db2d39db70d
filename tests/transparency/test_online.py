"""Submit-and-prove, online consistency (including rolled-back and forked logs) and search, against real ``tlog serve``."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from notation_py.errors import TransparencyError, UsageError
from notation_py.transparency import (
    LogClient,
    TransparencyPolicy,
    check_consistency_online,
    find_in_log,
    submit_and_prove,
    verify_proof_offline,
)
from tests.tlog.live import serve
from tests.transparency.conftest import LiveLog, copy_log, init_log, live_policy, stop
from tests.transparency.helpers import LOG_SIGNER, REPOSITORY, logged_signature, second_envelope
from tlog.proof import TlogProof

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("transparency-live-log")]

OTHER_REPOSITORY = "registry.example.com/team/mirror"


# --- submit and prove -----------------------------------------------------------------------------


def test_submit_and_prove_with_pinned_or_published_key(live_log: LiveLog) -> None:
    with live_log.client() as client:
        for name, keys in (("online-pinned", [live_log.vkey]), ("online-published", None)):
            signature = logged_signature(name)
            inclusion = submit_and_prove(client, signature, REPOSITORY, keys)
            assert inclusion.repository == REPOSITORY
            assert inclusion.origin == live_log.vkey.split("+")[0]
            assert TlogProof.from_bytes(inclusion.proof).extra == b'{"repository":"registry.example.com/team/app"}'
            assert verify_proof_offline(inclusion.proof, signature, live_log.policy()) == inclusion


def test_submit_and_prove_without_repository_or_signature_manifest(live_log: LiveLog) -> None:
    with live_log.client() as client:
        for signature in (logged_signature("online-layout"), logged_signature("online-blob", manifest_digest=None)):
            inclusion = submit_and_prove(client, signature, None, [live_log.vkey])
            assert inclusion.repository is None
            assert b"\nextra " not in inclusion.proof
            assert verify_proof_offline(inclusion.proof, signature, live_log.policy()).index == inclusion.index


def test_resubmitting_under_another_repository_proves_the_first_entry(live_log: LiveLog) -> None:
    signature = logged_signature("online-duplicate")
    with live_log.client() as client:
        first = submit_and_prove(client, signature, REPOSITORY, [live_log.vkey])
        again = submit_and_prove(client, signature, OTHER_REPOSITORY, [live_log.vkey])
        assert (again.index, again.repository) == (first.index, REPOSITORY)
        assert verify_proof_offline(again.proof, signature, live_log.policy()).repository == REPOSITORY
        moved = replace(signature, signature_manifest_digest="sha256:" + "ef" * 32)
        with pytest.raises(TransparencyError, match="already holds this envelope in an entry for signature manifest"):
            submit_and_prove(client, moved, REPOSITORY, [live_log.vkey])


def test_submit_and_prove_refuses_an_untrusted_log(live_log: LiveLog) -> None:
    with live_log.client() as client:
        with pytest.raises(TransparencyError, match="is not signed by a trusted transparency log key"):
            submit_and_prove(client, logged_signature("online-untrusted"), REPOSITORY, [LOG_SIGNER.vkey])
        with pytest.raises(UsageError, match="invalid transparency log verifier key 'nope'"):
            submit_and_prove(client, logged_signature("online-usage"), REPOSITORY, ["nope"])
        with pytest.raises(UsageError, match="no transparency log verifier key"):
            submit_and_prove(client, logged_signature("online-usage"), REPOSITORY, [])
        with pytest.raises(UsageError, match="without a tag or digest"):
            submit_and_prove(client, logged_signature("online-usage"), REPOSITORY + ":v1", [live_log.vkey])
        assert client.search_digest(logged_signature("online-usage").subject_digest) == []  # nothing was logged
        wrong = replace(logged_signature("online-untrusted"), subject_size=1)
        with pytest.raises(TransparencyError, match=re.escape("cannot recompute the transparency log entry")):
            submit_and_prove(client, wrong, REPOSITORY, [live_log.vkey])


# --- consistency ----------------------------------------------------------------------------------


def test_consistent_after_more_entries(live_log: LiveLog) -> None:
    policy = live_log.policy()
    with live_log.client() as client:
        signature = logged_signature("online-consistent")
        inclusion = verify_proof_offline(submit_and_prove(client, signature, REPOSITORY).proof, signature, policy)
        latest = check_consistency_online(inclusion, client, policy)
        assert latest.size >= inclusion.tree_size
        for i in range(3):
            submit_and_prove(client, logged_signature(f"online-consistent-{i}"), REPOSITORY)
        later = check_consistency_online(inclusion, client, policy)
        assert later.size >= inclusion.tree_size + 3 and later.origin == inclusion.origin


def test_the_latest_checkpoint_must_be_trusted(live_log: LiveLog) -> None:
    signature = logged_signature("online-latest")
    with live_log.client() as client:
        inclusion = submit_and_prove(client, signature, REPOSITORY, [live_log.vkey])
        strangers = TransparencyPolicy(required=True, verifier_keys=(LOG_SIGNER.vkey,))
        with pytest.raises(TransparencyError, match=r"the latest checkpoint of transparency log .* is not signed by"):
            check_consistency_online(inclusion, client, strangers)
        elsewhere = replace(inclusion, origin="log.example.com/elsewhere")
        with pytest.raises(
            TransparencyError, match=re.escape("serves the log 'log.example.com/transparency-live', but the proof")
        ):
            check_consistency_online(elsewhere, client, live_log.policy())


@pytest.fixture(scope="module")
def base_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A stopped log holding two entries, to be copied (the copies share their first two entries)."""
    directory = tmp_path_factory.mktemp("base") / "log"
    vkey = init_log(directory)
    with serve(directory, "--verify-workers", "0") as served:
        with LogClient(served.url) as client:
            for name in ("online-base-1", "online-base-2"):
                submit_and_prove(client, logged_signature(name), REPOSITORY, [vkey])
        stop(served)
    return directory, vkey


def test_log_rolled_back(base_log: tuple[Path, str], tmp_path: Path) -> None:
    directory, vkey = base_log
    policy = live_policy(vkey)
    original = copy_log(directory, tmp_path / "original")
    snapshot = copy_log(directory, tmp_path / "snapshot")  # the log as it was at size 2
    with serve(original, "--verify-workers", "0") as served, LogClient(served.url) as client:
        signature = logged_signature("online-rollback")
        inclusion = submit_and_prove(client, signature, REPOSITORY, [vkey])
        assert inclusion.tree_size == 3
        check_consistency_online(inclusion, client, policy)
    with serve(snapshot, "--verify-workers", "0") as served, LogClient(served.url) as client:
        with pytest.raises(TransparencyError) as info:
            check_consistency_online(inclusion, client, policy)
        assert info.value.message == (
            f"log rolled back: transparency log {served.url} (log.example.com/transparency-live) now has 2 entries, "
            "but the proof's checkpoint has 3"
        )
        with pytest.raises(TransparencyError, match="no entry for this signature in log"):
            find_in_log(client, signature, policy)


def test_log_forked(base_log: tuple[Path, str], tmp_path: Path) -> None:
    directory, vkey = base_log
    policy = live_policy(vkey)
    one, two = copy_log(directory, tmp_path / "one"), copy_log(directory, tmp_path / "two")
    with (
        serve(one, "--verify-workers", "0") as served_one,
        serve(two, "--verify-workers", "0") as served_two,
        LogClient(served_one.url) as fork_one,
        LogClient(served_two.url) as fork_two,
    ):
        on_one = submit_and_prove(fork_one, logged_signature("online-fork-one"), REPOSITORY, [vkey])
        on_two = submit_and_prove(fork_two, logged_signature("online-fork-two"), REPOSITORY, [vkey])
        assert on_one.tree_size == on_two.tree_size == 3 and on_one.root_hash != on_two.root_hash
        for inclusion, other in ((on_one, fork_two), (on_two, fork_one)):
            with pytest.raises(TransparencyError, match=r"^log forked: .* signed two different trees of size 3$"):
                check_consistency_online(inclusion, other, policy)
        submit_and_prove(fork_two, logged_signature("online-fork-two-b"), REPOSITORY, [vkey])
        with pytest.raises(TransparencyError) as info:
            check_consistency_online(on_one, fork_two, policy)
        assert "(log.example.com/transparency-live, size 4) is not consistent with the proof's checkpoint (size 3)" in (
            info.value.message
        )
        assert "the log forked or rewrote history" in info.value.message
        assert check_consistency_online(on_two, fork_two, policy).size == 4


# --- search ---------------------------------------------------------------------------------------


def test_find_in_log(live_log: LiveLog) -> None:
    policy = live_log.policy()
    with live_log.client() as client:
        signature = logged_signature("online-find")
        layout = logged_signature("online-find-layout")
        logged = {
            "repository": submit_and_prove(client, signature, REPOSITORY),
            "none": submit_and_prove(client, layout, None),
        }
        # Another signature of the same subject, logged later: found but not taken for ours.
        submit_and_prove(client, second_envelope(signature), REPOSITORY)
        found = find_in_log(client, signature, policy)
        assert (found.index, found.repository) == (logged["repository"].index, REPOSITORY)
        assert verify_proof_offline(found.proof, signature, policy) == found
        check_consistency_online(found, client, policy)
        assert find_in_log(client, layout, policy).index == logged["none"].index


def test_find_in_log_not_found(live_log: LiveLog) -> None:
    policy = live_log.policy()
    signature = logged_signature("online-find-missing")
    with live_log.client() as client:
        with pytest.raises(TransparencyError) as info:
            find_in_log(client, signature, policy)
        assert info.value.message.startswith(f"no entry for this signature in log {live_log.url}: ")
        assert "none of the 0 entries" in info.value.message
        # Same subject and envelope, another signature manifest: not this signature's entry.
        submit_and_prove(client, signature, REPOSITORY)
        moved = replace(signature, signature_manifest_digest="sha256:" + "ef" * 32)
        with pytest.raises(TransparencyError, match="none of the 1 entries for"):
            find_in_log(client, moved, policy)
