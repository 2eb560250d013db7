"""Newcomer rough edges on the command line (issue "Newcomer"): what `init` suggests works in the
state it leaves, and `hooks --json` answers like every other command's `--json`."""

from __future__ import annotations

import shlex

from conftest import git


def test_init_suggests_a_git_add_that_works_in_the_state_it_leaves(tmp_path, mv):
    git("init", "-q", cwd=tmp_path)
    git("commit", "-q", "--allow-empty", "-m", "start", cwd=tmp_path)
    result = mv("init", "--model", "churn", "--no-hook", "--json", cwd=tmp_path).json
    add = result["next"][0].split(" && ")[0]
    git(*shlex.split(add)[1:], cwd=tmp_path)  # `git add …` of exactly what init wrote
    assert git("diff", "--cached", "--name-only", cwd=tmp_path) == ".mv-promote.toml"


def test_init_with_a_signer_suggests_adding_the_signers_folder_too(tmp_path, mv, keys):
    git("init", "-q", cwd=tmp_path)
    git("commit", "-q", "--allow-empty", "-m", "start", cwd=tmp_path)
    git("config", "gpg.format", "ssh", cwd=tmp_path)
    git("config", "user.signingkey", str(keys.private("alice")) + ".pub", cwd=tmp_path)
    result = mv("init", "--model", "churn", "--add-signer", "--no-hook", "--json", cwd=tmp_path).json
    git(*shlex.split(result["next"][0].split(" && ")[0])[1:], cwd=tmp_path)
    staged = git("diff", "--cached", "--name-only", cwd=tmp_path).split()
    assert staged == [".mv-promote.toml", ".mv-promote/allowed_signers"]


def test_hooks_json_reports_the_installed_hooks_as_an_object(model_repo, mv):
    mv("hooks", "install", cwd=model_repo.path)
    shown = mv("hooks", "--json", cwd=model_repo.path).json
    assert shown["warnings"] == []
    assert [(h["hook"], h["installed"]) for h in shown["hooks"]] == [("pre-push", True)]
    mv("hooks", "uninstall", "--json", cwd=model_repo.path)
    assert mv("hooks", "--json", cwd=model_repo.path).json["hooks"][0]["installed"] is False


def test_hooks_install_json_has_the_shape_of_every_other_result(model_repo, mv):
    done = mv("hooks", "install", "--json", cwd=model_repo.path).json
    assert set(done) == {"done", "warnings"} and done["done"]


def test_show_model_names_every_column_of_its_table(model_repo, mv):
    model_repo.version(0.85, 0.80)
    header = mv("show", "churn", cwd=model_repo.path).out.splitlines()[0].split()
    assert header == ["version", "created", "by", "commit", "current", "in", "status", "message"]


def test_an_unknown_model_suggests_the_closest_name_of_the_policy(model_repo, mv):
    model_repo.version(0.85, 0.80)
    err = mv("show", "chrun", "v1", cwd=model_repo.path, code=1).err
    assert "unknown model 'chrun': did you mean 'churn'?" in err
    assert "use 'churn'" in err


def test_an_unknown_stage_suggests_the_closest_stage(model_repo, mv):
    model_repo.version(0.85, 0.80)
    err = mv("check", "churn", "v1", "--stage", "prodution", cwd=model_repo.path, code=1).err
    assert "unknown stage 'prodution': did you mean 'production'?" in err


def test_a_name_far_from_every_known_one_gets_no_guess(model_repo, mv):
    err = mv("register", "fraud", cwd=model_repo.path, code=1).err
    assert "did you mean" not in err and "unknown model 'fraud'" in err
