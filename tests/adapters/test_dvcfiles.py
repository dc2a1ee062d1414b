"""henryvc.adapters.dvcfiles: outputs read from dvc.lock and .dvc texts (a real `dvc add`'s included), and a user's
DVC file that does not parse or validate, by henryvc's readers or DVC's own, as BadInput naming file and line."""

from __future__ import annotations

import pytest

from henryvc.adapters import dvcfiles
from henryvc.adapters.dvcfiles import Out
from henryvc.errors import BadInput

LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: train.py
      md5: 0123456789abcdef0123456789abcdef
    outs:
    - path: training_runs/r1/checkpoints
      hash: md5
      md5: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.dir
      size: 300
      nfiles: 3
    - path: training_runs/r1/metrics.json
      md5: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      size: 12
    - path: training_runs/r1/not_yet
  prepare:
    cmd: true
"""


def test_outs_from_lock_reads_every_stages_outputs_and_skips_those_without_data():
    assert dvcfiles.outs_from_lock(LOCK) == [
        Out("training_runs/r1/checkpoints", "a" * 32, True, 300, 3),
        Out("training_runs/r1/metrics.json", "b" * 32, False, 12, None),
    ]
    assert dvcfiles.outs_from_lock("") == []


def test_an_out_turns_back_into_the_record_dvc_keeps():
    folder, file = dvcfiles.outs_from_lock(LOCK)
    assert folder.to_dict() == {"md5": "a" * 32 + ".dir", "size": 300, "nfiles": 3}
    assert file.to_dict() == {"md5": "b" * 32, "size": 12}


def test_a_real_dvc_file_gives_its_folder_output(project):
    text = (project.root / "voice_data.dvc").read_text()
    (out,) = dvcfiles.outs_from_dvcfile(text, ".", "voice_data.dvc")
    assert (out.path, out.is_dir, out.nfiles, out.cached) == ("voice_data", True, 3, True)
    assert f"md5: {out.md5}.dir" in text
    (nested,) = dvcfiles.outs_from_dvcfile(text, "data/sub")
    assert nested.path == "data/sub/voice_data"


@pytest.mark.parametrize("text, message", [
    ("stages:\n  train:\n    outs: [\n", r"dvc.lock, line 4: not valid YAML \(.*\)"),
    ("- just\n- a list\n", r"dvc.lock, line 1: a mapping was expected, not list"),
    ("stages:\n  - train\n", r"dvc.lock, line 2: `stages` must be a mapping \(in stages\)"),
    ("stages:\n  train: 3\n", r"dvc.lock, line 2: a stage must be a mapping \(in stages -> train\)"),
    ("stages:\n  train:\n    outs: {a: 1}\n", r"dvc.lock, line 3: `outs` must be a list \(in stages -> train -> outs\)"),
    ("stages:\n  train:\n    outs:\n    - md5: x\n",
     r"dvc.lock, line 4: each output must be a mapping with a `path` \(in stages -> train -> outs -> 0\)"),
    ("stages:\n  t:\n    outs:\n    - path: a\n    - path: b\n      md5: 12\n",
     r"dvc.lock, line 6: an md5 must be a string \(in stages -> t -> outs -> 1 -> md5\)"),
])
def test_a_malformed_lock_is_bad_input_with_its_line_and_what_to_do(text, message):
    with pytest.raises(BadInput, match=message + "; fix the file"):
        dvcfiles.outs_from_lock(text)


def test_a_malformed_dvc_file_names_itself_and_the_callers_fix():
    with pytest.raises(BadInput, match=r"^data.dvc at abc, line 2: .* \(in outs\); git show it$"):
        dvcfiles.outs_from_dvcfile("outs:\n  path: x\n", ".", "data.dvc at abc", fix="git show it")
    with pytest.raises(BadInput, match="^a .dvc file, line 2: not valid YAML"):
        dvcfiles.outs_from_dvcfile("outs: [\n", ".")


def test_line_at_finds_the_deepest_node_that_exists():
    assert dvcfiles.line_at(LOCK, ["stages", "train", "outs", 1, "md5"]) == 15
    assert dvcfiles.line_at(LOCK, ["stages", "train", "cmd", "nothing"]) == 4  # nothing deeper: cmd's line
    assert dvcfiles.line_at(LOCK, ["stages", "train", "outs", 7]) == 9  # no 8th output: the list's line
    assert dvcfiles.line_at(LOCK, []) == 1
    assert dvcfiles.line_at("a: [", ["a"]) is None


def dvc_error(root):
    """What real DVC raises reading ROOT's pipeline."""
    from dvc.repo import Repo

    with pytest.raises(Exception) as info:
        Repo(str(root)).index  # noqa: B018  (reading the index loads and validates every dvc.yaml)
    return info.value


def test_dvcs_own_syntax_error_in_dvc_yaml_becomes_bad_input_with_the_line(project, monkeypatch):
    monkeypatch.chdir(project.root)  # DVC names the file relative to the current folder
    (project.root / "dvc.yaml").write_text("stages:\n  train:\n    cmd: echo\n    outs: [a,\n")
    found = dvcfiles.user_error(dvc_error(project.root), project.root)
    assert isinstance(found, BadInput)
    assert str(found).startswith("dvc.yaml, line 5: not valid YAML (")


def test_dvcs_own_validation_error_in_dvc_yaml_names_the_key_and_line(project, monkeypatch):
    monkeypatch.chdir(project.root)
    (project.root / "dvc.yaml").write_text("stages:\n  train:\n    cmd: echo\n    outz: [a]\n")
    found = dvcfiles.user_error(dvc_error(project.root), project.root)
    assert isinstance(found, BadInput)
    assert str(found).startswith("dvc.yaml, line 4: extra keys not allowed (in stages -> train -> outz); fix the file")


def test_a_dvc_config_dvc_cannot_read_is_named_with_its_line(project):
    from dvc.config import Config, ConfigError

    config = project.root / ".dvc" / "config"
    config.write_text(config.read_text() + "[cache\n")
    with pytest.raises(ConfigError) as info:
        Config(dvc_dir=str(project.root / ".dvc"))
    found = dvcfiles.user_error(info.value, project.root)
    line = len(config.read_text().splitlines())
    assert str(found).startswith(f".dvc/config, line {line}: DVC cannot read it (")


def test_an_error_that_is_not_dvc_refusing_a_file_is_left_alone(project):
    import dvc.repo  # noqa: F401  (DVC has run in this process)

    assert dvcfiles.user_error(ValueError("a bug"), project.root) is None
    assert dvcfiles.user_error(KeyError("x"), project.root) is None
