"""The `faultbot` command: thin, it parses, calls one function of the core, and prints.

People get rich text; machines get `--json`. A FaultbotError is one line on stderr and
exit 2; anything else is a bug: exit 1, traceback in the state dir's crash log.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot import version
from bot.base.gitenv import forget_inherited
from bot.errors import ConfigError, ConfigErrors, FaultbotError

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("repos.yaml"),
    show_default=True,
    help="The event's repos.yaml.",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def out() -> Console:
    """Console for results (stdout); built per call so tests capturing stdout see it."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=True, width=200)  # pipes and logs: no wrapping
    return console


def emit_json(payload: Any) -> None:
    """One JSON document on stdout."""
    click.echo(json.dumps(payload, indent=2, sort_keys=False, default=str))


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # click.version_option would need the version at import: its lookup costs every command start-up.
    if value and not ctx.resilient_parsing:
        click.echo(f"faultbot, version {version()}")
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def cli() -> None:
    """faultbot breaks each team's service with a plausible commit, then scores the fix."""


@cli.command()
@CONFIG_OPTION
@JSON_OPTION
@click.option("--offline", is_flag=True, help="Skip checks that reach the network or repos.")
def validate(config_path: Path, as_json: bool, offline: bool) -> None:
    """Check repos.yaml, the fault catalog and every team's repository."""
    from bot.app.commands import run_validate

    report = run_validate(config_path, offline=offline)
    if as_json:
        emit_json({"ok": report.ok, "problems": report.problems, "warnings": report.warnings, "teams": report.teams})
    else:
        console = out()
        for problem in report.problems:
            click.echo(problem, err=True)
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
        if report.ok:
            mode = " (offline: repositories not contacted)" if offline else ""
            console.print(f"[green]ok[/green] {config_path}: {len(report.teams)} teams valid{mode}")
            for team in report.teams:
                console.print(f"  {team['name']:<16} {team['repository']} @ {team['branch']} ({team['delivery']})")
    if not report.ok:
        raise SystemExit(2)


@cli.command()
@CONFIG_OPTION
@JSON_OPTION
@click.option("--team", "team_names", multiple=True, help="Only this team (repeatable).")
def plan(config_path: Path, as_json: bool, team_names: tuple[str, ...]) -> None:
    """Show, per team, which faults apply and the exact diff each would push (pushes nothing)."""
    from bot.app.commands import run_plan
    from bot.app.console import schedule, schedule_table
    from bot.config import load_config

    plans = run_plan(config_path, list(team_names))
    if as_json:
        emit_json({team: plan.as_json() for team, plan in plans.items()})
        return
    config, _ = load_config(config_path)
    console = out()
    console.rule("[bold]schedules[/bold]: what each team will get, in order (same seed, same plan)")
    for team, plan in plans.items():
        families = {e.fault: e.family for e in plan.entries}
        console.print(schedule_table(schedule(config.team(team), plan.entries), families))
        console.print()
    for team, plan in plans.items():
        if plan.problem is not None:  # one line for the team, not one per fault
            console.rule(f"[bold]{escape(team)}[/bold]: nothing to plan")
            console.print(f"[red]cannot read the repo[/red]  {escape(plan.problem)}")
            continue
        applicable = sum(e.applicable for e in plan.entries)
        console.rule(f"[bold]{escape(team)}[/bold]: {applicable} of {len(plan.entries)} faults apply")
        console.print(f"deploys {escape(plan.root or '.')} ({escape(plan.how)})")
        for note in plan.notes:
            console.print(f"[yellow]note[/yellow]     {escape(note)}")
        for entry in plan.entries:
            if entry.applicable:
                variant = f" ({escape(entry.variant)})" if entry.variant and entry.variant != "default" else ""
                console.print(f"[green]applies[/green]  {escape(entry.fault)}{variant}")
                console.print(entry.diff, markup=False, highlight=False)
            else:
                # Reasons hold YAML paths like `env[name=DB_HOST]`: escaped, or Rich eats them as markup.
                console.print(f"[yellow]skipped[/yellow]  {escape(entry.fault)}: {escape(entry.reason)}")


