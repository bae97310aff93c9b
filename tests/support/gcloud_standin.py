"""A stand-in for the `gcloud` commands a release uses, keeping one Cloud Run service's state in a JSON file.

`install(folder, state_file)` writes an executable `gcloud` into ``folder`` (put it first on PATH). It answers:

- ``gcloud run services describe NAME --project --region --format=json``: a serving.knative.dev/v1 Service with
  ``status.traffic`` (percent targets, tag-only targets with their ``https://TAG---...`` URL),
  ``latestReadyRevisionName`` and ``url``; an unknown service fails as gcloud does (``Cannot find service``);
- ``gcloud run services update-traffic NAME --to-revisions=R=P,... | --to-latest, --update-tags=T=R,...,
  --remove-tags=T,...``: percents of the named revisions, the rest of the traffic spread as gcloud does (taken
  from the unnamed targets), tags moved or removed;
- ``gcloud functions deploy NAME ... [--serve-all-traffic-latest-revision] [--update-labels=K=V]``: a new ready
  revision; traffic follows it when the service routes to the latest revision (or the flag asks), else stays;
- ``gcloud functions describe NAME --gen2 --format=json`` (labels, ``serviceConfig.uri``, ``.revision``), or
  ``--format=value(serviceConfig.uri)``; the URI is the service's ``uri`` in the state when it has one (a local
  server standing for the function), else a made-up ``https://...run.app``;
- ``gcloud auth print-identity-token``: a made-up token.

Every call is appended to the state's ``calls``. ``fail_on`` (a list of subcommand words, e.g. ``update-traffic``)
makes such calls fail, for the metrics-outage and gcloud-error paths.

Two releases may call at once (a canary in flight and a dispatch that promotes it), as two real ``gcloud`` calls
may against one service: each call holds an exclusive lock on ``<state>.lock`` while it reads and changes the
state, and writes it by an atomic rename, so a reader never sees half a file and no call's change is lost.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STATE_ENV = "GCLOUD_STANDIN_STATE"


def install(folder: Path, state_file: Path, state: dict | None = None) -> dict[str, str]:
    """Write the `gcloud` executable and the initial state; return the environment that puts it on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "gcloud"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    script.chmod(0o755)
    write_state(state_file, state or {"services": {}, "calls": [], "fail_on": []})
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", STATE_ENV: str(state_file)}


def read_state(state_file: Path) -> dict:
    """The state as the last completed call left it."""
    return json.loads(state_file.read_text())


def write_state(state_file: Path, state: dict) -> None:
    """Replace the state at once: readers see the old file or the new one, never a part of it."""
    with tempfile.NamedTemporaryFile("w", dir=state_file.parent, prefix=".state-", delete=False) as staged:
        staged.write(json.dumps(state, indent=2))
    os.replace(staged.name, state_file)


@contextmanager
def locked_state(state_file: Path) -> Iterator[dict]:
    """The state, read and written back under an exclusive lock (one call at a time changes it)."""
    with open(f"{state_file}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = read_state(state_file)
        try:
            yield state
        finally:
            write_state(state_file, state)


def service_with(name: str, revisions: list[str], serving: str, labels: dict | None = None) -> dict:
    """A state whose service routes all traffic to the latest revision ``serving`` (as after a plain deploy)."""
    service = {"revisions": revisions, "latest_ready": serving, "latest": 100, "percents": {}, "tags": {}}
    return {"services": {name: service | {"labels": labels or {}}}, "calls": [], "fail_on": []}


def _flags(args: list[str]) -> tuple[list[str], dict[str, str]]:
    words, flags = [], {}
    for arg in args:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            flags[name] = value
        else:
            words.append(arg)
    return words, flags


def _url(name: str, tag: str | None = None) -> str:
    return f"https://{tag + '---' if tag else ''}{name}-abc123-ew.a.run.app"


def _describe(name: str, service: dict) -> dict:
    traffic = []
    if service["latest"]:
        traffic.append({"latestRevision": True, "percent": service["latest"], "revisionName": service["latest_ready"]})
    traffic += [{"percent": p, "revisionName": r} for r, p in service["percents"].items() if p]
    traffic += [{"revisionName": r, "tag": t, "url": _url(name, t)} for t, r in service["tags"].items()]
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": service["labels"]},
        "status": {
            "latestCreatedRevisionName": service["revisions"][-1],
            "latestReadyRevisionName": service["latest_ready"],
            "traffic": traffic,
            "url": _url(name),
        },
    }


