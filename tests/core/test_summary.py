"""henryvc.core.summary: the run summary an annotated tag carries survives message -> parse_message, foreign tag
messages are not taken for one, and tag_summaries/all_tags read real git tags (run tags first, snapshots after)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from henryvc.adapters import gitrepo
from henryvc.core import summary
from tests.helpers.project import sh


@dataclass
class _Out:
    path: str
    md5: str

    def to_dict(self):
        return asdict(self)


RECORD = {"status": "success", "major": 2, "variant": "debug", "created": "2020-01-01T00:00:00", "seed": 7,
          "config_hash": "sha256:abc", "environment": {"python": "3.11.7"}}


def test_build_message_parse_round_trip():
    built = summary.build("henry_v2_debug_20200101_000000", RECORD,
                          {"loss": 1.5, "eval": {"wer": 0.1, "clips": [1, 2]}},
                          [_Out("training_runs/x/checkpoints", "d" * 32)], {"git": "2.43"})
    assert built["format"] == summary.SUMMARY_FORMAT and built["status"] == "success" and built["seed"] == 7
    assert built["metrics"] == {"loss": 1.5, "eval.wer": 0.1}  # scalars only, flattened
    assert built["data"] == {"training_runs/x/checkpoints": {"path": "training_runs/x/checkpoints", "md5": "d" * 32}}
    assert built["environment"] == {"tagged_with": {"git": "2.43"}, "trained_with": {"python": "3.11.7"}}
    assert built["description"] == "" and built["verdict"] == {}  # absent in the record: empty, not missing
    text = summary.message(built)
    assert text.splitlines()[0] == "henryvc run henry_v2_debug_20200101_000000: success"
    assert summary.parse_message(text) == built


def test_parse_message_ignores_what_henryvc_did_not_write():
    assert summary.parse_message("release 1.0\n\nno json here") is None
    assert summary.parse_message('note {"format": "someone-else/1", "run": "x"}') is None
    assert summary.parse_message('broken {"format": "henryvc-tag/1", ') is None
    assert summary.parse_message('[1, 2] {"a": 1}') is None  # a JSON value that is not the summary


def test_flatten_nests_into_dotted_keys():
    assert summary.flatten({"a": {"b": {"c": 1}, "d": 2}, "e": 3}) == {"a.b.c": 1, "a.d": 2, "e": 3}
    assert summary.flatten(5) == {} and summary.flatten({}) == {}
    assert summary.flatten({1: {"x": None}}) == {"1.x": None}


def test_tag_summaries_and_all_tags_read_real_tags(project):
    run = "henry_v2_debug_20200101_000000"
    built = summary.build(run, RECORD, {"loss": 1.5}, [], {})
    root = project.root
    sh(root, "git", "tag", "-a", run, "-m", summary.message(built))
    sh(root, "git", "tag", "-a", "henry_v2_stable_20200102_000000", "-m", "made by hand")
    sh(root, "git", "tag", "snapshot_20200103_000000")  # lightweight, in the snapshot grammar
    sh(root, "git", "tag", "snapshot_by_hand")  # matches the glob, not the grammar
    sh(root, "git", "tag", "v1.0")
    repo = gitrepo.open_git(root)
    found = summary.tag_summaries(repo)
    assert found == {run: built, "henry_v2_stable_20200102_000000": {}}
    assert summary.all_tags(repo) == [run, "henry_v2_stable_20200102_000000", "snapshot_20200103_000000"]