@cli.command()
@click.option("--teams", "team_count", type=int, default=4, show_default=True, help="How many teams (1-8).")
@click.option("--speed", type=float, default=60.0, show_default=True, help="Game minutes per wall-clock second / 60.")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where to put the team repos, state and reports (default: a new temp folder).")
@JSON_OPTION
def demo(team_count: int, speed: float, workdir: Path | None, as_json: bool) -> None:
    """A complete local rehearsal, no accounts: team repos, the real daemon, simulated teams, scoreboard."""
    from bot.app.demo import run_demo
    from bot.web.report import human_duration

    console = out()
    started = datetime.now(timezone.utc)

    def say(kind: str, facts: dict[str, Any]) -> None:
        if as_json or (kind == "delivered" and facts.get("audience") != "team"):
            return  # the organizers' feed goes to the inbox too; the console shows what teams get
        clock = str(datetime.now(timezone.utc) - started).split(".")[0]
        team = facts.get("team", "")
        line = {
            "validated": f"validated {facts.get('teams')} team repositories; the game starts",
            "injected": f"[red]broke[/red]     {facts.get('fault')} as {facts.get('persona')} ({str(facts.get('sha'))[:10]})",
            "team-fix": f"[green]team fix[/green]  {facts.get('fault')} by {facts.get('by')} ({facts.get('style')})",
            "reverted": f"[yellow]bot revert[/yellow] {facts.get('fault')} ({facts.get('reason')})",
            "timed-out": f"[yellow]timed out[/yellow] {facts.get('fault')}",
            "hint": f"hint      {facts.get('fault')}: {facts.get('text')}",
            "delivered": f"[cyan]to team[/cyan]   delivered: {facts.get('text')}",
            "responder-error": f"[red]responder[/red] {facts.get('error')}",
        }.get(kind, kind)
        console.print(f"{clock} {team:<8} {line}")

    if not as_json:
        console.print(f"[bold]faultbot demo[/bold]: {team_count} teams, speed x{speed:g}, building repositories...")
    result = run_demo(team_count, workdir, speed=speed, say=say)
    if as_json:
        emit_json({
            "workdir": str(result.workdir),
            "config": str(result.config_path),
            "validation": {"ok": result.validation.ok, "problems": result.validation.problems},
            "instances": [i.as_json() for i in result.instances],
            "scoreboard": [t.as_json() for t in result.board],
            "reports": {k: str(v) if isinstance(v, Path) else [str(p) for p in v]
                        for k, v in vars(result.reports).items()} if result.reports else None,
            "notices": result.notices,
        })
    else:
        for problem in result.validation.problems:
            console.print(f"[red]problem[/red] {problem}")
        table = Table("rank", "team", "score", "fixed", "reverts", "forward fixes", "timed out", "median time to fix",
                      "median MTTA", box=None, title="scoreboard (game time)")
        for team in result.board:
            table.add_row(str(team.rank), team.team, str(team.score), str(team.fixed), str(team.reverts),
                          str(team.forward_fixes), str(team.timed_out), human_duration(team.median_time_to_fix_s),
                          human_duration(team.median_mtta_s))
        console.print(table)
        hints = [n for n in result.notices if n.get("audience") == "team"]
        console.print(f"notifications delivered to the demo inbox: {len(hints)} hints to teams, "
                      f"{len(result.notices) - len(hints)} lines to the organizers")
        if result.reports:
            console.print(f"reports: {result.reports.markdown.parent} (report.md/.json/.csv/.html, timeline PNGs)")
        console.print(f"repos.yaml: {result.config_path}  (try: faultbot status --cached --config {result.config_path})")
    if not result.validation.ok:
        raise SystemExit(2)


