"""Long runs: progress counted on finished steps, the forecast of the end, status lines, --until-fid."""

import json
import re
import time

import pytest
from helpers import mnist_data_dir, run_cli, run_main, tiny

from mxgan.checkpoints.run_folder import read_run_state
from mxgan.training.progress import Pace, ProgressDisplay, forecast

MNIST_16 = tiny(500, "--eval-samples", "500", "--log-every", "5", dataset="mnist", progress=True)  # 120 steps an epoch


def test_the_rate_is_the_median_of_recent_steps_and_ignores_one_slow_step():
    pace = Pace()
    for seconds in [9.0] + [1.0] * 20 + [30.0]:  # the first step sets up, one more waits on a checkpoint's disk
        pace.add(0.0, seconds)
    assert pace.known and pace.seconds_per_step() == 1.0
    pace.steps.clear()
    pace.add(0.0, 2.0)
    assert pace.seconds_per_step() == 2.0  # recent steps only: a run that slows down says so


def test_the_first_forecast_leaves_out_the_set_up_of_the_first_step():
    pace = Pace()
    pace.add(0.0, 40.0)  # binding, caches: the first step of a process
    assert not pace.known
    pace.add(40.0, 1.0)
    assert pace.known and pace.seconds_per_step() == 1.0 and pace.in_steps == 41.0


def test_the_end_counts_the_time_between_steps_too():
    pace = Pace()
    for _ in range(10):
        pace.add(time.perf_counter() - 20.0, 1.0)  # ten 1 s steps that began 20 s ago: 10 s went elsewhere
    assert pace.between_steps() == pytest.approx(1.0, abs=0.1)
    assert pace.remaining(100) == pytest.approx(100 * (1.0 + pace.between_steps()), rel=1e-2)


def test_forecast_says_the_time_an_epoch_takes_and_when_the_run_ends():
    pace = Pace()
    for _ in range(5):
        pace.add(0.0, 1.5)
    pace.in_steps, pace.started = 7.5, None  # no time between steps
    line = forecast(pace, 64, 938, 23450 - 10, now=0.0)
    assert line.startswith("measured 1.50 s a step (42.7 images/s): 23 min an epoch; the 23440 steps left end in "
                           "about 9 h 46 min, at ")


def test_status_lines_replace_the_bar_without_a_terminal(capsys):
    display = ProgressDisplay(0, 3, 64, bar=False, status_every=1e-9)
    pace = Pace()
    display.note(errD="0.912", FID="12.30")
    for batch in range(1, 4):
        pace.add(0.0, 2.0)
        display.step(pace, f"epoch 0, batch {batch}/3")
    display.close()
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3 and err == ""  # one line a step here (every 1e-9 s); no bar
    assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] step 3/3 \(epoch 0, batch 3/3\), 0 s left, 2.00 s/step, 32.0 img/s, "
                        r"errD 0.912, FID 12.30", lines[-1]), lines[-1]


def test_until_fid_stops_at_the_first_good_check_with_a_checkpoint_and_resume_goes_on(tmp_path):
    run = tmp_path / "run"
    # a quarter of an epoch between checks: 30 steps; every 16 px generator scores far below FID-MNIST 1000
    mnist_data_dir()  # skipped, with how to get it, where MNIST is missing
    result = run_cli("run_dcgan.py", *MNIST_16, "--eval-every", "0.25", "--until-fid", "1000", "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert re.search(r"stopped: FID-MNIST [\d.]+ <= 1000 \(--until-fid\) at iteration 30 \(epoch 0, \d+ s in\)",
                     result.stdout), result.stdout
    assert "measured " in result.stdout and " s a step" in result.stdout  # the forecast, after the first log line
    bar = result.stderr.replace("\r", "\n")
    assert re.search(r" 30/3000 \[[\d:]+ elapsed, [\d.]+ \w+( [\d.]+ min)? left, [\d.]+ s/step, [\d.]+ img/s, "
                     r"errD [\d.]+, errG [\d.]+, FID [\d.]+\]", bar), bar  # finished steps; the latest check
    state = read_run_state(run)
    (check,) = state.evaluations
    assert state.progress.iteration == check["iteration"] == 30 and check["files"] == state.files
    assert check["seconds"] > 0 and check["check_seconds"] > 0 and check["fid"] <= 1000
    assert (run / state.files["G"]).is_file()

    # the same run, without the goal: two more checks, their times after the first
    more = run_cli("run_dcgan.py", "--resume", str(run), "--until-fid", "0", "--max-steps", "90", "--no-progress",
                   "--status-every", "0.000001")
    assert more.returncode == 0, more.stderr
    state = read_run_state(run)
    assert [e["iteration"] for e in state.evaluations] == [30, 60, 90]
    times = [e["seconds"] for e in state.evaluations]
    assert times == sorted(times) and times[1] < state.seconds  # the set at 90 was written after the check at 60
    status = [line for line in more.stdout.splitlines() if re.match(r"\[\d\d:\d\d:\d\d\] step ", line)]
    assert len(status) == 60 and status[-1].split("] ", 1)[1].startswith("step 90/90 (epoch 0, batch 90/120), ")
    assert "\r" not in more.stderr  # no bar with --no-progress