def _update_traffic(service: dict, flags: dict[str, str]) -> None:
    if "to-latest" in flags:
        service["latest"], service["percents"] = 100, {}
    if flags.get("to-revisions"):
        named = {r: int(p) for r, p in (pair.split("=") for pair in flags["to-revisions"].split(","))}
        unknown = set(named) - set(service["revisions"])
        if unknown:
            _fail(f"Revision [{sorted(unknown)[0]}] not found")
        if sum(named.values()) > 100:
            _fail("The sum of the traffic percentages must not exceed 100")
        rest = 100 - sum(named.values())
        others = {r: p for r, p in service["percents"].items() if r not in named and p}
        if service["latest"]:
            others["@latest"] = service["latest"]
        total = sum(others.values())
        spread = {r: rest * p // total for r, p in others.items()} if total else {}
        if spread:
            first = next(iter(spread))
            spread[first] += rest - sum(spread.values())
        service["latest"] = spread.pop("@latest", 0)
        service["percents"] = {**spread, **named}
    for pair in filter(None, flags.get("update-tags", "").split(",")):
        tag, revision = pair.split("=")
        if revision not in service["revisions"]:
            _fail(f"Revision [{revision}] not found")
        service["tags"][tag] = revision
    for tag in filter(None, flags.get("remove-tags", "").split(",")):
        service["tags"].pop(tag, None)


def _deploy(state: dict, name: str, flags: dict[str, str]) -> None:
    service = state["services"].setdefault(
        name, {"revisions": [], "latest_ready": None, "latest": 100, "percents": {}, "tags": {}, "labels": {}}
    )
    revision = f"{name}-{len(service['revisions']) + 1:05d}-new"
    service["revisions"].append(revision)
    service["latest_ready"] = revision
    if "serve-all-traffic-latest-revision" in flags:
        service["latest"], service["percents"] = 100, {}
    for pair in filter(None, flags.get("update-labels", "").split(",")):
        key, value = pair.split("=")
        service["labels"][key] = value


def _fail(message: str) -> None:
    print(f"ERROR: (gcloud) {message}", file=sys.stderr)
    raise SystemExit(1)


def _service(state: dict, name: str) -> dict:
    if name not in state["services"]:
        _fail(f"Cannot find service [{name}]")
    return state["services"][name]


def _describe_function(name: str, service: dict, flags: dict[str, str]) -> None:
    uri = service.get("uri", _url(name))
    if flags.get("format") == "value(serviceConfig.uri)":
        print(uri)
        return
    config = {"uri": uri, "revision": service["latest_ready"]}
    print(json.dumps({"name": name, "labels": service["labels"], "serviceConfig": config}))


def main(args: list[str]) -> None:
    with locked_state(Path(os.environ[STATE_ENV])) as state:
        _call(state, args)


def _call(state: dict, args: list[str]) -> None:
    """One gcloud call against ``state`` (changed in place; a failure still records the call)."""
    state["calls"].append(args)
    words, flags = _flags(args)
    if set(words) & set(state.get("fail_on", [])):
        _fail(f"{' '.join(words[:3])}: the stand-in was told to fail (UNAVAILABLE)")
    if words == ["auth", "print-identity-token"]:
        print("stand-in-identity-token")
        return
    command, name = tuple(words[:-1]), words[-1]
    if command == ("functions", "deploy"):
        _deploy(state, name, flags)
    elif command == ("functions", "describe"):
        _describe_function(name, _service(state, name), flags)
    elif command == ("run", "services", "describe"):
        print(json.dumps(_describe(name, _service(state, name))))
    elif command == ("run", "services", "update-traffic"):
        _update_traffic(_service(state, name), flags)
    else:
        _fail(f"the stand-in does not know `gcloud {' '.join(words)}`")


if __name__ == "__main__":
    main(sys.argv[1:])
