"""Run the fake Mac by hand, to try a BlueBubbles line without a Mac:

    PYTHONPATH=tests .venv/bin/python -m fakebb --port 1234 --password secret --imessage +15551234567

It answers like a BlueBubbles server with the Private API on, keeps what it "sent" in memory,
reports each send delivered and read after the given delays, and prints every request.
"""

from __future__ import annotations

import argparse

import uvicorn

from fakebb.app import build_app
from fakebb.state import FakeMac


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fakebb", description="A fake BlueBubbles server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=1234)
    parser.add_argument("--password", default="mac-secret")
    parser.add_argument("--imessage", action="append", default=[], help="a handle registered with iMessage")
    parser.add_argument("--deliver-after", type=float, default=1.0, help="seconds until a send is delivered")
    parser.add_argument("--read-after", type=float, default=3.0, help="seconds until a 1:1 send is read")
    parser.add_argument("--macos26", action="store_true", help="use macOS 26 chat guids (any;-;…)")
    args = parser.parse_args()
    mac = FakeMac(
        password=args.password,
        imessage=set(args.imessage),
        auto_deliver=args.deliver_after,
        auto_read=args.read_after,
        macos26=args.macos26,
    )
    print(f"fake BlueBubbles server on http://127.0.0.1:{args.port} (password: from --password)")
    uvicorn.run(build_app(mac), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