@pytest.mark.parametrize("flags, expected", [
    (["--eval-every", "0", "--until-fid", "10"], "--until-fid needs quality checks: --eval-every 0 turns them off"),
    (["--until-fid", "-1"], "--until-fid must be 0 or more, got -1.0"),
    (["--eval-every", "-0.5"], "--eval-every must be in [0, 1000000], got -0.5"),
    (["--status-every", "nan"], "--status-every must be 0 or more, got nan"),
])
def test_bad_long_run_flags_are_one_line(tmp_path, flags, expected):
    result = run_main("run_dcgan.py", *flags, "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and expected in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "run").exists()


def test_eval_all_shows_when_each_set_was_checked_in_training(mnist_run, tmp_path):
    run, _ = mnist_run
    table = run_main("-m", "mxgan", "eval", "--checkpoint", str(run), "--all", "--num", "200",
                     "--json", str(tmp_path / "all.json"))
    assert table.returncode == 0, table.stderr
    rows = [line.split(" | ") for line in table.stdout.strip().splitlines()[1:]]
    assert [row[1] for row in rows] == ["120", "240"]  # the checks at each epoch's end
    assert all(re.fullmatch(r"\d+ s|\d+ min", row[2]) for row in rows)
    checks = {e["iteration"]: e for e in read_run_state(run).evaluations}
    saved = json.loads((tmp_path / "all.json").read_text())
    assert [r["in_training"]["fid"] for r in saved] == [checks[120]["fid"], checks[240]["fid"]]


def test_bench_reads_the_rate_and_time_left_off_either_bar():
    from mxgan.bench.bar import parse_bar, steadiness

    ours = ("\r  0%|          | 20/23450 [00:30 elapsed, 9 h 05 min left, 1.40 s/step, 45.7 img/s, errD 0.912]"
            "\r  0%|          | 21/23450 [00:31 elapsed, 9 h 07 min left, 1.41 s/step, 45.4 img/s, errD 0.912]")
    tqdm_own = ("\r  0%|          | 20/23450 [00:12<29:02:11,  2.01step/s, facc=0.5]"
                "\r  0%|          | 21/23450 [00:25<3:02:11, 13.00s/step, facc=0.5]")
    a, b = parse_bar(ours), parse_bar(tqdm_own)
    assert [(s.step, s.seconds_per_step, s.seconds_left, s.end) for s in a] == [(20, 1.40, 32700, 32730),
                                                                                (21, 1.41, 32820, 32851)]
    assert [(s.step, s.seconds_left, s.end) for s in b] == [(20, 104531, 104543), (21, 10931, 10956)]
    assert b[0].seconds_per_step == pytest.approx(1 / 2.01) and b[1].seconds_per_step == 13.0
    assert steadiness(b, 20, 21)["rate_spread"] == pytest.approx(13.0 * 2.01)


def test_a_dry_run_counts_the_run_and_times_its_step_as_the_run_then_measures_it(tmp_path):
    run = tmp_path / "run"
    flags = tiny(64, "--image-size", "32", "--ngf", "16", "--ndf", "16", "--max-steps", "40", "--log-every", "10",
                 "--out", str(run))
    dry = run_cli("run_dcgan.py", *flags, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "the run: 40 steps (156 an epoch), no quality checks" in dry.stdout  # 10000 synthetic images
    assert not run.exists()
    timed = re.search(r"timed on .+, \d+ cores: a step ([\d.]+) s \(([\d.]+) images/s\)\n"
                      r"so about .+ an epoch of steps, and .+ for the run \(sample grids and checkpoints add a "
                      r"little\)", dry.stdout)
    assert timed, dry.stdout
    trained = run_cli("run_dcgan.py", *flags)
    assert trained.returncode == 0, trained.stderr
    measured = re.search(r"measured [\d.]+ s a step \(([\d.]+) images/s\)", trained.stdout)
    assert measured, trained.stdout
    assert 0.4 < float(timed[2]) / float(measured[1]) < 2.5  # the same step, timed in two processes of a busy CPU

    resumed = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "100", "--dry-run")
    assert "the run: 60 steps left of 100 (156 an epoch)" in resumed.stdout, resumed.stdout


def test_a_dry_run_counts_the_quality_checks_of_the_steps_left():
    mnist_data_dir()  # skipped, with how to get it, where MNIST is missing
    dry = run_main("run_dcgan.py", *MNIST_16, "--epochs", "2", "--eval-every", "0.5", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "the run: 240 steps (120 an epoch), 4 quality checks of 500 samples" in dry.stdout, dry.stdout
    assert re.search(r"images/s\), a quality check \d+ s \(its reference, once: \d+ s\)\n", dry.stdout), dry.stdout


def test_a_dry_run_without_mnist_downloads_nothing_and_counts_the_run_all_the_same(tmp_path):
    dry = run_main("run_dcgan.py", *MNIST_16, "--epochs", "2", "--eval-every", "0.5", "--data-dir", str(tmp_path),
                   "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "the run: 240 steps (120 an epoch), 4 quality checks of 500 samples" in dry.stdout, dry.stdout
    assert f"mnist is not in {tmp_path} yet (the run downloads it first)" in dry.stdout
    assert list(tmp_path.iterdir()) == []
