"""repos.yaml: the shipped example loads, and every malformed file gets one precise line."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.app.paths import event_paths
from bot.base.durations import DurationRange, parse_duration
from bot.config import load_config
from bot.errors import ConfigError
from tests.conftest import ROOT

GOOD = """\
event:
  name: Game day
defaults:
  personas:
    - {name: Kenji Sato, email: k.sato@example.com}
teams:
  - name: team-a
    url: file:///srv/git/team-a.git
  - name: team-b
    repo: org/team-b
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "repos.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_shipped_example_loads() -> None:
    config, _ = load_config(ROOT / "repos.yaml")
    teams = {t.name: t for t in config.all_team_settings()}
    assert set(teams) == {"team-a", "team-b", "team-c"}
    assert teams["team-a"].scenario.seed == 7  # the team override wins ...
    assert teams["team-b"].scenario.seed == 2026  # ... and the default holds elsewhere
    assert teams["team-b"].delivery == "pr"
    assert teams["team-a"].git_url == "https://github.com/pd-cup/team-a.git"
    assert teams["team-c"].scenario.order == "fixed"
    assert teams["team-a"].scenario.first_delay == DurationRange(timedelta(minutes=5), timedelta(minutes=15))


def test_shipped_example_validates_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--config", str(ROOT / "repos.yaml"), "--offline"]) == 0
    assert "3 teams valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        (45, timedelta(seconds=45)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["5x", "m5", "1m1h", "5m5m", "", "-5m", "1.5h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="90s, 5m or 1h30m"):
        parse_duration(text)


