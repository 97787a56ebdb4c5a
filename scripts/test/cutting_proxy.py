#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that cuts connections mid-request, for testing sync over a network that drops: the first
--cuts connections are closed after --after bytes of the request have been forwarded (so the server sees half a batch),
later ones pass through untouched. Prints its port first; exits with its parent.
Usage: cutting_proxy.py --target PORT [--after BYTES] [--cuts N]
"""
import argparse
import socket
import threading

from loopback import exit_with_parent

parser = argparse.ArgumentParser()
parser.add_argument("--target", type=int, required=True)
parser.add_argument("--after", type=int, default=2000)
parser.add_argument("--cuts", type=int, default=3)
ARGS = parser.parse_args()
LOCK = threading.Lock()
CUTS = [ARGS.cuts]


def pipe(src, dst, limit=None):
    sent = 0
    try:
        while True:
            data = src.recv(65536 if limit is None else max(1, min(65536, limit - sent)))
            if not data:
                break
            dst.sendall(data)
            sent += len(data)
            if limit is not None and sent >= limit:
                break
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def handle(client):
    upstream = socket.create_connection(("127.0.0.1", ARGS.target))
    with LOCK:
        cut = CUTS[0] > 0
        if cut:
            CUTS[0] -= 1
    threading.Thread(target=pipe, args=(client, upstream, ARGS.after if cut else None), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


exit_with_parent(300.0)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=handle, args=(connection,), daemon=True).start()
