"""ProgressScale: steps fill their share of one scale, which never goes back; the ETA follows the rate."""

from __future__ import annotations

from app.jobs.progress import ProgressScale


def test_steps_share_one_scale_that_never_goes_back() -> None:
    scale = ProgressScale()
    scale.plan({'Read': 10, 'Validate': 40, 'Write': 50})
    scale.enter('Read')
    assert scale.report(1, 2) == 5.0
    scale.leave('Read')
    scale.enter('Validate')
    assert scale.report(0, 100) == 10.0  # a new step starts at its share, not at 0
    assert scale.report(50, 100) == 30.0
    assert scale.report(10, 100) == 30.0  # a step's own count going back moves nothing
    scale.leave('Validate')
    scale.enter('Write')
    assert scale.report(1000, 1000) == 100.0


def test_without_a_plan_progress_is_the_jobs_own_fraction() -> None:
    scale = ProgressScale()
    scale.enter('Anything')
    assert not scale.reported
    assert scale.report(3, 4) == 75.0
    assert scale.report(5, 4) == 100.0 and scale.report(0, 0) == 100.0


def test_eta_from_the_observed_rate() -> None:
    now = [100.0]
    scale = ProgressScale(clock=lambda: now[0])
    scale.report(0, 100)
    assert scale.eta() is None  # no rate yet
    now[0] += 10
    scale.report(25, 100)
    assert scale.eta() == 30.0  # 25 % in 10 s: 75 % in 30 s


def test_steps_under_way_at_the_same_time_each_fill_their_own_share() -> None:
    scale = ProgressScale()
    scale.plan({'Read': 10, 'Validate': 40, 'Write': 50})
    scale.enter('Read')
    scale.leave('Read')
    scale.enter('Validate')
    scale.enter('Write')  # Validate is still running: its share is not counted as done
    assert scale.percent == 10.0
    assert scale.report(50, 100, 'Validate') == 30.0
    assert scale.report(20, 100, 'Write') == 40.0
    assert scale.report(10, 100) == 40.0  # by default the step that started last; its count going back moves nothing
    scale.leave('Validate')
    assert scale.report(60, 100, 'Write') == 80.0
