"""``tlog`` command line: create a log, serve it, and check its proofs.

::

    tlog init --dir DIR --origin ORIGIN
    tlog init --dir DIR --adopt                 (record the published checkpoint of an existing database)
    tlog serve --dir DIR --listen 127.0.0.1:8080 [--token-file FILE] [--prefix /PATH]
               [--checkpoint-interval 0] [--verify-workers N] [--check]   (tokens also from $TLOG_TOKENS)
               [--log-level info] [--log-format text|json]
    tlog check --dir DIR
    tlog backup --dir DIR DEST
    tlog restore --dir DIR BACKUP
    tlog recover --dir DIR --from URL
    tlog prove --url URL --index N --vkey VKEY [--out FILE] [--entry-out FILE]
    tlog verify-proof --vkey VKEY --proof FILE --entry FILE
    tlog audit URL --vkey VKEY
    tlog version

Exit status: 0 success, 1 failure at run time (storage, network, a proof that does not verify),
2 usage or configuration error. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tlog import __version__
from tlog.config import TOKENS_ENV, LogConfig, init_log_dir, load_log_dir, load_tokens, tokens_from_env
from tlog.errors import ConfigError, TlogError
from tlog.lock import WriterLock
from tlog.published import PublishedCheckpoint
from tlog.tile_client import HttpTileReader

if TYPE_CHECKING:
    import uvicorn

    from tlog.note import Signer, Verifier

__all__ = ["main", "run"]

#: Modules of the ``server`` extra (the log's storage and HTTP stack).
_SERVER_MODULES = frozenset({"aiosqlite", "starlette", "uvicorn", "uvloop", "httptools", "prometheus_client"})

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    """Bad command-line usage (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of exiting, so :func:`main` decides the exit status."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message}\n{self.format_usage().rstrip()}")


