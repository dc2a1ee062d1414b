"""DVC's own views compare run tags: each tag carries its run's metrics and plot data at the stable paths
the dvc.yaml template declares (henryvc.core.published), checked with the real `dvc metrics diff`,
`dvc plots diff` and `dvc exp show --all-tags`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from henryvc.core import published
from tests.helpers.cli import run_cli
from tests.helpers.project import FAKE_TRAIN, dvc, fake_dvc_yaml, gen, sh, trained_run

TEMPLATE = Path(__file__).resolve().parents[2] / "dvc.yaml"
# The fake stage also writes the per-step loss table the evaluate stage writes.
FAKE_TRAIN_WITH_PLOTS = FAKE_TRAIN + '''
(folder / "plots").mkdir(exist_ok=True)
rows = ["step,loss,decoder_loss,postnet_loss,stopnet_loss,align_error"]
rows += [f"{s},{3.0 / s + seed / 10},{1.0 / s},{1.5 / s},{0.5 / s},{0.2 / s}" for s in range(1, 6)]
(folder / "plots" / "loss.csv").write_text("\\n".join(rows) + "\\n")
'''


def _views_project(project) -> None:
    template = yaml.safe_load(TEMPLATE.read_text())
    stable = yaml.safe_dump({"metrics": template["metrics"], "plots": template["plots"]}, sort_keys=False)
    # As in the template, the run's own metrics.json is a plain output (no run-named metrics file).
    stage = fake_dvc_yaml("fake_train.py").replace("    metrics:\n", "")
    gen(project, {"fake_train.py": FAKE_TRAIN_WITH_PLOTS, "dvc.yaml": stage + "\n" + stable},
        commit="stable metrics and plots")


def test_template_declares_every_stable_path():
    template = yaml.safe_load(TEMPLATE.read_text())
    declared = set(template["metrics"]) | {next(iter(p)) if isinstance(p, dict) else p for p in template["plots"]}
    assert declared == set(published.STABLE)


def test_dvc_compares_run_tags_metric_by_metric_and_curve_over_curve(project, tmp_path):
    _views_project(project)
    a = trained_run(project, seed=1)
    assert run_cli(project.root, "tag-run", a).exit_code == 0
    b = trained_run(project, seed=7)
    assert run_cli(project.root, "tag-run", b).exit_code == 0
    assert "up to date" in dvc(project.root, "status").stdout
    assert sh(project.root, "git", "status", "--porcelain", "--", "metrics", "plots").stdout == ""
    assert json.loads(sh(project.root, "git", "show", f"{a}:metrics/run.json").stdout)["total_loss"] == 1.51

    diff = json.loads(dvc(project.root, "metrics", "diff", a, b, "--json").stdout)
    total = diff["metrics/run.json"]["total_loss"]
    assert total["old"] == 1.51 and total["new"] == 1.57
    assert abs(total["diff"] - 0.06) < 1e-9
    table = dvc(project.root, "metrics", "diff", a, b).stdout
    assert "metrics/run.json" in table and "training_runs" not in table  # one file, not two run-named ones

    out = tmp_path / "plots"
    plots = json.loads(dvc(project.root, "plots", "diff", a, b, "-o", str(out), "--json").stdout)["data"]
    [loss] = plots["plots/loss.csv"]
    assert loss["revisions"] == [a, b]  # both runs in one plot
    values = loss["content"]["data"]["values"]
    assert {v["rev"] for v in values} == {a, b} and {v["field"] for v in values} >= {"loss", "align_error"}
    dvc(project.root, "plots", "diff", a, b, "-o", str(out))
    html = (out / "index.html").read_text()
    assert f'"rev": "{a}"' in html and f'"rev": "{b}"' in html

    gen(project, {"notes.txt": "next\n"}, commit="work goes on after the tags")  # else HEAD's row is `main`
    shown = dvc(project.root, "exp", "show", "--all-tags", "--csv", "--no-pager").stdout
    rows = {row["rev"]: row for row in csv.DictReader(io.StringIO(shown))}
    assert float(rows[a]["total_loss"]) == 1.51 and float(rows[b]["total_loss"]) == 1.57
    assert float(rows[a]["align_error"]) == float(rows[b]["align_error"]) == 0.05
    # No run-named metric columns (dependency columns such as a run's config.json are DVC's own).
    assert not [column for column in rows[a] if "metrics.json" in column]