MALFORMED = [
    # (what, yaml, expected line on stderr)
    ("unknown top-level key", GOOD + "extra: 1\n", "repos.yaml:11: extra: unknown field"),
    ("misspelled team field", GOOD.replace("    repo: org/team-b", "    repo: org/team-b\n    brnach: main"),
     "repos.yaml:11: teams[1].brnach: unknown field"),
    ("missing event", GOOD.replace("event:\n  name: Game day\n", ""), "repos.yaml:1: event: missing (required)"),
    ("missing event name", GOOD.replace("  name: Game day\n", "  timezone: UTC\n"), "repos.yaml:1: event.name: missing (required)"),
    ("no teams", GOOD.split("teams:")[0] + "teams: []\n", "repos.yaml:6: teams: List should have at least 1 item"),
    ("duplicate team", GOOD.replace("name: team-b", "name: team-a"),
     "repos.yaml:9: teams[1].name: duplicate team name 'team-a' (first at line 7)"),
    ("bad team name", GOOD.replace("name: team-b", "name: Team B"), "repos.yaml:9: teams[1].name: 'Team B': use lowercase"),
    ("team without repository", GOOD.replace("    repo: org/team-b\n", "    branch: main\n"),
     "repos.yaml:9: teams[1]: needs `repo: owner/name` (GitHub) or `url:` (any git URL)"),
    ("url that is not git", GOOD.replace("file:///srv/git/team-a.git", "/srv/git/team-a"),
     "repos.yaml:8: teams[0].url: '/srv/git/team-a' is not a git URL"),
    ("repo that is not owner/name", GOOD.replace("org/team-b", "team-b"),
     "repos.yaml:10: teams[1].repo: 'team-b' is not a GitHub owner/name"),
    ("bad delivery", GOOD.replace("  personas:", "  delivery: email\n  personas:"),
     "repos.yaml:4: defaults.delivery: 'email' is not allowed"),
    ("bad duration", GOOD.replace("defaults:\n", "defaults:\n  scenario: {time_limit: 45 minutes}\n"),
     "repos.yaml:4: defaults.scenario.time_limit: '45 minutes' is not a duration"),
    ("backwards range", GOOD.replace("defaults:\n", "defaults:\n  scenario:\n    first_delay: 15m..5m\n"),
     "repos.yaml:5: defaults.scenario.first_delay: '15m..5m' runs backwards"),
    ("bad range in a team override", GOOD.replace("    repo: org/team-b\n", "    repo: org/team-b\n    scenario: {next_delay: 2m..later}\n"),
     "repos.yaml:11: teams[1].scenario.next_delay: 'later' is not a duration"),
    ("bad persona email", GOOD.replace("k.sato@example.com", "kenji"),
     "repos.yaml:5: defaults.personas[0].email: 'kenji' is not an email address"),
    ("no personas", GOOD.replace("    - {name: Kenji Sato, email: k.sato@example.com}\n", "").replace("  personas:\n", "  personas: []\n"),
     "repos.yaml:4: defaults.personas: List should have at least 1 item"),
    ("unknown role in targets", GOOD.replace("    repo: org/team-b\n", "    repo: org/team-b\n    targets: {webserver: k8s/x.yaml}\n"),
     "repos.yaml:11: teams[1].targets.webserver: 'webserver' is not allowed"),
    ("bad order", GOOD.replace("defaults:\n", "defaults:\n  scenario: {order: shuffled}\n"),
     "repos.yaml:4: defaults.scenario.order: 'shuffled' is not allowed"),
    ("seed not a number", GOOD.replace("defaults:\n", "defaults:\n  scenario: {seed: lucky}\n"),
     "repos.yaml:4: defaults.scenario.seed: Input should be a valid integer"),
    ("bad time zone", GOOD.replace("  name: Game day\n", "  name: Game day\n  timezone: Mars/Olympus\n"),
     "repos.yaml:3: event.timezone: unknown time zone 'Mars/Olympus'"),
    ("token env that is not a variable name", GOOD + "github: {token_env: 'ghp_abc def'}\n",
     "repos.yaml:11: github.token_env: 'ghp_abc def' is not an environment variable name"),
    ("argocd without url", GOOD + "argocd: {token_env: ARGO}\n", "repos.yaml:11: argocd.url: missing (required)"),
    ("probe status out of range", GOOD.replace("    repo: org/team-b\n", "    repo: org/team-b\n    probe: {url: 'http://x/', expect_status: 999}\n"),
     "repos.yaml:11: teams[1].probe.expect_status: Input should be less than or equal to 599"),
    ("state and state_env both", GOOD.replace("  name: Game day\n", "  name: Game day\n  state: sqlite:///x.db\n  state_env: DB_URL\n"),
     "repos.yaml:4: event.state_env: `state` and `state_env` are exclusive"),
    ("state_env naming an unset variable", GOOD.replace("  name: Game day\n", "  name: Game day\n  state_env: FAULTBOT_TEST_UNSET_URL\n"),
     "repos.yaml:3: event.state_env: environment variable FAULTBOT_TEST_UNSET_URL is not set"),
    ("leader_timeout too short", GOOD + "leader_timeout: 1s\n", "repos.yaml:11: leader_timeout: 1s is too short"),
    ("YAML syntax error", GOOD.replace("  name: Game day", "  name: [Game day"), "repos.yaml:3: invalid YAML"),
    ("not a mapping", "- just\n- a list\n", "repos.yaml:1: the file must be a mapping"),
]


