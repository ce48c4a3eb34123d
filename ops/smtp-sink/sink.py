"""A real SMTP server for the tests and the stack (issue 16).

Accepts every mail and stores it, exactly as received, as one file
`<dir>/<nanoseconds>-<random>.eml`, written and renamed into place before
the server answers `250`: a client that saw its mail accepted finds it on
disk. Stops on SIGTERM or SIGINT.

    python sink.py --port 2525 --dir .data/mail
"""

import argparse
import os
import signal
import threading
import time
import uuid

from aiosmtpd.controller import Controller


class Store:
    """aiosmtpd handler: one file per accepted mail."""

    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        partial = os.path.join(self.directory, "." + name + ".part")
        with open(partial, "wb") as f:
            f.write(envelope.original_content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", required=True, help="where mails are stored")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller = Controller(Store(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"smtp-sink: listening on {args.host}:{args.port}, mails in {args.dir}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
