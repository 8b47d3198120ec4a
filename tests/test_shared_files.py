"""Shared material is found from a worktree too, and its absence fails CI instead of skipping."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared_files import CONTRACTS_DIR, require, shared_dir


def test_missing_material_skips_on_a_laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="shared/ must sit beside"):
        require(tmp_path / "nope.json")


@pytest.mark.parametrize("value", ["true", "1"])
def test_missing_material_fails_in_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="nope.json is missing"):
        require(tmp_path / "nope.json")


def test_present_material_is_returned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    (tmp_path / "here.json").write_text("{}")
    assert require(tmp_path / "here.json") == tmp_path / "here.json"


def test_a_worktree_finds_shared_beside_its_main_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAULTBOT_SHARED", raising=False)
    main, shared = tmp_path / "main", tmp_path / "shared"
    git_dir = main / ".git" / "worktrees" / "mine"
    git_dir.mkdir(parents=True)
    shared.mkdir()
    (git_dir / "commondir").write_text("../..\n")
    worktree = tmp_path / "wt" / "mine"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {git_dir}\n")
    assert shared_dir(worktree) == shared
    assert shared_dir(main) == shared
    monkeypatch.setenv("FAULTBOT_SHARED", str(tmp_path / "elsewhere"))
    assert shared_dir(worktree) == tmp_path / "elsewhere"


def test_this_checkout_sees_the_contracts() -> None:
    """The contract tests below run here rather than skip (in CI this is required)."""
    require(CONTRACTS_DIR / "github-rest-subset.json")
