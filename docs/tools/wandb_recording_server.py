# A recording W&B server on loopback for checking the official `wandb sync` by hand: logs every request to
# requests.jsonl, answers GraphQL with what a server would, keeps history by offset per run, stores uploads; keeps
# artifacts (CreateArtifact ... CommitArtifact) in state.json under "artifacts", their files under files/artifacts/.
import json, sys, os, re, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
OUT = sys.argv[2] if len(sys.argv) > 2 else "/tmp/wbrec/out"
os.makedirs(OUT, exist_ok=True)
lock = threading.Lock()
runs = {}  # name -> dict(upsert vars, history{off:line}, summary, files[], complete, exitcode, output{}, events{})
artifacts = {}  # id -> dict(input of CreateArtifact, state, manifest digest)
def run(name):
    return runs.setdefault(name, {"vars": {}, "history": {}, "summary": None, "files": {}, "uploaded": [], "complete": False,
                                  "exitcode": None, "output": {}, "events": {}})
def dump():
    with open(os.path.join(OUT, "state.json"), "w") as f:
        json.dump({"runs": runs, "artifacts": artifacts}, f, indent=1, default=str)
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
                if m.group(1) != "artifacts": run(m.group(1))["files"][m.group(2)] = n
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
        host = "http://%s/upload/artifacts/" % self.headers["Host"]
        if "createArtifact(" in q:
            i = v["input"]; same = [k for k, a in artifacts.items() if a["input"]["digest"] == i["digest"] and a["state"] == "COMMITTED"]
            aid = same[0] if same else "art%d" % (len(artifacts) + 1)
            artifacts.setdefault(aid, {"input": i, "state": "PENDING", "manifest_digest": None})
            return {"data": {"createArtifact": {"artifact": {"id": aid, "state": artifacts[aid]["state"], "artifactSequence": {"latestArtifact": None}}}}}
        if "createArtifactManifest(" in q:
            artifacts[v["artifactID"]]["manifest_digest"] = v["digest"]
            f = {"id": "f1", "uploadUrl": host + v["artifactID"] + "/wandb_manifest.json", "uploadHeaders": []} if v["includeUpload"] else {"id": "f1"}
            return {"data": {"createArtifactManifest": {"artifactManifest": {"id": "m-" + v["artifactID"], "file": f}}}}
        if "createArtifactFiles(" in q:
            return {"data": {"createArtifactFiles": {"files": {"edges": [{"node": {"storagePath": s["name"], "uploadUrl": host + s["artifactID"] + "/" + s["name"],
                    "uploadHeaders": [], "uploadMultipartUrls": None, "artifact": {"id": s["artifactID"]}}} for s in v["input"]["artifactFiles"]]}}}}
        if "commitArtifact(" in q:
            artifacts[v["artifactID"]]["state"] = "COMMITTED"
            return {"data": {"commitArtifact": {"artifact": {"id": v["artifactID"], "digest": artifacts[v["artifactID"]]["input"]["digest"]}}}}
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
