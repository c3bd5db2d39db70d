"""The overall deadline of commands that use the network: ``--timeout``, config.json ``timeout``, default 60 s.

httpx's read timeout applies to each socket read, so a registry that sends a body one byte per
second never trips it; these tests use such a registry (:mod:`tests.registry.drip`, on a free
loopback port) and one that asks for a retry in 30 s. Without the deadline, ``verify`` spends
minutes on either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notation_py.cli.context import timeout_setting
from notation_py.cli.errors import EXIT_FAILURE, exit_code_for
from notation_py.deadline import DEFAULT_TIMEOUT
from notation_py.errors import ConfigError, DeadlineExceededError
from tests.cli.conftest import Cli, Result
from tests.cli.registry_helpers import Pushed, seed, trust
from tests.registry.drip import DrippingRegistry, start_dripping_registry
from tests.registry.servers import OCIRegistryFactory

#: Far below the minutes the slow registries would take without a deadline, far above the 1-2 s asked for.
BOUND = 15.0
INSECURE = "--insecure-registry"


@pytest.fixture(autouse=True)
def _no_ambient_credentials_or_proxies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    for name in ("NOTATION_USERNAME", "NOTATION_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def dripping() -> Iterator[DrippingRegistry]:
    """A registry that sends every referrers answer one byte per second."""
    registry = start_dripping_registry()
    yield registry
    registry.stop()


def seeded(cli: Cli, registry: DrippingRegistry) -> Pushed:
    pushed = seed(registry.running)
    trust(cli, pushed.scope)
    return pushed


def timed(cli: Cli, *args: str) -> tuple[Result, float]:
    started = time.monotonic()
    result = cli(*args)
    return result, time.monotonic() - started


def write_config(cli: Cli, doc: dict[str, object]) -> None:
    (cli.config / "config.json").write_text(json.dumps(doc))


def assert_deadline_error(result: Result, elapsed: float, seconds: str, setting: str) -> None:
    assert result.code == EXIT_FAILURE, result.text
    assert "Successfully verified" not in result.out
    assert f"did not finish within the {seconds} s deadline ({setting})" in result.err, result.err
    assert len(result.err.strip().splitlines()) == 1, result.err  # one line, no traceback
    assert elapsed < BOUND, f"took {elapsed:.1f} s"


# --------------------------------------------------------------------------- a body sent one byte per second


@pytest.mark.real_server
def test_verify_stops_at_the_deadline_while_the_referrers_body_drips(cli: Cli, dripping: DrippingRegistry) -> None:
    pushed = seeded(cli, dripping)
    result, elapsed = timed(cli, "verify", INSECURE, "--timeout", "2", pushed.by_digest)
    assert_deadline_error(result, elapsed, "2", "--timeout")
    assert result.err.startswith(f"Error: verification of {pushed.by_digest} did not finish"), result.err
    assert f"reading the referrers of {pushed.by_digest} was still in progress" in result.err, result.err
    assert elapsed >= 1.9, f"gave up after {elapsed:.2f} s, before the deadline"
    assert dripping.drip.dripped, "the referrers request was never made"


@pytest.mark.parametrize("command", ["list", "inspect"])
@pytest.mark.real_server
def test_read_only_commands_stop_at_the_deadline(cli: Cli, dripping: DrippingRegistry, command: str) -> None:
    pushed = seeded(cli, dripping)
    result, elapsed = timed(cli, command, INSECURE, "--timeout", "1", pushed.by_digest)
    assert_deadline_error(result, elapsed, "1", "--timeout")
    assert "reading the referrers of" in result.err


@pytest.mark.real_server
def test_config_json_timeout_applies_without_the_flag(cli: Cli, dripping: DrippingRegistry) -> None:
    pushed = seeded(cli, dripping)
    write_config(cli, {"timeout": 1.5})
    result, elapsed = timed(cli, "verify", INSECURE, pushed.by_digest)
    assert_deadline_error(result, elapsed, "1.5", f'"timeout" in {cli.config / "config.json"}')


@pytest.mark.real_server
def test_the_flag_wins_over_config_json(cli: Cli, dripping: DrippingRegistry) -> None:
    pushed = seeded(cli, dripping)
    write_config(cli, {"timeout": 3600})
    result, elapsed = timed(cli, "verify", INSECURE, "--timeout", "1", pushed.by_digest)
    assert_deadline_error(result, elapsed, "1", "--timeout")


# --------------------------------------------------------------------------- retries


@pytest.mark.real_server
def test_retry_after_past_the_deadline_is_not_waited_for(cli: Cli, oci_registry: OCIRegistryFactory) -> None:
    registry = oci_registry()
    pushed = seed(registry)
    trust(cli, pushed.scope)
    registry.options.fail_match = lambda method, path: "/referrers/" in path
    registry.options.retry_after = "30"
    registry.options.fail_first = 1000
    result, elapsed = timed(cli, "verify", INSECURE, "--timeout", "2", pushed.by_digest)
    assert_deadline_error(result, elapsed, "2", "--timeout")
    assert f"reading the referrers of {pushed.by_digest}: registry {registry.host} answered 503" in result.err
    assert "waiting 30 s before trying again would pass the deadline" in result.err  # not waited for


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("value", ["0", "-5", "abc", "", "nan", "inf", "1e999"])
@pytest.mark.parametrize(
    "command",
    [
        ["verify", "registry.example/app@sha256:" + "0" * 64],
        ["sign", "registry.example/app@sha256:" + "0" * 64],
        ["inspect", "registry.example/app@sha256:" + "0" * 64],
        ["list", "registry.example/app@sha256:" + "0" * 64],
        ["blob", "verify", "--signature", "f.jws.sig", "f"],
    ],
    ids=lambda c: " ".join(c[:2]) if c[0] == "blob" else c[0],
)
def test_invalid_timeout_flag_is_a_usage_error(cli: Cli, command: list[str], value: str) -> None:
    result = cli(*command, "--timeout", value)
    assert result.code == 2, result.text
    assert f'invalid --timeout "{value}": expected a positive number of seconds' in result.err


@pytest.mark.parametrize("value", [0, -1, "60", True, [60], {"s": 1}])
def test_invalid_config_json_timeout_is_a_configuration_error(cli: Cli, value: object) -> None:
    write_config(cli, {"timeout": value})
    result = cli("verify", "registry.example/app@sha256:" + "0" * 64)
    assert result.code == 2, result.text
    assert '"timeout" must be a positive number of seconds' in result.err
    assert str(cli.config / "config.json") in result.err


def test_timeout_precedence(cli: Cli) -> None:
    assert (timeout_setting(None).seconds, timeout_setting(None).source) == (DEFAULT_TIMEOUT, "--timeout")
    assert DEFAULT_TIMEOUT == 60
    write_config(cli, {"timeout": 7.5})
    assert timeout_setting(None).seconds == 7.5
    assert timeout_setting("2").seconds == 2.0
    assert timeout_setting(" 0.5 ").source == "--timeout"
    write_config(cli, {"timeout": "7"})
    with pytest.raises(ConfigError):
        timeout_setting(None)


def test_a_passed_deadline_exits_with_1() -> None:
    assert exit_code_for(DeadlineExceededError("verification of x did not finish")) == EXIT_FAILURE
