"""``grader review``: serve the gradebook to the TA's browser (127.0.0.1, a random token, one command)."""

from __future__ import annotations

import argparse
import getpass
import sys
import webbrowser
from pathlib import Path
from typing import Any

from grader.cli.options import assignment_option
from grader.errors import UsageError

EXIT_OK = 0


def add_parsers(sub: Any) -> None:
    """Register ``grader review``."""
    r = sub.add_parser("review", help="grade written answers by question, decide on integrity flags: a web app "
                                      "on 127.0.0.1 behind a random token (the first line printed is its URL)")
    r.add_argument("--gradebook", type=Path, default=Path("reports/gradebook.sqlite"),
                   help="the gradebook (default reports/gradebook.sqlite)")
    assignment_option(r)
    r.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    r.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    r.add_argument("--no-browser", action="store_true", help="do not open a browser")
    r.add_argument("--grader", default=None, help="your name in the gradebook's history (default: $USER)")
    r.add_argument("--lang", choices=["ko", "en"], default="ko", help="language of the app")
    r.add_argument("--seed", default="", help="changes the (stable) pseudo-random order of the answers")
    r.set_defaults(func=_review)


def _review(args: argparse.Namespace) -> int:
    import socket

    import uvicorn

    from grader.review.app import ReviewConfig, create_app
    from grader.store.gradebook import Gradebook

    with Gradebook(args.gradebook, create=False):  # a missing or too-new gradebook is a usage error, now
        pass
    aid = None
    if args.assignment is not None:
        from grader.assignment import load_assignment

        aid = load_assignment(args.assignment).id
    config = ReviewConfig(args.gradebook, args.grader or getpass.getuser(), assignment=aid, lang=args.lang,
                          seed=args.seed)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    config.hosts = frozenset({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"})
    url = f"http://{host}:{port}/?token={config.token}"
    print(url, flush=True)
    print(f"grading as {config.grader}; Ctrl+C stops the server", file=sys.stderr, flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", access_log=False))
    server.run(sockets=[sock])
    return EXIT_OK
