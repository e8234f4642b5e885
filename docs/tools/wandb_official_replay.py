# Replays what tinker logged for each run of a grid (read from recording server A's state.json) through the official
# wandb client, with the grouping a user of the official client would give it, into recording server B.
import json, sys, wandb

state = json.load(open(sys.argv[1]))
for name, r in state["runs"].items():
    v = r["vars"]
    config = {k: val.get("value") if isinstance(val, dict) else val for k, val in json.loads(v.get("config") or "{}").items()
              if k != "_wandb"}
    run = wandb.init(project="tinker", entity="tinker", group=v.get("groupName"), name=v.get("displayName"),
                     tags=v.get("tags"), job_type=v.get("jobType"), config=config, reinit="finish_previous")
    run.define_metric("n_train_samples")
    run.define_metric("*", step_metric="n_train_samples")
    for off in sorted(r["history"], key=int):
        row = json.loads(r["history"][off])
        run.log({k: x for k, x in row.items() if not k.startswith("_")})
    run.finish()
