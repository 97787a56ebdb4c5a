#!/usr/bin/env python3
"""The ML lifecycle end to end on a simulated fleet (issue 10; docs/LIFECYCLE.md): deploy v1, the population shifts,
monitoring flags it, the period's audio is exported with the cloud teacher's labels, v2 is fine-tuned from v1 on it,
shipped by a quality-gated rollout (shadow, canary, switch), a deliberately broken v2' is rolled back, and v1 and v2
are scored on a held-out slice of the new population (devices never trained on, ground truth from the generator).

Real parts throughout: `earshot-collector serve` (SQLite) on 127.0.0.1, `earshot serve --pocketsphinx-commands` as
the cloud teacher, device processes (`earshot run` + `earshot sync --upload-audio`) with their own spools and model
stores, the recipe's deployment.py and finetune.py (TensorFlow, LiteRT) for v2.

Usage: python3 scripts/lifecycle/run.py [--size small|full] [--work DIR] [--bin .build/release]
       [--python .venv-training/bin/python] [--check]
--check exits 1 unless every expectation holds (the alarms fire, v2 is promoted to every device, v2' is rolled back,
v2 beats v1 on the held-out slice). The report is written to WORK/report.json and printed as a table.
"""
import argparse
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import population as P  # noqa: E402

SIZES = {
    # devices, of which held out; utterances per device before, after, per rollout round and for evaluation
    "small": {"devices": 6, "held_out": 2, "before": 40, "after": 40, "round": 32, "eval": 64, "replay": 480, "epochs": 10, "min_samples": 30},
    "full": {"devices": 12, "held_out": 3, "before": 64, "after": 64, "round": 48, "eval": 128, "replay": 1200, "epochs": 14, "min_samples": 60},
}
SEED = 23
V1 = os.path.join(ROOT, "Models", "command", "command-en")


