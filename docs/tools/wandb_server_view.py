# The recording server's view of its runs: group, display name, tags, job type, history rows, files, end state.
import json, sys

state = json.load(open(sys.argv[1]))
for name, r in sorted(state["runs"].items(), key=lambda kv: str(kv[1]["vars"].get("displayName"))):
    v = r["vars"]
    hist = [json.loads(r["history"][k]) for k in sorted(r["history"], key=int)]
    keys = sorted({k for row in hist for k in row if not k.startswith("_")})
    steps = [row.get("_step") for row in hist]
    files = sorted(f for f in r["files"] if not f.startswith("media/"))
    media = sum(1 for f in r["files"] if f.startswith("media/"))
    print(f"run {name}: group={v.get('groupName')!r} displayName={v.get('displayName')!r} tags={v.get('tags')} "
          f"jobType={v.get('jobType')!r}")
    print(f"  history: {len(hist)} rows, _step {min(steps)}..{max(steps)}, keys {keys}")
    print(f"  files: {files} (+{media} media)")
    print(f"  output.log lines: {len(r['output'])}, system-metric rows: {len(r['events'])}")
    print(f"  complete={r['complete']} exitcode={r['exitcode']} summary keys={len(json.loads(r['summary']) if isinstance(r['summary'], str) else (r['summary'] or {}))}")