def _parser() -> _Parser:
    parser = _Parser(prog="tlog", description="A C2SP transparency log of Notary Project signatures.")
    parser.add_argument("--version", action="version", version=f"tlog {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    init = commands.add_parser("init", help="create a new log (signing key, configuration, database)")
    init.add_argument("--dir", required=True, type=Path, help="data directory to create")
    init.add_argument("--origin", help="checkpoint origin, e.g. log.example.com/notary (required unless --adopt)")
    init.add_argument(
        "--adopt",
        action="store_true",
        help="for an existing log with no record of its published checkpoint: check the database in full and "
        "record its latest checkpoint as published",
    )

    check = commands.add_parser("check", help="check a log's database in full (every hash, every checkpoint)")
    check.add_argument("--dir", required=True, type=Path, help="data directory made by 'tlog init'")

    backup = commands.add_parser("backup", help="write a consistent copy of the log's database (while it serves)")
    backup.add_argument("--dir", required=True, type=Path, help="data directory made by 'tlog init'")
    backup.add_argument("destination", type=Path, help="the backup file to create")

    restore = commands.add_parser("restore", help="replace a stopped log's database with a checked backup")
    restore.add_argument("--dir", required=True, type=Path, help="data directory made by 'tlog init'")
    restore.add_argument("backup", type=Path, help="a file made by 'tlog backup'")

    recover = commands.add_parser(
        "recover", help="fetch the entries a stopped log lost from a mirror of its tiles, verifying every hash"
    )
    recover.add_argument("--dir", required=True, type=Path, help="data directory made by 'tlog init'")
    recover.add_argument(
        "--from", dest="mirror", required=True, help="URL prefix of a mirror serving the log's C2SP tiles and bundles"
    )

    serve = commands.add_parser("serve", help="serve a log over HTTP")
    serve.add_argument("--dir", required=True, type=Path, help="data directory made by 'tlog init'")
    serve.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT to listen on (default 127.0.0.1:8080)")
    serve.add_argument(
        "--token-file",
        type=Path,
        help=f"file of bearer tokens allowed to submit (one a line); ${TOKENS_ENV} may hold more",
    )
    serve.add_argument(
        "--prefix",
        default="",
        help="URL path under which everything is served, e.g. /notary-log (default: the server root)",
    )
    serve.add_argument(
        "--checkpoint-interval",
        type=float,
        default=0.0,
        help="longest wait in seconds for more submissions before a batch is committed and checkpointed "
        "(default 0: group commit, a batch closes as soon as the sequencer is free)",
    )
    serve.add_argument(
        "--verify-workers",
        type=int,
        default=None,
        help="processes verifying submissions (default: one per CPU less one; 0 verifies in a thread of the server)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="log lines on stderr: text (LEVEL: logger: message) or json (one object per line); "
        "both carry the request id of the request being handled",
    )
    serve.add_argument(
        "--wal-checkpoint-size",
        type=int,
        default=None,
        metavar="BYTES",
        help="write-ahead log size that starts a WAL checkpoint (default 4 MiB; smaller for small volumes)",
    )
    serve.add_argument(
        "--check",
        action="store_true",
        help="check the database in full before serving (SQLite integrity check, every hash recomputed)",
    )

    prove = commands.add_parser("prove", help="build an offline inclusion proof (.tlog-proof) from a log's tiles")
    prove.add_argument("--url", required=True, help="the log's URL prefix (where /checkpoint is served)")
    prove.add_argument("--index", required=True, type=int, help="the entry index")
    prove.add_argument("--vkey", required=True, help="the log's verifier key (or a file holding it)")
    prove.add_argument("--out", type=Path, help="write the proof here instead of standard output")
    prove.add_argument("--entry-out", type=Path, help="also write the entry bytes to this file")
    prove.add_argument(
        "--output", "-o", choices=["text", "json"], default="text", help="json: the proof and entry in one document"
    )

    verify = commands.add_parser("verify-proof", help="verify an offline inclusion proof for an entry")
    verify.add_argument("--vkey", required=True, help="the log's verifier key (or a file holding it)")
    verify.add_argument("--proof", required=True, type=Path, help="the .tlog-proof file")
    verify.add_argument("--entry", required=True, type=Path, help="the exact entry bytes")
    verify.add_argument("--origin", help="the expected log origin (default: the verifier key name)")

    audit = commands.add_parser("audit", help="download every tile and bundle of a log and recompute its hashes")
    audit.add_argument("url", help="the log's URL prefix (where /checkpoint is served)")
    audit.add_argument("--vkey", required=True, help="the log's verifier key (or a file holding it)")
    audit.add_argument(
        "--skip-entries", action="store_true", help="do not check that each entry is a canonical tlog entry"
    )
    audit.add_argument(
        "--state",
        type=Path,
        help="file remembering the last checkpoint audited per log, to prove consistency from it "
        "(default $TLOG_AUDIT_STATE, else $XDG_STATE_HOME/tlog/audit.json)",
    )
    audit.add_argument("--no-state", action="store_true", help="neither read nor update the state file")
    audit.add_argument(
        "--full", action="store_true", help="download every entry again, not only those added since the last audit"
    )
    audit.add_argument("--output", "-o", choices=["text", "json"], default="text", help="output format")

    commands.add_parser("version", help="print the version")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tlog`` console script; returns the exit status."""
    return main(sys.argv[1:] if argv is None else list(argv))


def main(argv: list[str]) -> int:
    """Parse ``argv`` and run the command; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(f"tlog: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        if args.command == "init":
            return _init(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "check":
            return _check(args)
        if args.command == "backup":
            return _backup(args)
        if args.command == "restore":
            return _restore(args)
        if args.command == "recover":
            return _recover(args)
        if args.command == "prove":
            return _prove(args)
        if args.command == "verify-proof":
            return _verify_proof(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "version":
            print(f"tlog {__version__}")
            return EXIT_OK
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    except (ConfigError, _UsageError) as exc:
        print(f"tlog: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TlogError as exc:
        print(f"tlog: error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except ModuleNotFoundError as exc:
        # init, check, backup, restore and recover work on the log's database: the server extra.
        if exc.name not in _SERVER_MODULES:
            raise
        print(
            f"tlog: error: 'tlog {args.command}' needs the server extra: pip install 'notation-py[server]' "
            f"({exc.name} is not installed)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


# --- init -----------------------------------------------------------------------------------------


def _init(args: argparse.Namespace) -> int:
    if args.adopt:
        if args.origin is not None:
            raise _UsageError("--adopt takes the origin from the existing configuration: drop --origin")
        return _adopt(args.dir)
    if args.origin is None:
        raise _UsageError("--origin is required to create a log")
    directory: Path = args.dir
    config, signer = init_log_dir(directory, args.origin)
    try:
        with WriterLock(config.database):
            asyncio.run(_create_database(config, signer))
    except BaseException:
        for path in (config.directory / "config.json", config.key_file, config.database, config.published_file):
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    print(f"tlog: created log {args.origin!r} in {str(config.directory)!r}; its verifier key is:", file=sys.stderr)
    print(signer.vkey)
    return EXIT_OK


async def _create_database(config: LogConfig, signer: Signer) -> None:
    """Create the database and publish the signed size-0 checkpoint."""
    from tlog.log import Log
    from tlog.storage import sqlite as sqlite_storage

    storage = await sqlite_storage.open(config.database)
    try:
        log = await Log.open(storage, signer, config.origin, published=_published(config, signer), create=True)
        await log.close()
    finally:
        await storage.close()


def _published(config: LogConfig, signer: Signer) -> PublishedCheckpoint:
    return PublishedCheckpoint(config.published_file, signer.verifier(), config.origin)


def _adopt(directory: Path) -> int:
    """``init --adopt``: record the latest checkpoint of a database that has no published record."""
    from tlog.integrity import full_check
    from tlog.storage import sqlite as sqlite_storage

    config = load_log_dir(directory)
    signer = config.load_signer()
    published = _published(config, signer)
    with WriterLock(config.database):
        if published.read() is not None:
            raise ConfigError(
                f"{str(config.published_file)!r} already records the published checkpoint; --adopt is only for "
                "a log that has none"
            )

        async def adopt() -> tuple[int, bytes]:
            storage = await sqlite_storage.open(config.database, create=False)
            try:
                report = await full_check(storage, signer.verifier(), config.origin, progress=_progress("checked"))
                state = await storage.latest_state()
                assert state is not None  # full_check refuses an empty store
                published.write(state.checkpoint.note)
                return report.size, state.checkpoint.root_hash
            finally:
                await storage.close()

        size, _ = asyncio.run(adopt())
    print(f"tlog: the database passed a full check; recorded its checkpoint at size {size} as published")
    return EXIT_OK


# --- serve ----------------------------------------------------------------------------------------


def _parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise _UsageError(f"--listen {listen!r} must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def _serve(args: argparse.Namespace) -> int:
    try:
        import aiosqlite  # noqa: F401
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise _UsageError(f"'tlog serve' needs the server extra: pip install 'notation-py[server]' ({exc})") from None
    from tlog.server import check_prefix, configure_logging, is_loopback

    host, port = _parse_listen(args.listen)
    interval: float = args.checkpoint_interval
    if not 0 <= interval <= 60:
        raise _UsageError("--checkpoint-interval must be between 0 and 60 seconds")
    workers: int | None = args.verify_workers
    if workers is not None and not 0 <= workers <= 256:
        raise _UsageError("--verify-workers must be between 0 and 256")
    wal_bytes: int | None = args.wal_checkpoint_size
    if wal_bytes is not None and not 64 * 1024 <= wal_bytes <= 1 << 40:
        raise _UsageError("--wal-checkpoint-size must be between 65536 bytes and 1 TiB")
    try:
        prefix = check_prefix(args.prefix)
    except ValueError as exc:
        hint = str(exc).partition(": ")[2]
        raise _UsageError(f"invalid --prefix {args.prefix!r}: {hint}") from None
    config = load_log_dir(args.dir)
    signer = config.load_signer()
    tokens = load_tokens(args.token_file) if args.token_file is not None else frozenset()
    if os.environ.get(TOKENS_ENV):
        tokens |= tokens_from_env(os.environ[TOKENS_ENV])
    anonymous = False
    if not tokens:
        if is_loopback(host):
            anonymous = True
            print(
                f"tlog: warning: no --token-file or ${TOKENS_ENV}: anyone who can connect to {host} may submit entries",
                file=sys.stderr,
            )
        else:
            print(
                f"tlog: warning: no --token-file or ${TOKENS_ENV} and {host} is not a loopback address: "
                "submissions are disabled "
                "(read-only log)",
                file=sys.stderr,
            )
    configure_logging(args.log_level, args.log_format)
    # Held until the process exits: a second 'serve' (or restore, recover) on this log fails at once.
    with WriterLock(config.database), asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(
            _serve_async(
                config,
                signer,
                host=host,
                port=port,
                tokens=tokens,
                anonymous=anonymous,
                prefix=prefix,
                interval=interval,
                workers=workers,
                log_level=args.log_level,
                full_check=args.check,
                wal_checkpoint_bytes=wal_bytes,
            )
        )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (a dependency on POSIX), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve_async(
    config: LogConfig,
    signer: Signer,
    *,
    host: str,
    port: int,
    tokens: frozenset[str],
    anonymous: bool,
    prefix: str,
    interval: float,
    workers: int | None,
    log_level: str,
    full_check: bool,
    wal_checkpoint_bytes: int | None,
) -> int:
    import uvicorn

    from tlog.log import Log
    from tlog.server import DEFAULT_STALE_AFTER, create_app
    from tlog.storage import sqlite as sqlite_storage
    from tlog.verifier import InlineVerifier, ProcessVerifier, SubmissionVerifier

    class _Server(uvicorn.Server):
        """Graceful shutdown on SIGINT/SIGTERM without re-raising the signal, so the log is closed cleanly."""

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    if not config.database.is_file():
        raise ConfigError(
            f"the log database {str(config.database)!r} does not exist: only 'tlog init' creates a log; if this "
            "log existed, restore a backup ('tlog restore') or recover it from a mirror ('tlog recover --from URL')"
        )
    options = {} if wal_checkpoint_bytes is None else {"wal_checkpoint_bytes": wal_checkpoint_bytes}
    storage = await sqlite_storage.open(config.database, create=False, **options)
    try:
        if full_check:
            from tlog.integrity import full_check as check_fully

            report = await check_fully(storage, signer.verifier(), config.origin, progress=_progress("checked"))
            print(f"tlog: full check passed ({report.size} entries, {report.checkpoints} checkpoints)", file=sys.stderr)
        log = await Log.open(
            storage, signer, config.origin, checkpoint_interval=interval, published=_published(config, signer)
        )
        verifier: SubmissionVerifier = InlineVerifier() if workers == 0 else ProcessVerifier(workers)
        try:
            await verifier.start()
            app = create_app(
                log,
                tokens=tokens,
                allow_anonymous_writes=anonymous,
                verifier=verifier,
                prefix=prefix,
                # A submission legitimately waits up to the checkpoint interval before its batch closes.
                stale_after=DEFAULT_STALE_AFTER + interval,
            )
            server = _Server(
                uvicorn.Config(
                    app,
                    host=host,
                    port=port,
                    log_level=log_level,
                    log_config=None,  # keep configure_logging's handler: uvicorn's lines in the same format
                    lifespan="off",
                    server_header=False,
                    proxy_headers=False,  # no proxy is trusted unless configured (none is, today)
                    timeout_graceful_shutdown=30,
                )
            )
            announce = asyncio.create_task(_announce(server, config, prefix))
            try:
                await server.serve()  # uvicorn logs the error and exits 1 when it cannot listen
            finally:
                announce.cancel()
        finally:
            await verifier.close()
            await log.close()
    finally:
        await storage.close()
    print("tlog: stopped", file=sys.stderr)
    return EXIT_OK


async def _announce(server: uvicorn.Server, config: LogConfig, prefix: str) -> None:
    """Print the address actually bound (useful with port 0) once the server has started."""
    while not server.started:
        await asyncio.sleep(0.02)
    for listener in getattr(server, "servers", []):
        for sock in listener.sockets:
            address = sock.getsockname()
            host = f"[{address[0]}]" if ":" in address[0] else address[0]
            print(f"tlog: serving {config.origin} on http://{host}:{address[1]}{prefix}", file=sys.stderr, flush=True)


# --- check, backup, restore, recover ------------------------------------------------------------


def _progress(verb: str) -> Callable[[int, int], None] | None:
    """A progress line on standard error when it is a terminal (entries done of total)."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rtlog: {verb} {done}/{total} entries", end=end, file=sys.stderr, flush=True)

    return report


def _check(args: argparse.Namespace) -> int:
    """``tlog check``: the full integrity check, and storage against the published record."""
    from tlog.integrity import check_published, full_check
    from tlog.storage import sqlite as sqlite_storage

    config = load_log_dir(args.dir)
    signer = config.load_signer()
    published = _published(config, signer)

    async def check() -> str:
        storage = await sqlite_storage.open(config.database, create=False)
        try:
            report = await full_check(storage, signer.verifier(), config.origin, progress=_progress("checked"))
            state = await storage.latest_state()
            assert state is not None  # full_check refuses an empty store
            record = published.read()
            if record is None:
                return (
                    f"{report.size} entries and {report.checkpoints} checkpoints are consistent, but there is no "
                    f"record of the published checkpoint ({config.published_file})"
                )
            ahead = await check_published(storage, state, record[0])
            where = "ahead of" if ahead else "at"
            return (
                f"{report.size} entries and {report.checkpoints} checkpoints are consistent, {where} the published "
                f"checkpoint (size {record[0].size})"
            )
        finally:
            await storage.close()

    summary = asyncio.run(check())
    print(f"OK: {config.origin}: {summary}")
    return EXIT_OK


def _backup(args: argparse.Namespace) -> int:
    """``tlog backup``: a consistent online copy of the database (safe while the log serves)."""
    from tlog.backup import backup_database

    config = load_log_dir(args.dir)
    destination: Path = args.destination
    backup_database(config.database, destination)
    size = _backup_size(destination)
    print(f"tlog: backed up {config.origin} at size {size} to {str(destination)!r}", file=sys.stderr)
    return EXIT_OK


def _backup_size(path: Path) -> int:
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT size FROM log_state WHERE id = 0").fetchone()
    return int(row[0]) if row else 0


def _restore(args: argparse.Namespace) -> int:
    """``tlog restore``: check a backup in full, compare it with the published record, install it."""
    from tlog.backup import copy_database, install_database, scratch_path
    from tlog.integrity import check_published, full_check
    from tlog.storage import sqlite as sqlite_storage

    config = load_log_dir(args.dir)
    signer = config.load_signer()
    published = _published(config, signer)
    backup: Path = args.backup
    with WriterLock(config.database):
        record = published.read()
        scratch = scratch_path(config.database, "restore")
        copy_database(backup, scratch)
        try:

            async def check() -> int:
                storage = await sqlite_storage.open(scratch, create=False)
                try:
                    report = await full_check(storage, signer.verifier(), config.origin, progress=_progress("checked"))
                    state = await storage.latest_state()
                    assert state is not None  # full_check refuses an empty store
                    # A backup behind the record cannot be compared with it yet: 'tlog recover' checks it
                    # when it fetches the missing entries, and 'serve' refuses until then.
                    if record is not None and state.checkpoint.size >= record[0].size:
                        await check_published(storage, state, record[0])
                    return report.size
                finally:
                    await storage.close()

            size = asyncio.run(check())
            install_database(scratch, config.database)
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    print(f"tlog: restored {config.origin} at size {size} from {str(backup)!r}", file=sys.stderr)
    if record is None:
        print(
            f"tlog: there is no record of the published checkpoint ({config.published_file}): fetch what the backup "
            "lacks with 'tlog recover --from MIRROR', or, if the backup is known to be the latest state, run "
            "'tlog init --adopt'",
            file=sys.stderr,
        )
    elif size < record[0].size:
        print(
            f"tlog: the log published a checkpoint at size {record[0].size}; before it can serve, fetch entries "
            f"{size}..{record[0].size - 1} with 'tlog recover --dir {args.dir} --from MIRROR'",
            file=sys.stderr,
        )
    return EXIT_OK


def _recover(args: argparse.Namespace) -> int:
    """``tlog recover``: rebuild the entries the log lost from a mirror (see :mod:`tlog.recovery`)."""
    import base64

    from tlog.recovery import recover_from_mirror

    config = load_log_dir(args.dir)
    signer = config.load_signer()
    mirror = HttpTileReader(args.mirror)
    try:
        with WriterLock(config.database):
            result = asyncio.run(
                recover_from_mirror(
                    config.database,
                    _published(config, signer),
                    signer.verifier(),
                    config.origin,
                    mirror,
                    progress=_progress("recovered"),
                )
            )
    finally:
        mirror.close()
    print(
        f"tlog: recovered entries {result.local_size}..{result.size - 1} of {config.origin} from {args.mirror}; "
        f"every hash verified against the checkpoint at size {result.size} "
        f"(root {base64.b64encode(result.root_hash).decode()})",
        file=sys.stderr,
    )
    return EXIT_OK


# --- clients: prove, verify-proof, audit ------------------------------------------------------------------


def _load_verifier(value: str) -> Verifier:
    """A verifier key given inline or as a file (the first non-empty line)."""
    from tlog.errors import FormatError
    from tlog.note import Verifier

    text = value
    path = Path(value)
    if "+" not in value or path.is_file():
        try:
            text = next((line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()), "")
        except (OSError, UnicodeDecodeError) as exc:
            raise _UsageError(f"cannot read the verifier key file {value!r}: {exc}") from None
    try:
        return Verifier.from_vkey(text)
    except FormatError as exc:
        raise _UsageError(f"invalid verifier key: {exc.message}") from None


def _read_file(path: Path, what: str, limit: int = 1 << 24) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise _UsageError(f"cannot read the {what} {str(path)!r}: {exc.strerror}") from None
    if len(data) > limit:
        raise _UsageError(f"the {what} {str(path)!r} is larger than {limit} bytes")
    return data


def _write_file(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise _UsageError(f"cannot write {str(path)!r}: {exc.strerror}") from None


def _prove(args: argparse.Namespace) -> int:
    from tlog import merkle
    from tlog.errors import ProofError
    from tlog.proof import TlogProof
    from tlog.tiles import ENTRIES_LEVEL, TILE_WIDTH, TileId, decode_entry_bundle, inclusion_proof_from_tiles

    verifier = _load_verifier(args.vkey)
    index: int = args.index
    if index < 0:
        raise _UsageError("--index must not be negative")
    log = HttpTileReader(args.url)
    try:
        checkpoint, note = log.checkpoint(verifier)
        if index >= checkpoint.size:
            raise ProofError(f"entry {index} is not in the log (its checkpoint is at size {checkpoint.size})")
        bundle_index = index // TILE_WIDTH
        width = min(checkpoint.size - bundle_index * TILE_WIDTH, TILE_WIDTH)
        bundle = TileId(ENTRIES_LEVEL, bundle_index, width)
        entry = decode_entry_bundle(log.get(bundle.path), width)[index % TILE_WIDTH]
        path = inclusion_proof_from_tiles(log, index, checkpoint.size)
    finally:
        log.close()
    # Never hand out a proof that does not verify (the tiles are untrusted).
    merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(entry), path, checkpoint.root_hash)
    proof = TlogProof(index, tuple(path), note).to_bytes()
    if args.entry_out is not None:
        _write_file(args.entry_out, entry)
    if args.out is not None:
        _write_file(args.out, proof)
        print(f"tlog: proof of entry {index} at size {checkpoint.size} written to {args.out}", file=sys.stderr)
    if args.output == "json":
        import base64
        import json

        doc = {
            "schemaVersion": 1,
            "kind": "tlog prove",
            "origin": checkpoint.origin,
            "index": index,
            "treeSize": checkpoint.size,
            "proof": proof.decode("utf-8"),
            "entry": base64.b64encode(entry).decode(),
        }
        print(json.dumps(doc, indent=2))
    elif args.out is None:
        sys.stdout.write(proof.decode("utf-8"))
    return EXIT_OK


def _verify_proof(args: argparse.Namespace) -> int:
    from tlog import merkle
    from tlog.errors import FormatError, ProofError, SignatureError
    from tlog.proof import MAX_PROOF_SIZE, TlogProof, verify_proof

    verifier = _load_verifier(args.vkey)
    proof_data = _read_file(args.proof, "proof", MAX_PROOF_SIZE)
    entry = _read_file(args.entry, "entry")
    try:
        proof = TlogProof.from_bytes(proof_data)
        checkpoint = verify_proof(proof, merkle.leaf_hash(entry), [verifier], args.origin or verifier.name)
    except (FormatError, SignatureError, ProofError) as exc:
        print(f"tlog: proof does NOT verify: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"OK: entry {proof.index} is in {checkpoint.origin} at tree size {checkpoint.size}")
    return EXIT_OK


def _audit(args: argparse.Namespace) -> int:
    import json

    from tlog.audit import AuditProgress, AuditState, audit_log, default_state_path

    verifier = _load_verifier(args.vkey)
    machine = args.output == "json"
    state = None if args.no_state else AuditState(args.state or default_state_path())
    previous = None if state is None or args.full else state.previous(verifier)
    show = sys.stderr.isatty() and not machine

    def progress(p: AuditProgress) -> None:
        if not show:
            return
        rate = p.entries / p.elapsed if p.elapsed > 0 else 0.0
        tiles_rate = p.tiles / p.elapsed if p.elapsed > 0 else 0.0
        print(
            f"\rtlog: audit: {p.tiles}/{p.tiles_total} tiles, {p.bundles}/{p.bundles_total} bundles, "
            f"{p.entries} entries ({rate:,.0f} entries/s, {tiles_rate:,.0f} tiles/s)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    log = HttpTileReader(args.url)
    try:
        report = audit_log(log, verifier, check_entries=not args.skip_entries, previous=previous, progress=progress)
    finally:
        log.close()
        if show:
            print(file=sys.stderr)
    if report.ok and state is not None:
        state.record(verifier, report.checkpoint_note)
    if machine:
        from tlog import __version__

        doc = {"schemaVersion": 1, "kind": "tlog audit", "tlogVersion": __version__, **report.to_json()}
        print(json.dumps(doc, indent=2))
        return EXIT_OK if report.ok else EXIT_FAILURE
    for problem in report.problems[:50]:
        print(f"tlog: audit: {problem}", file=sys.stderr)
    if not report.ok:
        print(
            f"tlog: audit FAILED: {report.problem_count} problem(s) in {report.origin} at size {report.size}",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    since = (
        f"; consistent with the checkpoint audited before (size {report.previous.size})"
        if report.previous is not None
        else ""
    )
    print(
        f"OK: {report.origin} at size {report.size}: {report.tiles} tiles and {report.bundles} entry bundles "
        f"({report.entries} entries) match the signed checkpoint{since}"
    )
    return EXIT_OK
