"""Run the local provider server: ``python -m otel_agentmon.provider_server [--host H] [--port P]``.

Prints the base URL on one line, then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Optional, Sequence

from ._server import ProviderServer


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m otel_agentmon.provider_server",
        description="Serve scripted OpenAI- and Anthropic-compatible endpoints on a local port.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default: 0)")
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    if args.log_requests:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    server = ProviderServer(host=args.host, port=args.port, log_requests=args.log_requests).start()
    try:
        print(server.url, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