def log(message):
    print(f"[lifecycle {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return r


class Server:
    """A serving process that reports "listening on http://127.0.0.1:PORT" on stderr."""

    def __init__(self, cmd, log_path):
        self.log_path = log_path
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
        for _ in range(400):
            text = open(log_path).read()
            if "listening on " in text:
                self.base = text.split("listening on ")[1].split()[0].rstrip(",")
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit(f"{cmd[0]} did not start: {open(log_path).read()[-1000:]}")

    def get(self, path):
        return urllib.request.urlopen(self.base + path, timeout=30).read().decode()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


class Fleet:
    def __init__(self, args, work, size):
        self.args, self.work, self.size = args, work, size
        self.earshot = os.path.join(args.bin, "earshot")
        self.collector_bin = os.path.join(args.bin, "earshot-collector")
        self.db = "sqlite:" + os.path.join(work, "collector.db")
        self.names = [f"van-{i + 1:02d}" for i in range(size["devices"])]
        self.held_out = self.names[-size["held_out"]:]
        self.tokens = {}
        self.truth = {}      # (device, decision id) → what was really said
        self.pool = multiprocessing.Pool(2)
        self.threads = ThreadPoolExecutor(2)

    def collector(self, *arguments, check=True):
        return run([self.collector_bin, *arguments, "--db", self.db], check=check)

    def home(self, name):
        return os.path.join(self.work, "devices", name)

    def recording(self, phase, name):
        """Renders device `name`'s recording of `phase` (cached) and returns (path, truth)."""
        index = self.names.index(name)
        path = os.path.join(self.work, "audio", f"{phase}-{name}.wav")
        truth_path = path[:-4] + ".json"
        if not os.path.exists(truth_path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            words = self.size["round"] if phase.startswith("rollout") else self.size[phase]
            items = P.utterances(phase, index, words, SEED, self.pool, held_out=name in self.held_out)
            json.dump(P.recording(phase, index, items, SEED, path), open(truth_path, "w"))
        return path, json.load(open(truth_path))

    def setup(self):
        self.collector("migrate")
        for name in self.names:
            token = self.collector("devices", "add", name, "--group", "field").stdout.strip().split("\n")[-1]
            self.tokens[name] = token
            run([self.earshot, "models", "install", V1, "--activate", "--store", os.path.join(self.home(name), "store")])
        config = os.path.join(self.work, "collector.yaml")
        window = self.size["devices"] * self.size["after"]
        open(config, "w").write(ALARMS.format(window=window))
        self.config = config
        self.server = Server([self.collector_bin, "serve", "--db", self.db, "--port", "0", "--rollout-check", "0", "--config", config],
                             os.path.join(self.work, "collector.log"))
        self.teacher = Server([self.earshot, "serve", "--port", "0", "--model", V1, "--pocketsphinx-commands"],
                              os.path.join(self.work, "teacher.log"))
        log(f"collector {self.server.base}, teacher (PocketSphinx, grammar of the command words) {self.teacher.base}; "
            f"{len(self.names)} devices, held out {', '.join(self.held_out)}")

    def device_run(self, name, phase):
        """The device hears its recording of `phase`: `earshot run` with the teacher as its cloud (local-first, a
        quarter of confident utterances spot-checked), every utterance's audio kept; then `earshot sync`."""
        audio, truth = self.recording(phase, name)
        home = self.home(name)
        r = run([self.earshot, "run", "--audio", audio, "--store", os.path.join(home, "store"), "--spool", os.path.join(home, "spool"),
                 "--cloud-url", self.teacher.base + "/v1/audio/transcriptions", "--policy", "local-first",
                 "--cloud-model", "pocketsphinx:commands", "--ask-sample", "0.25", "--budget-ms", "8000", "--cloud-timeout-ms", "8000",
                 "--keep-audio", "1", "--keep-audio-mb", "200", "--run-id", f"{name}-{phase}"])
        decisions = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        for d in decisions:
            match = [u for u in truth["utterances"] if overlaps(d, u)]
            self.truth[(name, d["id"])] = match[0]["label"] if match else "silence"
        self.sync(name)
        return decisions, truth

    def sync(self, name):
        home = self.home(name)
        return run([self.earshot, "sync", "--now", "--spool", os.path.join(home, "spool"), "--store", os.path.join(home, "store"),
                    "--collector", self.server.base, "--token", self.tokens[name], "--timeout", "30", "--upload-audio",
                    "--audio-limit-mb", "200"]).stdout

    def phase(self, phase):
        for name in self.names:      # render first (the pool is busy with it), then run two devices at a time
            self.recording(phase, name)
        results = list(self.threads.map(lambda n: self.device_run(n, phase), self.names))
        return dict(zip(self.names, results))

    def sync_all(self):
        return list(self.threads.map(self.sync, self.names))

    def alarms(self):
        out = self.collector("alarms", "evaluate", "--config", self.config, "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


ALARMS = """alarms:
  interval_seconds: 3600
  rules:
    # input drift: what the microphones hear (spectrum and level), the fleet's latest window against the one before
    - name: input-spectrum-drift
      metric: drift
      column: spectral_centroid_hz
      window: {window}
    - name: input-level-drift
      metric: drift
      column: rms_dbfs
      window: {window}
    # output drift: how sure the local model is, whoever answered
    - name: output-confidence-drift
      metric: drift
      column: local_confidence
      window: {window}
    - name: output-null-results
      metric: share
      column: null_result
      value: "true"
      above: 0.25
      window: {window}
    # concept drift: the local model disagrees with the cloud teacher more than it did
    - name: concept-teacher-disagreement
      metric: drift
      column: cloud_agrees
      window: {window}
"""


def overlaps(decision, utterance):
    """A decision belongs to a true utterance when their spans meet (200 ms of slack for the endpointer's edges)."""
    return decision["start"] < utterance["end"] + 0.2 and decision["end"] > utterance["start"] - 0.2


def score(decisions, truth, per_utterance=None):
    """Per true utterance: the decision overlapping it. Returns (utterances, right (top-1), accepted and right); with
    `per_utterance`, appends each utterance's top-1 correctness to it."""
    n = right = accepted = 0
    for u in truth["utterances"]:
        n += 1
        hit = [d for d in decisions if overlaps(d, u)]
        ok = bool(hit) and hit[0]["text"] == u["label"]
        right += ok
        accepted += ok and bool(hit[0].get("accepted"))
        if per_utterance is not None:
            per_utterance.append(ok)
    return n, right, accepted


def mcnemar(b, c):
    """McNemar's exact two-sided p for b against c discordant pairs (as DriftStatistics.mcNemar)."""
    n = b + c
    return 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n)


def total(scores):
    n, r, a = (sum(s[k] for s in scores) for k in range(3))
    return {"utterances": n, "top1": round(r / max(1, n), 4), "accepted_right": round(a / max(1, n), 4)}


def rollout(fleet, model, rollout_id, max_rounds):
    """Starts a rollout of `model` (shadow, 50 %, switch) and runs rounds until it finishes; returns `rollout show`'s
    JSON (plan and log) and the scores of the devices that are not held out, round by round."""
    fleet.collector("rollout", "start", model, "--group", "field", "--steps", "shadow,50,100", "--interval", "0s",
                    "--min-samples", str(fleet.size["min_samples"]), "--require-teacher-gain", "--hold-after", "1h", "--baseline", "command-en@0.1.0" if rollout_id == "v2" else "command-en@0.2.0",
                    "--id", rollout_id)
    fleet.sync_all()
    rounds, live = 0, []
    state = "running"
    while state == "running" and rounds < max_rounds:
        results = fleet.phase(f"rollout-{rollout_id}-{rounds}")
        live += [score(*results[n]) for n in fleet.names if n not in fleet.held_out]
        evaluated = json.loads(fleet.collector("rollout", "evaluate", "--json").stdout or "[]")
        mine = [v for v in evaluated if v.get("rollout") == rollout_id or v.get("id") == rollout_id] or evaluated
        verdict = mine[0] if mine else {}
        state = verdict.get("state", "?")
        outcome = (verdict.get("verdict") or {}).get("outcome")
        log(f"rollout {rollout_id} round {rounds}: {outcome} → {state}: {(verdict.get('verdict') or {}).get('reason', '')[:200]}")
        fleet.sync_all()
        rounds += 1
    shown = json.loads(fleet.collector("rollout", "show", rollout_id, "--json").stdout)
    open(os.path.join(fleet.work, f"rollout-{rollout_id}.html"), "w").write(fleet.server.get(f"/rollouts/{rollout_id}"))
    return shown, live


def evaluate_held_out(fleet, bundles):
    """v1, v2 (local only) and the teacher on the held-out devices' evaluation recordings (never uploaded, never trained
    on), and on their before-shift recordings (the old population must not get worse)."""
    results = {}
    for phase in ("eval", "before"):
        correct = {}
        for label, bundle in bundles.items():
            scores, correct[label] = [], []
            for name in fleet.held_out:
                audio, truth = fleet.recording(phase, name)
                out = run([fleet.earshot, "run", "--audio", audio, "--model", bundle]).stdout
                scores.append(score([json.loads(x) for x in out.splitlines() if x.strip()], truth, correct[label]))
            results[f"{phase}/{label}"] = total(scores)
        only_v2 = sum(b and not a for a, b in zip(correct["v1"], correct["v2"]))
        only_v1 = sum(a and not b for a, b in zip(correct["v1"], correct["v2"]))
        results[f"{phase}/v2-vs-v1"] = {"only_v2_right": only_v2, "only_v1_right": only_v1, "mcnemar_p": float(f"{mcnemar(only_v2, only_v1):.3g}")}
        scores = []
        for name in fleet.held_out:
            audio, truth = fleet.recording(phase, name)
            out = run([fleet.earshot, "run", "--audio", audio, "--model", V1, "--cloud-url", fleet.teacher.base + "/v1/audio/transcriptions",
                       "--policy", "cloud-first", "--cloud-model", "pocketsphinx:commands", "--budget-ms", "8000",
                       "--cloud-timeout-ms", "8000"]).stdout
            scores.append(score([json.loads(x) for x in out.splitlines() if x.strip()], truth))
        results[f"{phase}/teacher"] = total(scores)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--work", help="working directory (default: a new temporary one, removed unless --keep)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    parser.add_argument("--python", default=os.path.join(ROOT, ".venv-training", "bin", "python"),
                        help="a Python with tensorflow-cpu and ai-edge-litert (scripts/models/install-training.sh)")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    size = SIZES[args.size]
    work = args.work or tempfile.mkdtemp(prefix="earshot-lifecycle-")
    if args.work and os.path.isdir(work) and os.listdir(work):
        if not os.path.exists(os.path.join(work, "collector.db")):
            raise SystemExit(f"{work} is not empty and not an earlier run's directory; give a new or empty --work")
        shutil.rmtree(work)           # an earlier run's: start again
    os.makedirs(work, exist_ok=True)
    started = time.time()
    report = {"size": args.size, "sizes": size, "seed": SEED}
    fleet = Fleet(args, work, size)
    try:
        fleet.setup()
        # 1. Deployed: v1 hears the population it was trained for.
        before = fleet.phase("before")
        report["fleet_before"] = total([score(*before[n]) for n in fleet.names])
        report["alarms_before"] = fleet.alarms()
        log(f"before the shift: v1 {report['fleet_before']}; alarm changes {[a.get('rule') for a in report['alarms_before']]}")
        # 2. The population shifts; 3. monitoring flags it.
        after = fleet.phase("after")
        report["fleet_after"] = total([score(*after[n]) for n in fleet.names])
        changes = fleet.alarms()
        report["alarms_after"] = changes
        firing = sorted({a.get("rule") for a in changes if a.get("state") == "firing"})
        report["alarms_firing"] = firing
        page = fleet.server.get("/")
        open(os.path.join(work, "dashboard-after-shift.html"), "w").write(page)
        report["dashboard_shows"] = [rule for rule in firing if rule in page]
        log(f"after the shift: v1 {report['fleet_after']}; firing: {', '.join(firing) or 'nothing'}")
        # 4. Export the period with the teacher's labels, and fine-tune v2 from v1.
        export = os.path.join(work, "export")
        fleet.collector("export", "--for-training", "--out", export)
        items = [json.loads(x) for x in open(os.path.join(export, "manifest.jsonl")) if x.strip()]
        provenance = {}
        for item in items:
            provenance[item["provenance"]] = provenance.get(item["provenance"], 0) + 1
        report["export"] = {"clips": len(items), "provenance": provenance}
        data = os.path.join(work, "data")
        run([args.python, os.path.join(ROOT, "Models/command/recipe/deployment.py"), "--export", export, "--out", data,
             "--earshot", fleet.earshot, "--test-devices", ",".join(fleet.held_out)])
        sys.path.insert(0, os.path.join(ROOT, "Models", "command", "recipe"))
        import deployment  # noqa: E402
        import numpy as np  # noqa: E402
        clips, facts = P.replay_clips(size["replay"], SEED, fleet.pool)
        np.save(os.path.join(data, "replay_features.npy"), deployment.features([c / 32768 for c in clips], data, "replay", fleet.earshot))
        json.dump(facts, open(os.path.join(data, "replay_facts.json"), "w"))
        report["label_noise"] = label_noise(items, fleet.truth)
        log(f"export: {len(items)} clips {provenance}; teacher labels wrong on {report['label_noise']}")
        v2 = os.path.join(work, "bundles", "command-en-0.2.0")
        tuned = run([args.python, os.path.join(ROOT, "Models/command/recipe/finetune.py"), "--base", V1, "--data", data, "--out", v2,
                     "--version", "0.2.0", "--epochs", str(size["epochs"])])
        report["finetune"] = json.loads(tuned.stdout.strip().splitlines()[-1])
        log("fine-tuned: " + " | ".join(line for line in tuned.stdout.splitlines() if "calibration" in line or "fine-tuning" in line))
        # 5. Ship v2 by rollout; then a broken v2' (its label order scrambled: a classic packaging bug).
        fleet.collector("models", "push", V1)          # the registry knows the model in the field (its calibration)
        fleet.collector("models", "push", v2)
        shown, live = rollout(fleet, "command-en@0.2.0", "v2", 12)
        report["rollout_v2"] = {"state": shown["plan"]["state"], "log": [(e.get("action"), e.get("reason")) for e in reversed(shown.get("log", []))],
                                "fleet_during": total(live)}
        actives = [json.loads(run([fleet.earshot, "models", "list", "--store", os.path.join(fleet.home(n), "store"), "--json"]).stdout)
                   .get("slots", {}).get("active") for n in fleet.names]
        report["rollout_v2"]["devices_on_v2"] = actives.count("command-en@0.2.0")
        if shown["plan"]["state"] not in ("completed", "rolled-back"):       # let the next rollout start; the check fails
            fleet.collector("rollout", "abort", "v2", check=False)
        broken = os.path.join(work, "bundles", "command-en-0.2.1")
        shutil.copytree(v2, broken)
        manifest = json.load(open(os.path.join(broken, "manifest.json")))
        manifest["version"] = "0.2.1"
        manifest["labels"] = manifest["labels"][:2] + list(reversed(manifest["labels"][2:]))
        json.dump(manifest, open(os.path.join(broken, "manifest.json"), "w"), indent=2)
        fleet.collector("models", "push", broken)
        shown, _ = rollout(fleet, "command-en@0.2.1", "v2-broken", 6)
        report["rollout_broken"] = {"state": shown["plan"]["state"],
                                    "log": [(e.get("action"), e.get("reason")) for e in reversed(shown.get("log", []))]}
        # 6. Held-out slice of the new population: v1 against v2 (and the teacher).
        report["held_out"] = evaluate_held_out(fleet, {"v1": V1, "v2": v2})
    finally:
        for server in ("server", "teacher"):
            if hasattr(fleet, server):
                getattr(fleet, server).stop()
        fleet.pool.terminate()
    report["seconds"] = round(time.time() - started, 1)
    json.dump(report, open(os.path.join(work, "report.json"), "w"), indent=2)
    print_report(report)
    problems = expectations(report)
    for p in problems:
        print("EXPECTATION FAILED: " + p)
    if not args.work and not args.keep and not problems:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work directory: {work}")
    return 1 if args.check and problems else 0


def label_noise(items, truth):
    """How often an exported label (the teacher's, or v1's where it was sure) is wrong, by provenance, against the
    generator's truth for the utterance it came from."""
    wrong, count = {}, {}
    for item in items:
        true = truth.get((item["device"], item["utterance"]))
        if true is None:
            continue
        p = item["provenance"]
        count[p] = count.get(p, 0) + 1
        wrong[p] = wrong.get(p, 0) + (item["label"] != true)
    return {p: f"{wrong[p]}/{n}" for p, n in count.items()}


def expectations(r):
    problems = []
    firing = set(r.get("alarms_firing", []))
    for kind, rules in (("input drift", {"input-spectrum-drift", "input-level-drift"}),
                        ("output drift", {"output-confidence-drift", "output-null-results"}),
                        ("concept drift", {"concept-teacher-disagreement"})):
        if not firing & rules:
            problems.append(f"no {kind} alarm fired after the shift (firing: {sorted(firing)})")
    if any(a.get("state") == "firing" for a in r.get("alarms_before", [])):
        problems.append("an alarm fired before the shift")
    if r.get("rollout_v2", {}).get("state") != "completed":
        problems.append(f"v2's rollout ended {r.get('rollout_v2', {}).get('state')}, not completed")
    if r.get("rollout_v2", {}).get("devices_on_v2") != r.get("sizes", {}).get("devices"):
        problems.append(f"{r.get('rollout_v2', {}).get('devices_on_v2')} devices run v2 after its rollout, not all {r.get('sizes', {}).get('devices')}")
    if r.get("rollout_broken", {}).get("state") != "rolled-back":
        problems.append(f"the broken v2' rollout ended {r.get('rollout_broken', {}).get('state')}, not rolled_back")
    h = r.get("held_out", {})
    if h and not h["eval/v2"]["top1"] > h["eval/v1"]["top1"]:
        problems.append(f"v2 does not beat v1 on the held-out new population: {h['eval/v2']} vs {h['eval/v1']}")
    return problems


def print_report(r):
    print("\n== ML lifecycle report ({} size, {} s) ==".format(r["size"], r.get("seconds")))
    for key in ("fleet_before", "fleet_after"):
        print(f"{key}: {r.get(key)}")
    print(f"alarms firing after the shift: {r.get('alarms_firing')} (on the dashboard: {r.get('dashboard_shows')})")
    print(f"export: {r.get('export')}; exported labels wrong: {r.get('label_noise')}")
    print(f"fine-tune: {r.get('finetune')}")
    for key in ("rollout_v2", "rollout_broken"):
        v = r.get(key, {})
        print(f"{key}: {v.get('state')}; " + "; ".join(f"{a}: {(why or '')[:140]}" for a, why in v.get("log", [])))
    print("held-out (devices never trained on; top-1 / accepted and right):")
    for key, value in sorted(r.get("held_out", {}).items()):
        print(f"  {key:16} {value}")


if __name__ == "__main__":
    sys.exit(main())
