#!/usr/bin/env python3
"""A minimal real collector implementing the ingest contract of docs/SYNC.md, for the device's sync tests until the
collector (issue 8) exists: bearer token, gzip JSON batches, schema check, exactly-once storage keyed by
(device, epoch, seq) in a SQLite file (so a restarted stub remembers), acknowledgement of the highest stored sequence.

  POST /v1/ingest     the contract            GET /v1/devices   [{"device_id", "records", "duplicates"}]

Modes: normal; cut (every second request is stored and then the connection is dropped without an answer, as a
network cut after the write); reject (every batch gets 400). Prints its port first; exits with its parent.
Usage: collector_stub.py --db FILE [--port P] [--token T] [--mode normal|cut|reject]
"""
import argparse
import gzip
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import exit_with_parent

parser = argparse.ArgumentParser()
parser.add_argument("--db", required=True)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--token", default="device-token")
parser.add_argument("--mode", default="normal")
ARGS = parser.parse_args()
LOCK = threading.Lock()
DB = sqlite3.connect(ARGS.db, check_same_thread=False)
DB.execute("CREATE TABLE IF NOT EXISTS records (device TEXT, epoch INTEGER, seq INTEGER, kind TEXT, body TEXT, PRIMARY KEY (device, epoch, seq))")
DB.execute("CREATE TABLE IF NOT EXISTS acks (device TEXT, epoch INTEGER, acked INTEGER, duplicates INTEGER, PRIMARY KEY (device, epoch))")
DB.commit()
COUNT = [0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/v1/devices":
            return self.answer(404, {"error": "not found"})
        with LOCK:
            rows = DB.execute("SELECT r.device, COUNT(*), COALESCE((SELECT SUM(duplicates) FROM acks a WHERE a.device = r.device), 0) "
                              "FROM records r GROUP BY r.device").fetchall()
        return self.answer(200, [{"device_id": d, "records": n, "duplicates": dup} for d, n, dup in rows])

    def do_POST(self):
        if self.path != "/v1/ingest":
            return self.answer(404, {"error": "not found"})
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Authorization") != "Bearer " + ARGS.token:
            return self.answer(401, {"error": "missing or unknown device token"})
        if ARGS.mode == "reject":
            return self.answer(400, {"error": "rejected by the test collector"})
        try:
            batch = json.loads(gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw)
            device, epoch, records = batch["device_id"], int(batch["epoch"]), batch["records"]
        except Exception as error:  # noqa: BLE001 - the client is told what was wrong
            return self.answer(400, {"error": f"malformed batch: {error}"})
        if batch.get("schema") != 1:
            return self.answer(409, {"error": f"unsupported schema {batch.get('schema')}"})
        seqs = [int(r["seq"]) for r in records]
        if not seqs or any(b <= a for a, b in zip(seqs, seqs[1:])):
            return self.answer(400, {"error": "records must be non-empty and ascending by seq"})
        with LOCK:
            stored = 0
            for r in records:
                cursor = DB.execute("INSERT OR IGNORE INTO records VALUES (?, ?, ?, ?, ?)",
                                    (device, epoch, int(r["seq"]), r["kind"], json.dumps(r["record"])))
                stored += cursor.rowcount
            duplicates = len(records) - stored
            DB.execute("INSERT INTO acks VALUES (?, ?, ?, ?) ON CONFLICT(device, epoch) DO UPDATE SET "
                       "acked = MAX(acked, excluded.acked), duplicates = duplicates + excluded.duplicates",
                       (device, epoch, seqs[-1], duplicates))
            DB.commit()
            acked = DB.execute("SELECT acked FROM acks WHERE device = ? AND epoch = ?", (device, epoch)).fetchone()[0]
            COUNT[0] += 1
            cut = ARGS.mode == "cut" and COUNT[0] % 2 == 1
        if cut:
            # Stored, but the answer never arrives: the device must send these again, and they must not double.
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        return self.answer(200, {"device_id": device, "epoch": epoch, "acked_seq": acked, "stored": stored, "duplicates": duplicates})


exit_with_parent(300.0)
ThreadingHTTPServer.allow_reuse_address = True
server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
