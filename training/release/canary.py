"""Canary releases of the function's Cloud Run service: a new revision earns its traffic step by step.

    python -m training.release.canary prepare --fingerprint F   # before the deploy: no-op?, pin stable, tag it
    python -m training.release.canary tag                        # after the deploy: tag the new revision `canary`
    python -m training.release.canary run [--steps 10,50,100 ...] # move traffic, judge each step, roll back on breach
    python -m training.release.canary promote | abort            # by hand (workflow dispatch), also mid-run

Every command names the service with ``--service``, ``--project`` and ``--region``, and prints ``key=value`` lines
for ``$GITHUB_OUTPUT`` (the outcome goes to stderr and to ``--summary``); a failure prints one line on stderr and
exits 1. The state of a release lives in the service itself, as revision tags: ``stable`` (what served before) and
``canary`` (the new revision), so a dispatch can promote or abort a canary that a running deploy is moving, and that
run stops when it sees it. Each step's decision is ``training.release.canary_policy.decide``; the figures come from
Cloud Monitoring's log-based metrics filtered by revision (``canary_metrics``). gcloud is driven as a program, with
``--format=json``; the commands and their output are those of the gcloud reference (``gcloud run services
describe``, ``gcloud run services update-traffic``, ``gcloud functions describe``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from default_risk.contract.artifacts import MANIFEST_FILE, MODELS_PREFIX
from training.release.canary_metrics import MONITORING_API, CloudMonitoring, MetricsReader
from training.release.canary_policy import Action, Limits, Window, decide

CANARY_TAG = "canary"
STABLE_TAG = "stable"
FINGERPRINT_LABEL = "release-id"
"""The function's label holding the fingerprint of what it serves (code, model, settings): an equal one is a no-op."""


class CanaryError(RuntimeError):
    """A release step cannot proceed; the message says why and what to do."""


@dataclass(frozen=True)
class Route:
    revision: str
    percent: int
    tag: str | None
    url: str | None


@dataclass(frozen=True)
class ServiceState:
    latest_ready: str | None
    routes: tuple[Route, ...]

    @classmethod
    def from_describe(cls, described: dict) -> ServiceState:
        status = described.get("status", {})
        routes = tuple(
            Route(
                t.get("revisionName") or status.get("latestReadyRevisionName", ""),
                int(t.get("percent", 0)),
                t.get("tag"),
                t.get("url"),
            )
            for t in status.get("traffic", [])
        )
        return cls(status.get("latestReadyRevisionName"), routes)

    def tagged(self, tag: str) -> Route | None:
        return next((route for route in self.routes if route.tag == tag), None)

    def percent(self, revision: str) -> int:
        return sum(route.percent for route in self.routes if route.revision == revision)

    def serving(self) -> dict[str, int]:
        served: dict[str, int] = {}
        for route in self.routes:
            if route.percent:
                served[route.revision] = served.get(route.revision, 0) + route.percent
        return served


@dataclass(frozen=True)
class Service:
    """One Cloud Run service, through the gcloud CLI."""

    name: str
    project: str
    region: str

    def _where(self) -> list[str]:
        return [f"--project={self.project}", f"--region={self.region}"]

    def state(self) -> ServiceState | None:
        try:
            out = _gcloud(["run", "services", "describe", self.name, *self._where(), "--format=json"])
        except CanaryError as error:
            if "cannot find service" in str(error).lower() or "not_found" in str(error).lower():
                return None
            raise
        return ServiceState.from_describe(json.loads(out))

    def require_state(self) -> ServiceState:
        state = self.state()
        if state is None:
            raise CanaryError(f"service {self.name} does not exist in {self.project}/{self.region}")
        return state

    def update_traffic(
        self, split: dict[str, int] | None = None, tags: dict[str, str] | None = None, remove: Sequence[str] = ()
    ) -> None:
        args = ["run", "services", "update-traffic", self.name, *self._where(), "--quiet"]
        if split:
            args.append("--to-revisions=" + ",".join(f"{revision}={percent}" for revision, percent in split.items()))
        if tags:
            args.append("--update-tags=" + ",".join(f"{tag}={revision}" for tag, revision in tags.items()))
        if remove:
            args.append("--remove-tags=" + ",".join(remove))
        _gcloud(args)

    def fingerprint(self) -> str | None:
        out = _gcloud(["functions", "describe", self.name, "--gen2", *self._where(), "--format=json"])
        return json.loads(out).get("labels", {}).get(FINGERPRINT_LABEL)