@cli.command()
@CONFIG_OPTION
@JSON_OPTION
@click.option("--dry-run", is_flag=True, help="Print the diff; push nothing.")
@click.option("--force", is_flag=True, help="Inject even though the team has another open fault.")
@click.argument("team")
@click.argument("fault_id")
def inject(config_path: Path, as_json: bool, dry_run: bool, force: bool, team: str, fault_id: str) -> None:
    """Inject FAULT_ID into TEAM's repository now, as a simulated developer."""
    from bot.app.commands import run_inject

    result = run_inject(config_path, team, fault_id, dry_run=dry_run, force=force)
    if as_json:
        emit_json(result.as_json())
        return
    console = out()
    if dry_run:
        console.print(f"[bold]dry run[/bold]: {fault_id} on {team} ({result.branch} at {result.parent[:12]}), "
                      f"as {result.persona}: {result.message!r}; nothing pushed")
        console.print(result.diff, markup=False, highlight=False)
        return
    via = f"PR #{result.pr_number} merged as {(result.landed_sha or '')[:12]}" if result.pr_number else "pushed"
    again = " (found on the remote after an interrupted run; not pushed again)" if result.recovered else ""
    console.print(f"[green]injected[/green] {fault_id} into {team}: {result.sha[:12]} on {result.branch}, {via}, "
                  f"as {result.persona} at {result.pushed_at.isoformat() if result.pushed_at else '?'}{again}")


@cli.command()
@CONFIG_OPTION
@JSON_OPTION
@click.option("--cached", is_flag=True, help="Read the event log only; do not contact the repos, ArgoCD or PagerDuty.")
def status(config_path: Path, as_json: bool, cached: bool) -> None:
    """Every team's faults: injected, fixed (how, by whom, when), still failing checks, paged and acknowledged."""
    from bot.app.commands import run_status

    instances = run_status(config_path, cached=cached)
    if as_json:
        emit_json([i.as_json() for i in instances])
        return
    from zoneinfo import ZoneInfo

    from bot.app.console import status_tables
    from bot.config import load_config

    config, _ = load_config(config_path)
    console = out()
    for table in status_tables(instances, ZoneInfo(config.event.timezone)):
        console.print(table)
        console.print()
    if not instances:
        console.print("no faults injected yet")


@cli.command()
@CONFIG_OPTION
@click.option("--log-format", type=click.Choice(["auto", "human", "json"]), default="auto", show_default=True,
              help="human lines on a terminal, JSON lines otherwise (auto), or force one.")
def run(config_path: Path, log_format: str) -> None:
    """Run the daemon: inject, watch, time and revert, for every team, until stopped."""
    import threading

    from bot.app.control import install_signal_handlers, run_daemon

    stop = threading.Event()
    install_signal_handlers(stop)
    run_daemon(config_path, stop=stop, log_format=log_format)


@cli.command()
@CONFIG_OPTION
@JSON_OPTION
@click.option("--team", default=None, help="Halt only this team.")
def halt(config_path: Path, as_json: bool, team: str | None) -> None:
    """The kill switch: stop injecting and revert every open fault (safe to repeat)."""
    from bot.app.control import halt as do_halt

    result = do_halt(config_path, team)
    if as_json:
        emit_json({"teams": [t.as_json() for t in result.teams], "deferred_to_daemon": result.deferred_to_daemon,
                   "already_halted": result.already_halted, "ok": result.ok})
    else:
        console = out()
        if result.deferred_to_daemon:
            console.print("[yellow]halted[/yellow]: the running daemon reverts every open fault within one poll")
        for outcome in result.teams:
            console.print(_halt_line(outcome), markup=True, highlight=False)
    if not result.ok:
        raise SystemExit(2)  # only now: every team was tried first


def _halt_line(outcome: Any) -> str:
    """One line per team for `halt`."""
    faults = ", ".join(f"{fault} ({sha[:12] if sha else 'already undone'})" for fault, sha in outcome.reverted)
    if outcome.outcome == "reverted":
        return f"{outcome.team}: [yellow]reverted[/yellow] {faults}"
    if outcome.outcome == "nothing-open":
        return f"{outcome.team}: nothing open"
    if outcome.outcome == "deferred":
        return f"{outcome.team}: halt recorded; the daemon reverts"
    done = f" (reverted {faults} first)" if faults else ""
    return f"{outcome.team}: [red]failed[/red]: {escape(outcome.error or 'unknown error')}{done}"


