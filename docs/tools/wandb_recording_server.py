# A recording W&B server on loopback for checking the official `wandb sync` by hand: logs every request to
# requests.jsonl, answers GraphQL with what a server would, keeps history by offset per run, stores uploads.
import json, sys, os, re, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
OUT = sys.argv[2] if len(sys.argv) > 2 else "/tmp/wbrec/out"
os.makedirs(OUT, exist_ok=True)
lock = threading.Lock()
runs = {}  # name -> dict(upsert vars, history{off:line}, summary, files[], complete, exitcode, output{}, events{})
def run(name):
    return runs.setdefault(name, {"vars": {}, "history": {}, "summary": None, "files": {}, "uploaded": [], "complete": False,
                                  "exitcode": None, "output": {}, "events": {}})
def dump():
    with open(os.path.join(OUT, "state.json"), "w") as f:
        json.dump(runs, f, indent=1, default=str)
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def _send(self, code, obj):
        b = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(code); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        with lock:
            open(os.path.join(OUT, "requests.jsonl"), "a").write(json.dumps({"m": "GET", "p": self.path}) + "\n")
        self._send(200, {})
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", 0)); body = self.rfile.read(n)
        with lock:
            open(os.path.join(OUT, "requests.jsonl"), "a").write(json.dumps({"m": "PUT", "p": self.path, "len": n}) + "\n")
            m = re.match(r"/upload/([^/]+)/(.*)", self.path)
            if m:
                run(m.group(1))["files"][m.group(2)] = n
                p = os.path.join(OUT, "files", m.group(1), m.group(2)); os.makedirs(os.path.dirname(p), exist_ok=True)
                open(p, "wb").write(body)
            dump()
        self._send(200, {})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); raw = self.rfile.read(n)
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip; raw = gzip.decompress(raw)
        try: body = json.loads(raw or b"{}")
        except Exception: body = {"raw": raw.decode(errors="replace")}
        with lock:
            open(os.path.join(OUT, "requests.jsonl"), "a").write(json.dumps({"m": "POST", "p": self.path, "body": body}) + "\n")
            if self.path.endswith("/graphql"):
                resp = self.graphql(body)
            elif self.path.endswith("/file_stream"):
                resp = self.file_stream(self.path.split("/")[4], body)
            else:
                resp = {}
            dump()
        self._send(200, resp)
    def graphql(self, body):
        q = body.get("query", ""); v = body.get("variables") or {}
        op = body.get("operationName") or (re.search(r"(query|mutation)\s+(\w+)", q).group(2) if re.search(r"(query|mutation)\s+(\w+)", q) else "")
        ent = {"id": "e1", "name": "alice"}
        if "upsertBucket" in q:
            r = run(v["name"]); old = r["vars"]; old.update({k: x for k, x in v.items() if x is not None}); 
            return {"data": {"upsertBucket": {"bucket": {"id": "storage-" + v["name"], "name": v["name"], "displayName": old.get("displayName"),
                    "description": None, "config": "{}", "sweepName": None, "historyLineCount": len(r["history"]),
                    "project": {"id": "p1", "name": old.get("project", "p"), "entity": ent}}, "inserted": True}}}
        if "createRunFiles" in q:
            return {"data": {"createRunFiles": {"runID": "r1", "uploadHeaders": [], "files": [
                {"name": f, "uploadUrl": "http://%s/upload/%s/%s" % (self.headers["Host"], v["run"], f)} for f in v["files"]]}}}
        if "viewer" in q:
            return {"data": {"viewer": {"id": "u1", "entity": "alice", "username": "alice", "flags": "{}", "teams": {"edges": []}}}}
        if "serverInfo" in q or "ServerFeatures" in op:
            return {"data": {"serverInfo": {"features": [], "cliVersionInfo": {}, "latestLocalVersionInfo": None}}}
        if "model(" in q or "project(" in q:
            return {"data": {"model": None, "project": None}}
        return {"data": {}}
    def file_stream(self, name, b):
        r = run(name)
        for f, chunk in (b.get("files") or {}).items():
            if f == "wandb-history.jsonl":
                for i, l in enumerate(chunk["content"]): r["history"][chunk["offset"] + i] = l
            elif f == "wandb-summary.json":
                r["summary"] = chunk["content"][-1]
            elif f == "output.log":
                for i, l in enumerate(chunk["content"]): r["output"][chunk["offset"] + i] = l
            elif f == "wandb-events.jsonl":
                for i, l in enumerate(chunk["content"]): r["events"][chunk["offset"] + i] = l
        r["uploaded"] += b.get("uploaded", [])
        if b.get("complete"):
            r["complete"] = True; r["exitcode"] = b.get("exitcode")
        return {}
port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
