"""Archived runs are still runs (issue 15, item 7): show and logs find them where archive put them, and
`resume` of an archived incomplete run moves it back to training_runs/ (committed) and continues it."""

from __future__ import annotations

from tests.helpers.lifecycle import henryvc, run_with_status
from tests.helpers.project import sh


def test_show_logs_and_resume_find_an_archived_incomplete_run(project):
    name = run_with_status(project, "incomplete", seed=3, tag=True)
    (project.run_dir(name) / "training_v2.log").write_text("2026-01-01 INFO henryvc: step 500\n")
    sh(project.root, "git", "add", "-f", f"training_runs/{name}/training_v2.log")
    sh(project.root, "git", "commit", "-qm", "the run's log")
    assert henryvc(project.root, "archive").returncode == 0
    archived = project.runs / "archive" / "incomplete" / name
    assert archived.is_dir() and not project.run_dir(name).exists()

    shown = henryvc(project.root, "show", name)
    assert shown.returncode == 0, shown.stderr
    assert "archive/incomplete" in shown.stdout, shown.stdout
    logs = henryvc(project.root, "logs", name)
    assert logs.returncode == 0 and "step 500" in logs.stdout, logs.stderr

    resumed = henryvc(project.root, "resume", name)
    assert "no run folder" not in resumed.stderr, resumed.stderr
    assert project.run_dir(name).is_dir() and not archived.exists()  # moved back...
    assert f"training_runs/{name}" in sh(project.root, "git", "log", "-1", "--name-only", "--format=%s").stdout
    assert "archive" in sh(project.root, "git", "log", "-1", "--format=%s").stdout  # ...in a commit saying so
