"""A running `tlog serve` checked by an independent implementation of the C2SP formats (aics-tlog).

Our own tests check the log with our own parsers and proof code, so a misreading of a spec shared
by writer and reader would go unnoticed. Here a separate implementation — aics-tlog, run in its
own interpreter because it needs Python 3.12 or newer — verifies the signed checkpoints with the
verifier key, authenticates every hash tile and entry bundle over HTTP (gzip-encoded bundles
included), and verifies receipts' inclusion proofs and consistency proofs between checkpoints.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.tlog.test_cli import ORIGIN, init, serve
from tests.tlog.test_server import submission

pytestmark = [pytest.mark.real_server, pytest.mark.xdist_group("tlog-serve")]

ROOT = Path(__file__).resolve().parents[2]
CHECKER = Path(__file__).with_name("independent") / "check_with_aics.py"
ENTRIES = 300  # one full tile and bundle, and a partial one


def independent_python() -> str:
    """The interpreter with aics-tlog installed (scripts/test.sh makes .venv-verifier)."""
    python = os.environ.get("TLOG_INDEPENDENT_PYTHON") or str(ROOT / ".venv-verifier" / "bin" / "python")
    assert Path(python).is_file(), (
        f"no interpreter for the independent verifier at {python}: run scripts/test.sh, which creates "
        "it with Python >= 3.12 and aics-tlog (or set TLOG_INDEPENDENT_PYTHON)"
    )
    return python


def test_an_independent_implementation_accepts_the_log(tmp_path: Path) -> None:
    python = independent_python()
    verifier = init(tmp_path / "log")
    receipts: list[dict[str, Any]] = []
    with serve(tmp_path / "log") as served, httpx.Client(base_url=served.url, timeout=60) as client:
        checkpoints: list[str] = []
        for i in range(ENTRIES):
            response = client.post("/v1/entries", json=submission(f"independent-{i}"))
            assert response.status_code == 201, response.text
            receipts.append(response.json())
            if i in (0, 99, 255):
                checkpoints.append(client.get("/checkpoint").text)
        checkpoints.append(client.get("/checkpoint").text)
        consistency = []
        for old, new in itertools.pairwise(checkpoints):
            old_size, new_size = int(old.split("\n")[1]), int(new.split("\n")[1])
            proof = client.get("/v1/proof/consistency", params={"old": old_size, "new": new_size}).json()
            consistency.append({"old_checkpoint": old, "new_checkpoint": new, "hashes": proof["hashes"]})

        chosen = [receipts[0], receipts[200], receipts[-1]]
        tampered = dict(receipts[200])
        entry = bytearray(base64.b64decode(tampered["entry"]))
        entry[len(entry) // 2] ^= 1
        tampered["entry"] = base64.b64encode(bytes(entry)).decode()
        request = {
            "url": served.url,
            "vkey": verifier.vkey,
            "origin": ORIGIN,
            "receipts": [{k: r[k] for k in ("index", "entry", "proof")} for r in chosen],
            "consistency": consistency,
            "tampered_receipt": {k: tampered[k] for k in ("index", "entry", "proof")},
        }
        result = subprocess.run(
            [python, str(CHECKER)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["size"] == ENTRIES
    assert report["audit"] == {"tiles": 3, "bundles": 2}  # level 0: full + partial; level 1: width 1
    assert report["receipts"] == 3
    assert report["consistency"] == 3
    assert report["tampered_refused"]
    assert report["forged_checkpoint_refused"] is True
