"""Command line: ``hx-sharing`` (admin), ``hx-model-sharing`` and ``hx-dataset-sharing`` (serve).

Tokens are never read from the command line: ``--token-env VAR`` names an environment
variable holding it, ``--token-stdin`` reads it from standard input. A generated token is
printed once, alone on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .settings import get_settings


def _read_token(args) -> str | None:
    if getattr(args, "token_env", None):
        value = os.environ.get(args.token_env)
        if not value:
            raise SystemExit(f"error: environment variable {args.token_env} is empty or unset")
        return value.strip()
    if getattr(args, "token_stdin", False):
        value = sys.stdin.readline().strip()
        if not value:
            raise SystemExit("error: no token on stdin")
        return value
    return None


def _scopes(raw: str) -> list[str]:
    return [s for s in raw.replace(",", " ").split() if s]


def _db():
    from .db import Database

    return Database(get_settings())


def _tune_malloc() -> None:
    """Keep RSS flat under streaming without churning the heap.

    - A fixed mmap threshold: big part buffers go back to the OS when freed instead of raising
      glibc's dynamic threshold.
    - A 16 MiB trim threshold: fixing the mmap threshold also freezes the trim threshold at
      128 KiB, so every request-body block freed at the top of the heap shrank it and the next one
      grew it back, page faults included. That cost 0.9 s of CPU per uploaded GiB (2.5 s -> 1.6 s)
      on the development VM.
    - Few malloc arenas for threads.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
        libc.mallopt(m_mmap_threshold, 1024 * 1024)
        libc.mallopt(m_trim_threshold, 16 * 1024 * 1024)
        libc.mallopt(m_arena_max, 2)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _serve(service: str, host: str | None, port: int | None, workers: int) -> None:
    import uvicorn

    _tune_malloc()

    from .logs import setup_logging

    settings = get_settings()
    setup_logging(settings.log_level, settings.log_format)
    if settings.migrate_on_start:
        from .migrate import upgrade

        upgrade(settings.database_url.get_secret_value())
    default_port = settings.model_port if service == "model" else settings.dataset_port
    uvicorn.run(
        f"hx_sharing.{service}_service:app_factory",
        factory=True,
        host=host or settings.host,
        port=port or default_port,
        workers=workers,
        log_config=None,
        loop="uvloop",  # declared dependencies: fail loudly rather than fall back to the slow pure-Python ones
        http="httptools",
        access_log=False,  # the app writes its own structured access log
        proxy_headers=True,
        timeout_keep_alive=30,
    )


def _serve_main(service: str, argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog=f"hx-{service}-sharing", description=f"Serve the {service} sharing API")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args(argv)
    _serve(service, a.host, a.port, a.workers)


def serve_model(argv: list[str] | None = None) -> None:
    _serve_main("model", argv)


def serve_dataset(argv: list[str] | None = None) -> None:
    _serve_main("dataset", argv)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hx-sharing", description="HX sharing services administration")
    sub = p.add_subparsers(dest="cmd", required=True)

    m = sub.add_parser("migrate", help="apply database migrations (idempotent)")
    m.add_argument("--revision", default="head")

    c = sub.add_parser("client", help="manage API clients and their tokens")
    csub = c.add_subparsers(dest="action", required=True)

    def token_opts(sp):
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--token-env", metavar="VAR", help="take the token from this environment variable")
        g.add_argument("--token-stdin", action="store_true", help="read the token from stdin")

    cc = csub.add_parser("create", help="create a client; prints a generated token once")
    cc.add_argument("--name", required=True)
    cc.add_argument("--scopes", required=True, help="comma or space separated, e.g. read:model,write:model")
    token_opts(cc)
    ca = csub.add_parser("apply", help="idempotent create/update; prints {'changed': bool} as JSON")
    ca.add_argument("--name", required=True)
    ca.add_argument("--scopes", required=True)
    token_opts(ca)
    cr = csub.add_parser("rotate", help="replace a client's token")
    cr.add_argument("--name", required=True)
    token_opts(cr)
    cv = csub.add_parser("revoke", help="revoke a client's token")
    cv.add_argument("--name", required=True)
    csub.add_parser("list", help="list clients as JSON (no tokens)")

    o = sub.add_parser("openapi", help="export or check the OpenAPI documents")
    o.add_argument("action", choices=["export", "check"])
    o.add_argument("--out-dir", default="docs/openapi", type=Path)

    g = sub.add_parser("gc", help="abort stale multipart uploads and delete objects no record refers to")
    g.add_argument("service", choices=["model", "dataset"])
    g.add_argument("--older-than", type=float, default=3600, metavar="SECONDS", help="grace period (default 3600)")
    g.add_argument("--dry-run", action="store_true", help="report only")

    s = sub.add_parser("serve", help="serve one API")
    s.add_argument("service", choices=["model", "dataset"])
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, default=1)

    a = p.parse_args(argv)

    if a.cmd == "serve":
        _serve(a.service, a.host, a.port, a.workers)
        return 0
    if a.cmd == "openapi":
        from . import openapi

        if a.action == "export":
            for path in openapi.export(a.out_dir):
                print(path)
            return 0
        bad = openapi.stale(a.out_dir)
        for path in bad:
            print(f"stale: {path} (run: hx-sharing openapi export --out-dir {a.out_dir})", file=sys.stderr)
        return 1 if bad else 0
    if a.cmd == "gc":
        from .gc import collect

        print(json.dumps(collect(get_settings(), a.service, a.older_than, a.dry_run).as_dict()))
        return 0
    if a.cmd == "migrate":
        from .migrate import upgrade

        upgrade(get_settings().database_url.get_secret_value(), a.revision)
        return 0

    from . import clients

    db = _db()
    try:
        if a.action == "create":
            given = _read_token(a)
            token = clients.create_client(db, a.name, _scopes(a.scopes), given)
            if given is None:
                print(token)
                print(f"created client {a.name!r}; the token above is shown only once", file=sys.stderr)
            else:
                print(f"created client {a.name!r}", file=sys.stderr)
        elif a.action == "apply":
            changed = clients.apply_client(db, a.name, _scopes(a.scopes), _read_token(a))
            print(json.dumps({"changed": changed, "name": a.name, "scopes": sorted(set(_scopes(a.scopes)))}))
        elif a.action == "rotate":
            given = _read_token(a)
            token = clients.rotate_client(db, a.name, given)
            if given is None:
                print(token)
        elif a.action == "revoke":
            print(json.dumps({"changed": clients.revoke_client(db, a.name), "name": a.name}))
        elif a.action == "list":
            print(json.dumps([ci.as_dict() for ci in clients.list_clients(db)], indent=2))
    except (clients.ClientError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