@cli.command()
@CONFIG_OPTION
@click.option("--team", default=None, help="Resume only this team.")
def resume(config_path: Path, team: str | None) -> None:
    """Lift a halt: the daemon schedules faults again."""
    from bot.app.control import resume as do_resume

    out().print("resumed" if do_resume(config_path, team) else "nothing was halted")


@cli.command()
@CONFIG_OPTION
@JSON_OPTION
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("report"),
              show_default=True, help="Where to write report.md/.json/.csv/.html.")
def report(config_path: Path, as_json: bool, out_dir: Path) -> None:
    """Score the event from its log and write the reports (Markdown, JSON, CSV, HTML)."""
    from zoneinfo import ZoneInfo

    from bot.app.commands import run_status
    from bot.config import load_config
    from bot.game.scoring import rules_from
    from bot.web.report import write_reports

    instances = run_status(config_path, cached=True)
    config, _ = load_config(config_path)
    try:
        paths = write_reports(instances, out_dir, config.event.name, datetime.now(timezone.utc),
                              rules_from(config.scoring), ZoneInfo(config.event.timezone))
    except OSError as exc:
        raise FaultbotError(f"report --out {out_dir}: cannot write there: {exc.strerror}; choose another folder") from None
    files = [paths.markdown, paths.json, paths.csv, paths.html, paths.timeline, *paths.team_timelines]
    if as_json:
        emit_json({k: str(v) if isinstance(v, Path) else [str(p) for p in v] for k, v in vars(paths).items()})
    else:
        out().print("reports: " + ", ".join(str(p) for p in files))


@cli.group()
def faults() -> None:
    """The fault catalog: list, show, verify."""


@faults.command("list")
@JSON_OPTION
@click.option("--catalog", type=click.Path(path_type=Path, file_okay=False), default=None, help="Another catalog folder.")
def faults_list(as_json: bool, catalog: Path | None) -> None:
    """Every fault: id, family, severity, title, roles."""
    from bot.app.faults import fault_summary
    from bot.catalog.faults import DEFAULT_CATALOG, Catalog

    rows = [fault_summary(f) for f in Catalog.load(catalog or DEFAULT_CATALOG).faults.values()]
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "severity", "title", "roles", box=None)
    for row in rows:
        table.add_row(row["id"], row["severity"], row["title"], ", ".join(row["roles"]))
    out().print(table)


@faults.command("show")
@click.argument("fault_id")
@JSON_OPTION
def faults_show(fault_id: str, as_json: bool) -> None:
    """One fault in full: symptom, commit messages, edits, checks, hints, reference fixes."""
    from bot.catalog.faults import Catalog

    fault = Catalog.load().get(fault_id)
    if as_json:
        emit_json(fault.spec.model_dump(mode="json"))
        return
    console = out()
    spec = fault.spec
    console.print(f"[bold]{spec.id}[/bold] ({spec.severity}): {spec.title}")
    console.print(f"symptom: {spec.symptom}")
    console.print("commit messages:", *[f"  - {m}" for m in spec.commit_messages], sep="\n")
    console.print(f"family: {spec.family}   roles: {', '.join(str(r) for r in spec.roles)}")
    console.print(f"--- {fault.folder / 'fault.yaml'}")
    console.print((fault.folder / "fault.yaml").read_text(encoding="utf-8"), markup=False, highlight=False)


