#!/usr/bin/env python3
"""A real HTTP server on 127.0.0.1 speaking the OpenAI-compatible transcription protocol, for testing Earshot's cloud
client against the failures real servers show. It parses the multipart request (model, language, prompt,
response_format, temperature, file) and answers by MODE:

  verbose    verbose_json like OpenAI/speaches: segments with avg_logprob and no_speech_prob, top-level words with
             probability; the text says what it received ("model=M language=L format=F bytes=N riff=yes")
  json       {"text": ...}          text     the bare text
  whisper    whisper.cpp-style: words inside segments, probability as "p"
  status500  HTTP 500               garbage  HTTP 200 with a body that is not JSON
  slow       answers after 3 s      auth     like verbose, but only with "Authorization: Bearer sesame"
  say        json with the text given by --text, the same for every request (a cloud with a known answer)
  webhook    accepts any POST to /hook (answers 204) and lists the bodies received at GET /received

Prints the port it listens on as the first line of stdout. Exits when the process that started it goes away (a test
that ends or dies, or a launcher shim such as pyenv's between it and the test) and after 120 s in any case, so it
never outlives its test. Usage: transcription_server.py MODE [--port P] [--text T]; --port reopens a server where a
killed one was (0, the default, picks a free port).
"""
import argparse
import email.parser
import email.policy
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loopback import exit_with_parent

parser = argparse.ArgumentParser()
parser.add_argument("mode", nargs="?", default="verbose")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--text", default="")
ARGS = parser.parse_args()
MODE = ARGS.mode
RECEIVED = []


def fields_of(headers, body):
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = part.get_payload(decode=True)
    return fields


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if MODE == "webhook" and self.path == "/received":
            return self.answer(200, json.dumps(RECEIVED))
        return self.answer(404, json.dumps({"error": "not found"}))

    def do_POST(self):
        if MODE == "webhook" and self.path == "/hook":
            RECEIVED.append({"body": self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode(),
                             "authorization": self.headers.get("Authorization")})
            self.send_response(204)
            self.end_headers()
            return None
        if self.path != "/v1/audio/transcriptions":
            return self.answer(404, json.dumps({"error": "not found"}))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            f = fields_of(self.headers, body)
        except Exception as error:  # noqa: BLE001 - tell the client what was wrong with its request
            return self.answer(400, json.dumps({"error": f"bad multipart: {error}"}))
        if "file" not in f or "model" not in f:
            return self.answer(400, json.dumps({"error": "file and model are required"}))
        audio = f["file"]
        said = (f"model={f['model'].decode()} language={f.get('language', b'-').decode()} "
                f"format={f.get('response_format', b'json').decode()} bytes={len(audio)} riff={'yes' if audio[:4] == b'RIFF' else 'no'}")
        if MODE == "status500":
            return self.answer(500, json.dumps({"error": "model crashed"}))
        if MODE == "garbage":
            return self.answer(200, b"\x00\x01 this is not json")
        if MODE == "slow":
            time.sleep(3)
        if MODE == "auth" and self.headers.get("Authorization") != "Bearer sesame":
            return self.answer(401, json.dumps({"error": "bad token"}))
        if MODE == "say":
            return self.answer(200, json.dumps({"text": ARGS.text}))
        if MODE == "text":
            return self.answer(200, said + "\n", "text/plain")
        if MODE == "json":
            return self.answer(200, json.dumps({"text": said}))
        words = [{"word": w, "start": 0.1 * i, "end": 0.1 * i + 0.08, "probability": 0.9} for i, w in enumerate(said.split())]
        segment = {"id": 0, "start": 0.0, "end": 1.0, "text": said, "avg_logprob": -0.1, "no_speech_prob": 0.02}
        if MODE == "whisper":
            segment["words"] = [{"word": w["word"], "start": w["start"], "end": w["end"], "p": 0.8} for w in words]
            return self.answer(200, json.dumps({"text": said, "segments": [segment]}))
        return self.answer(200, json.dumps({"task": "transcribe", "language": "english", "duration": 1.0, "text": said,
                                            "segments": [segment], "words": words}))


exit_with_parent(120.0)
ThreadingHTTPServer.allow_reuse_address = True
server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