@pytest.mark.parametrize(("what", "text", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_config_gives_one_precise_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    assert main(["validate", "--config", str(path), "--offline"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(expected), err[0]


def test_all_problems_are_reported_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOOD.replace("org/team-b", "team-b").replace("k.sato@example.com", "kenji")
    assert main(["validate", "--config", str(write(tmp_path, text)), "--offline"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert any("teams[1].repo" in line for line in err) and any("personas[0].email" in line for line in err)


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_missing_token_env_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("file:///srv/git/team-a.git", "https://git.example.invalid/a.git"))
    assert main(["validate", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "github.token_env: environment variable GITHUB_TOKEN is not set" in err


def test_the_state_url_comes_from_the_variable_state_env_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD.replace("  name: Game day\n", "  name: Game day\n  state_env: EVENT_DB\n"))
    config, _ = load_config(path)
    url = "postgresql+psycopg://faultbot:s3cret@db.example.com:5432/faultbot"
    assert event_paths(config, path, {"EVENT_DB": url}).state_url == url
    relative = event_paths(config, path, {"EVENT_DB": "sqlite:///event.db"})
    assert relative.state_url == f"sqlite:///{(tmp_path / 'event.db').resolve().as_posix()}"
    with pytest.raises(ConfigError, match="repos.yaml: event.state_env: environment variable EVENT_DB is not set"):
        _ = event_paths(config, path, {}).state_url
    monkeypatch.delenv("EVENT_DB", raising=False)
    assert main(["status", "--cached", "--config", str(path)]) == 2  # a one-line error, not a crash


def test_relative_state_and_caches_go_under_the_state_dir_when_set(tmp_path: Path) -> None:
    """The image sets FAULTBOT_STATE_DIR=/state: a read-only /config never receives the state or the caches."""
    config, _ = load_config(write(tmp_path, GOOD))
    config_path = tmp_path / "config" / "repos.yaml"
    state_dir = tmp_path / "state"
    paths = event_paths(config, config_path, {"FAULTBOT_STATE_DIR": str(state_dir)})
    assert paths.state_url == f"sqlite:///{(state_dir / 'faultbot.db').as_posix()}"
    assert paths.workdir == state_dir / ".faultbot"
    beside = event_paths(config, config_path, {})
    assert beside.workdir == tmp_path / "config" / ".faultbot"


def test_the_example_documents_every_field() -> None:
    """Each field of the model appears in the shipped repos.yaml (set, or shown in a comment)."""
    from pydantic import BaseModel

    from bot.config import Config

    text = (ROOT / "repos.yaml").read_text(encoding="utf-8")

    def fields(model: type[BaseModel]) -> set[str]:
        names = set()
        for name, info in model.model_fields.items():
            names.add(name)
            for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
                inner = getattr(arg, "__args__", (arg,))
                for candidate in (arg, *inner):
                    if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                        names |= fields(candidate)
        return names

    missing = sorted(name for name in fields(Config) if f"{name}:" not in text)
    assert missing == [], f"repos.yaml does not document: {missing}"


@pytest.mark.parametrize(("extra", "team_extra", "expected"), [
    ("", "    pagerduty_service: PABC123\n",
     "repos.yaml:9: teams[0].pagerduty_service: needs a top-level `pagerduty:` section (api_url, token_env) to read "
     "the service"),
    ("pagerduty: {api_url: 'http://api.pagerduty.com'}\n", "",
     "repos.yaml:6: pagerduty.api_url: 'http://api.pagerduty.com': PagerDuty's client only speaks https:// "
     "(EU: https://api.eu.pagerduty.com)"),
    ("", "    notify: {slack_channel: '#a', webhook_url: 'https://hooks.example/a'}\n",
     "repos.yaml:9: teams[0].notify: give exactly one of slack_channel or webhook_url"),
    ("scoring: {acknowledge_within: soon}\n", "",
     "repos.yaml:6: scoring.acknowledge_within: 'soon' is not a duration; write it like 90s, 5m or 1h30m"),
    ("web: {organizer_token_env: 'my token'}\n", "",
     "repos.yaml:6: web.organizer_token_env: 'my token' is not an environment variable name (e.g. GITHUB_TOKEN)"),
])
def test_the_new_sections_say_what_is_wrong_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        extra: str, team_extra: str, expected: str) -> None:
    text = GOOD.replace("teams:\n", extra + "teams:\n").replace(
        "    url: file:///srv/git/team-a.git\n", "    url: file:///srv/git/team-a.git\n" + team_extra)
    assert main(["validate", "--offline", "--config", str(write(tmp_path, text))]) == 2
    assert expected in capsys.readouterr().err.splitlines()