@faults.command("verify")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="A team repository tree (default: examples/chat-app).")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A repos.yaml: verify on its teams' repos, with their targets: and path:.")
@click.option("--team", "team_names", multiple=True, help="With --config: only this team (repeatable).")
@click.option("--catalog", type=click.Path(path_type=Path, file_okay=False), default=None, help="Another catalog folder.")
@click.option("--fault", "fault_ids", multiple=True, help="Only this fault (repeatable; default: every fault).")
@JSON_OPTION
def faults_verify(repo: Path | None, config_path: Path | None, team_names: tuple[str, ...], catalog: Path | None,
                  fault_ids: tuple[str, ...], as_json: bool) -> None:
    """Prove every fault both ways: it breaks its checks, every reference fix mends them, every wrong fix does not."""
    from bot.app.faults import print_verification, verify_failed, verify_repos
    from bot.catalog.faults import Catalog

    if team_names and config_path is None:
        raise click.UsageError("--team needs --config")
    runs = verify_repos(repo, config_path, list(team_names), Catalog.load(catalog) if catalog is not None else None,
                        list(fault_ids))
    if as_json:
        from bot.app.faults import rehearsal_json

        emit_json({name: [rehearsal_json(r) for r in results] for name, results in runs.items()})
    else:
        print_verification(out(), runs)
    if any(verify_failed(r) for results in runs.values() for r in results):
        raise SystemExit(1)


@faults.command("new")
@click.option("--repo", "repo_path", type=click.Path(path_type=Path, file_okay=False, exists=True), required=True,
              help="The repository holding your breaking commit (only read).")
@click.option("--from", "commit", required=True, help="The commit that breaks the service (its parent is healthy).")
@click.option("--id", "fault_id", default=None, help="family/name for the new fault (default: guessed from the change).")
@click.option("--catalog", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The catalog folder to write into (default: the bundled fault_patches/).")
@JSON_OPTION
def faults_new(repo_path: Path, commit: str, fault_id: str | None, catalog: Path | None, as_json: bool) -> None:
    """Turn your own breaking commit into a fault draft, verify it, and say what is proven and what is not."""
    from bot.app.authoring import author_fault
    from bot.app.compose import behaviour_runner
    from bot.catalog.faults import DEFAULT_CATALOG
    from bot.catalog.faultspec import FAULT_ID

    if fault_id is not None:
        if not FAULT_ID.match(fault_id):
            raise click.BadParameter(f"{fault_id!r} must be family/name in lowercase-with-dashes", param_hint="--id")
    authored = author_fault(repo_path, commit, catalog or DEFAULT_CATALOG, fault_id=fault_id, runner=behaviour_runner())
    if as_json:
        emit_json(authored.as_json())
        return
    console = out()
    console.print(f"wrote [bold]{authored.fault.folder / 'fault.yaml'}[/bold]"
                  + (f" (+ {', '.join(sorted(authored.draft.files))})" if authored.draft.files else ""), highlight=False)
    console.print("[green]proven[/green]:", highlight=False)
    for line in authored.proven:
        console.print(f"  ✓ {line}", highlight=False, markup=False)
    console.print("[yellow]not proven yet[/yellow]:", highlight=False)
    for line in authored.not_proven or ["nothing: remove `draft: true` and it joins the catalog"]:
        console.print(f"  ✗ {line}", highlight=False, markup=False)


def _crash_log(exc: BaseException, argv: Sequence[str]) -> Path:
    """Write the traceback where an organizer can send it to us (the event's workdir, which
    is writable where the config may not be); return its path."""
    from bot.app.paths import crash_dir

    state_dir = crash_dir(argv)
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "crash.log"
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"--- {datetime.now(timezone.utc).isoformat()} faultbot {version()}\n")
        handle.write("".join(traceback.format_exception(exc)))
    return log


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI and turn errors into exit codes (0 ok, 1 bug, 2 user error)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    forget_inherited()  # before any thread: the shell's GIT_DIR or GIT_AUTHOR_NAME must not steer the bot's git
    try:
        cli.main(args=args, prog_name="faultbot", standalone_mode=False)
    except ConfigErrors as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        return 2
    except ConfigError as exc:  # already names the file and line
        click.echo(exc.message, err=True)
        return 2
    except FaultbotError as exc:
        click.echo(f"faultbot: {exc.message}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("faultbot: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for a crash
        log = _crash_log(exc, args)
        click.echo(f"faultbot: internal error: {exc.__class__.__name__}: {exc} (traceback in {log})", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