def _gcloud(args: list[str]) -> str:
    try:
        done = subprocess.run(["gcloud", *args], capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CanaryError(f"gcloud {' '.join(args[:3])} could not run: {error}") from error
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise CanaryError(f"gcloud {' '.join(args[:3])} failed: {last}")
    return done.stdout


# --- the commands ----------------------------------------------------------------------------------------------


def prepare(service: Service, fingerprint: str) -> dict[str, str]:
    """Before the deploy: say whether there is anything to deploy, and pin the serving revision as `stable` so the
    deploy's new revision starts with no traffic."""
    state = service.state()
    if state is None:
        return {"deploy": "true", "first_release": "true", "stable_revision": ""}
    if (canary := state.tagged(CANARY_TAG)) is not None:
        raise CanaryError(
            f"a canary ({canary.revision}) is in flight: promote or abort it first "
            "(gh workflow run deploy.yml -f canary_action=promote|abort)"
        )
    serving = state.serving()
    if len(serving) != 1:
        raise CanaryError(
            f"traffic is split by hand ({serving}); send it all to one revision first (docs/runbooks/rollback.md)"
        )
    (stable,) = serving
    # The label describes the newest revision; it is what serves only when no rollback moved the traffic off it.
    if stable == state.latest_ready and service.fingerprint() == fingerprint:
        return {"deploy": "false", "first_release": "false", "stable_revision": stable}
    service.update_traffic(split={stable: 100}, tags={STABLE_TAG: stable})
    return {"deploy": "true", "first_release": "false", "stable_revision": stable}


def tag_canary(service: Service) -> dict[str, str]:
    """After the deploy: the new revision (no traffic yet) gets the tag `canary`, and its own URL."""
    state = service.require_state()
    stable = state.tagged(STABLE_TAG)
    if stable is None:
        raise CanaryError("no revision is tagged stable: run `prepare` before the deploy")
    new = state.latest_ready
    if new is None or new == stable.revision:
        raise CanaryError(f"the deploy created no new ready revision (latest ready: {new})")
    if state.percent(new):
        raise CanaryError(
            f"the new revision {new} already has {state.percent(new)}% of the traffic; the deploy must not move traffic"
        )
    service.update_traffic(tags={CANARY_TAG: new})
    route = service.require_state().tagged(CANARY_TAG)
    if route is None or not route.url:
        raise CanaryError(f"the tag {CANARY_TAG} on {new} has no URL")
    return {"canary_revision": new, "canary_url": route.url, "stable_revision": stable.revision}


@dataclass(frozen=True)
class Release:
    """A canary run's settings: the steps, their timing, the limits, and each revision's reference shares."""

    steps: tuple[int, ...]
    bake_seconds: float
    poll_seconds: float
    limits: Limits
    canary_reference: dict[str, float]
    stable_reference: dict[str, float]


def run_canary(
    service: Service,
    release: Release,
    metrics: MetricsReader,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[bool, str]:
    """Move the canary through the steps; return (promoted, summary). On a breach all traffic goes back to stable."""
    state = service.require_state()
    canary, stable = state.tagged(CANARY_TAG), state.tagged(STABLE_TAG)
    if canary is None or stable is None:
        raise CanaryError("no canary in flight: the service has no `canary` and `stable` tags")
    try:
        outcome = _steps_through(service, release, metrics, clock, sleep, canary.revision, stable.revision)
    except CanaryError as error:
        try:
            roll_back(service, stable.revision)
        except CanaryError:
            raise CanaryError(
                f"{error}; rolling back failed too: send the traffic back by hand with `gcloud run services "
                f"update-traffic {service.name} --to-revisions={stable.revision}=100 "
                f"--remove-tags={CANARY_TAG},{STABLE_TAG}`"
            ) from error
        raise CanaryError(f"{error}; all traffic is back on {stable.revision}") from error
    if outcome is not None:
        return outcome
    service.update_traffic(split={canary.revision: 100}, remove=[CANARY_TAG, STABLE_TAG])
    return True, f"canary {canary.revision} promoted to 100% through steps {', '.join(map(str, release.steps))}"


def _steps_through(
    service: Service,
    release: Release,
    metrics: MetricsReader,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    canary: str,
    stable: str,
) -> tuple[bool, str] | None:
    """Each step in turn until one is breached (rolled back) or taken by hand; None when every step was earned."""
    last_stable: Window | None = None
    for percent in release.steps:
        service.update_traffic(split={canary: 100} if percent == 100 else {canary: percent, stable: 100 - percent})
        started = clock()
        sleep(release.bake_seconds)
        while True:
            taken = _taken_by_hand(service, canary)
            if taken is not None:
                return taken
            canary_window, stable_window = metrics.read(canary, stable, max(clock() - started, 1.0))
            if stable_window is not None and stable_window.requests:
                last_stable = stable_window
            baseline = (last_stable or stable_window) if percent == 100 else stable_window
            decision = decide(
                canary_window,
                baseline,
                release.canary_reference,
                release.stable_reference,
                clock() - started,
                release.limits,
            )
            print(f"step {percent}%: {decision.summary()}", file=sys.stderr)
            if decision.action is Action.ADVANCE:
                break
            if decision.action is Action.ROLL_BACK:
                roll_back(service, stable)
                return False, f"canary {canary} rolled back at {percent}%: {decision.summary()}"
            sleep(release.poll_seconds)
    return None


def _taken_by_hand(service: Service, canary: str) -> tuple[bool, str] | None:
    """A dispatch promoted or aborted the canary while this run was judging it: stop, saying which."""
    state = service.require_state()
    if state.tagged(CANARY_TAG) is not None:
        return None
    if state.percent(canary) == 100:
        return True, f"canary {canary} was promoted by hand"
    return False, f"canary {canary} was aborted by hand; it serves {state.percent(canary)}%"


def roll_back(service: Service, stable: str) -> None:
    service.update_traffic(split={stable: 100}, remove=[CANARY_TAG, STABLE_TAG])


def promote(service: Service) -> str:
    state = service.require_state()
    canary = state.tagged(CANARY_TAG)
    if canary is None:
        raise CanaryError("no canary in flight (no revision is tagged canary)")
    service.update_traffic(split={canary.revision: 100}, remove=[CANARY_TAG, STABLE_TAG])
    return f"canary {canary.revision} promoted to 100% by hand"


def abort(service: Service) -> str:
    state = service.require_state()
    canary, stable = state.tagged(CANARY_TAG), state.tagged(STABLE_TAG)
    if canary is None or stable is None:
        raise CanaryError("no canary in flight (no revisions tagged canary and stable)")
    roll_back(service, stable.revision)
    return f"canary {canary.revision} aborted by hand: {stable.revision} serves 100%"


# --- the command line -----------------------------------------------------------------------------------------


def band_reference(version: str, models_dir: Path) -> dict[str, float]:
    """The validation share of each risk band of a committed version (its manifest's score reference)."""
    serving = json.loads((models_dir / version / MANIFEST_FILE).read_text())["serving"]
    shares = serving["stability"]["score"]["shares"][1:-1]  # the bins below 0 and above 1 hold nothing
    return dict(zip(serving["bands"]["labels"], shares, strict=True))


def _stable_reference(args: argparse.Namespace) -> dict[str, float]:
    """The stable revision's version's band shares; the canary's when that version is no longer committed."""
    if (args.models_dir / args.stable_version / MANIFEST_FILE).is_file():
        return band_reference(args.stable_version, args.models_dir)
    print(
        f"note: {args.stable_version} is not under {args.models_dir}: its PSI is taken against the canary's bands",
        file=sys.stderr,
    )
    return band_reference(args.canary_version, args.models_dir)


def _steps(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(part) for part in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--steps must be whole percents such as 10,50,100, not {text!r}") from error
    if not steps or steps[-1] != 100 or any(b <= a for a, b in itertools.pairwise(steps)) or steps[0] <= 0:
        raise argparse.ArgumentTypeError(f"--steps must rise from above 0 to 100, such as 10,50,100, not {text!r}")
    return steps


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.release.canary", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["prepare", "tag", "run", "promote", "abort"])
    parser.add_argument("--service", required=True, help="the function's name (its Cloud Run service)")
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--summary", type=Path, help="a file to append the outcome to ($GITHUB_STEP_SUMMARY)")
    parser.add_argument("--fingerprint", help="prepare: the release fingerprint (code, model, settings)")
    parser.add_argument("--steps", type=_steps, default=(10, 50, 100), help="traffic percents, e.g. 10,50,100")
    parser.add_argument("--bake-seconds", type=float, default=300.0, help="time at each step before it is judged")
    parser.add_argument("--poll-seconds", type=float, default=60.0, help="time between judgements of a step")
    parser.add_argument("--canary-version", help="run: the model version the canary serves")
    parser.add_argument("--stable-version", help="run: the model version the stable revision serves")
    parser.add_argument("--models-dir", type=Path, default=Path(MODELS_PREFIX))
    parser.add_argument("--monitoring-api", default=MONITORING_API, help="Monitoring API root (tests: a stand-in)")
    for limit in fields(Limits):
        parser.add_argument(f"--{limit.name.replace('_', '-')}", type=type(limit.default), default=limit.default)
    return parser


def _summarise(summary: Path | None, text: str) -> None:
    print(text, file=sys.stderr)
    if summary is not None:
        with summary.open("a", encoding="utf-8") as file:
            file.write(f"### Canary\n{text}\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    service = Service(args.service, args.project, args.region)
    try:
        outputs, ok = _command(args, service)
    except (CanaryError, OSError, KeyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for key, value in outputs.items():
        print(f"{key}={value}")
    return 0 if ok else 1


def _command(args: argparse.Namespace, service: Service) -> tuple[dict[str, str], bool]:
    if args.command == "prepare":
        if not args.fingerprint:
            raise CanaryError("prepare needs --fingerprint")
        return prepare(service, args.fingerprint), True
    if args.command == "tag":
        return tag_canary(service), True
    if args.command in ("promote", "abort"):
        summary = promote(service) if args.command == "promote" else abort(service)
        _summarise(args.summary, summary)
        return {}, True
    if not args.canary_version or not args.stable_version:
        raise CanaryError("run needs --canary-version and --stable-version (the model versions the revisions serve)")
    release = Release(
        steps=args.steps,
        bake_seconds=args.bake_seconds,
        poll_seconds=args.poll_seconds,
        limits=Limits(**{limit.name: getattr(args, limit.name) for limit in fields(Limits)}),
        canary_reference=band_reference(args.canary_version, args.models_dir),
        stable_reference=_stable_reference(args),
    )
    reader = CloudMonitoring(args.project, args.service, args.monitoring_api)
    promoted, summary = run_canary(service, release, reader, time.monotonic, time.sleep)
    _summarise(args.summary, summary)
    return {"promoted": str(promoted).lower()}, promoted


if __name__ == "__main__":
    sys.exit(main())
