"""Check the artifacts of a fleet job that ansible-runner ran inside the execution environment.

    python tests/fleet/check.py ARTIFACTS_DIR first|again LAPTOPS BOOTED

ARTIFACTS_DIR is ansible-runner's artifacts/IDENT folder; `first` is the job over fresh laptops, `again`
the same job run once more. LAPTOPS is how many laptops scripts/lib/fleet-job.sh prepared (mlap01..), plus
the laptop that is off (mlap-off); BOOTED is 1 when mlap01's machine runs. What each laptop is for is
written in scripts/lib/fleet-job.sh. Prints one line per laptop, then every failed expectation; exits 1 if
there is one.
"""

from __future__ import annotations

import json
import pathlib
import sys

PODMAN_MISSING = "mlap02"
REFUSED = "mlap03"
OFF = "mlap-off"
BOOTED = "mlap01"


def load_events(artifacts):
    events = []
    for path in sorted((artifacts / "job_events").glob("*.json")):
        events.append(json.loads(path.read_text()))
    return events


def expectations(report, stats, events, mode, laptops, booted):
    """Yield a message for every expectation the job does not meet."""
    names = ["mlap%02d" % i for i in range(1, laptops + 1)] + [OFF]
    if sorted(report) != sorted(names):
        yield "the report lists %s, not every laptop %s" % (sorted(report), names)
    special = {OFF: "unreachable"}
    if laptops >= 3:
        special[PODMAN_MISSING] = "failed"
        special[REFUSED] = "failed"
    for name in names:
        entry = report.get(name, {})
        status = entry.get("status")
        want = special.get(name, "ok")
        if status != want:
            yield "%s: status %s, expected %s (%s)" % (name, status, want, entry.get("error", ""))
            continue
        if want == "ok":
            state = "running" if booted and name == BOOTED else "stopped"
            if entry.get("state") != state:
                yield "%s: machine %s, expected %s" % (name, entry.get("state"), state)
            if not str(entry.get("podman", "")).startswith("4."):
                yield "%s: podman version %r, expected the host's 4.x" % (name, entry.get("podman"))
            changed = entry.get("changed", [])
            if mode == "first" and not changed:
                yield "%s: the first job changed nothing on it" % name
            if mode == "again" and changed:
                yield "%s: the job run again changed %s" % (name, changed)
            # Every task that changed something on the laptop (the report file, written on the controller, aside).
            tasks = [e["event_data"].get("task") for e in events if e.get("event") == "runner_on_ok"
                     and e["event_data"].get("host") == name and e["event_data"].get("res", {}).get("changed")
                     and e["event_data"].get("task") != "The report as JSON"]
            if tasks and mode == "again":
                yield "%s: tasks changed in the job run again: %s" % (name, tasks)
            if booted and name == BOOTED:
                if mode == "first" and "forwards" not in changed:
                    yield "%s: the forward was not made (changed: %s)" % (name, changed)
                findings = {m: f for m, f in entry.get("health", {}).items() if f}
                if findings or not entry.get("health"):
                    yield "%s: health findings %s, expected a check with none" % (name, entry.get("health"))
    error = report.get(OFF, {}).get("error", "")
    if "10.231.0.250" not in error:
        yield "%s: the reason does not name its address: %r" % (OFF, error)
    if laptops >= 3:
        error = report.get(PODMAN_MISSING, {}).get("error", "")
        if "podman cannot be run" not in error or "not on the PATH" not in error:
            yield "%s: the reason does not say podman is missing: %r" % (PODMAN_MISSING, error)
        error = report.get(REFUSED, {}).get("error", "")
        if "smaller than the machine's disk" not in error:
            yield "%s: the reason does not say the disk cannot shrink: %r" % (REFUSED, error)
    # The failing laptops did not stop the others, and ansible-runner recorded every one of them.
    dark = {e["event_data"].get("host") for e in events if e.get("event") == "runner_on_unreachable"}
    if dark != {OFF}:
        yield "unreachable: %s, expected only %s" % (sorted(dark), OFF)
    # A failed laptop is rescued and reported; the only failure left is the run's end, which names them.
    final = "Fail when a laptop failed"
    failed = [(e["event_data"].get("host"), e["event_data"].get("task")) for e in events
              if e.get("event") == "runner_on_failed" and not e["event_data"].get("ignore_errors")]
    unrescued = [(h, t) for h, t in failed if t != final and h not in stats.get("rescued", {})]
    if unrescued:
        yield "failed and not rescued: %s" % unrescued
    if len([task for _host, task in failed if task == final]) != 1:
        yield "the run did not end with one failure naming the failed laptops"
    hosts = {e.get("event_data", {}).get("host") for e in events if e.get("event", "").startswith("runner_on_")}
    missing = set(names) - hosts
    if missing:
        yield "no task events for %s" % sorted(missing)


def main(argv):
    artifacts, mode, laptops, booted = pathlib.Path(argv[1]), argv[2], int(argv[3]), argv[4] == "1"
    problems = []
    status = (artifacts / "status").read_text().strip() if (artifacts / "status").exists() else "?"
    rc = (artifacts / "rc").read_text().strip() if (artifacts / "rc").exists() else "?"
    # Laptops that fail make the job fail at its end (fleet_fail_on_error), as AWX shows a failed job.
    if (status, rc) != ("failed", "2"):
        problems.append("ansible-runner: status %s rc %s, expected failed and 2" % (status, rc))
    report_path = artifacts / "fleet-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    if not report:
        problems.append("no fleet report in %s" % report_path)
    events = load_events(artifacts)
    stats = [e["event_data"] for e in events if e.get("event") == "playbook_on_stats"]
    if not stats:
        problems.append("no playbook_on_stats event among %d events" % len(events))
        stats = [{"rescued": {}}]
    for name in sorted(report):
        entry = report[name]
        print("%-9s %-11s %-8s %s" % (name, entry.get("status"), entry.get("state", ""),
                                      entry.get("changed") if entry.get("status") == "ok" else entry.get("error")))
    problems.extend(expectations(report, stats[-1], events, mode, laptops, booted))
    print("%d events; status %s, rc %s" % (len(events), status, rc))
    for problem in problems:
        print("FAILED: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
