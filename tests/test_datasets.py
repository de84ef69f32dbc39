"""The data workloads' data: the Common Log Format parser on a hand-written log (plain and
gzipped, malformed lines counted), the MovieLens readers on the three formats, the seeded
generators, and ALS-WR written from scratch (its half-steps solve the normal equations;
on generated data it reaches the noise floor)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from perfkit.datasets import apply_data_option, data_label, read_lines
from perfkit.datasets.logs import LogSummary, generate_log
from perfkit.datasets.ratings import (
    GENERATED_NOISE,
    generate_ratings,
    read_ratings,
    split_ratings,
)
from perfkit.datasets.text import generate_text
from perfkit.model.errors import UsageError
from perfkit.workloads._als import _solve_side, als_wr, predict, rmse
from perfkit.workloads.log_analysis import _summary_in_python
from perfkit.workloads.wordcount import _counts_in_python

LOG = [
    'a.example - - [01/Jul/1995:00:00:01 -0400] "GET /index.html HTTP/1.0" 200 100',
    'a.example - - [01/Jul/1995:00:00:02 -0400] "GET /index.html HTTP/1.0" 304 -',
    'b.example - jim [01/Jul/1995:00:00:03 -0400] "POST /form HTTP/1.0" 500 7',
    '10.0.0.1 - - [01/Jul/1995:00:00:04 -0400] "GET /img/x.gif" 404 0',  # no protocol
    'a.example - - [01/Jul/1995:00:00:05 -0400] "GET /index.html HTTP/1.0" 200',  # no bytes
    "not a log line at all",
    "",
    "c.example - - [01/Jul/1995:00:00:06 -0400] GET /index.html HTTP/1.0 200 5",  # no quotes
]


def test_a_hand_written_log_is_summarised_exactly() -> None:
    summary = _summary_in_python(LOG)
    assert summary == LogSummary(
        status=((200, 1), (304, 1), (404, 1), (500, 1)),
        top_endpoints=(("/index.html", 2), ("/form", 1), ("/img/x.gif", 1)),
        bytes_total=107,
        bytes_max=100,
        bytes_lines=3,
        busy_hosts=(),
        malformed=4,
        lines=8,
    )


def test_a_gzipped_log_reads_as_the_plain_one(tmp_path: Path) -> None:
    plain, packed = tmp_path / "access.log", tmp_path / "access.log.gz"
    text = "\n".join(LOG) + "\n"
    plain.write_text(text)
    with gzip.open(packed, "wt") as f:
        f.write(text)
    assert read_lines(plain) == LOG == read_lines(packed)


def test_the_generated_log_has_its_share_of_malformed_lines() -> None:
    lines = generate_log(20_000, np.random.default_rng(3))
    summary = _summary_in_python(lines)
    assert 100 < summary.malformed < 300  # 1% asked for
    assert summary.busy_hosts  # Zipf-popular hosts pass the threshold
    assert generate_log(500, np.random.default_rng(3)) == generate_log(
        500, np.random.default_rng(3)
    )


RATINGS = [(1, 10, 5.0), (1, 20, 3.0), (2, 10, 4.0), (7, 30, 1.5)]


@pytest.mark.parametrize(
    ("name", "line", "header"),
    [
        ("u.data", "{u}\t{i}\t{r}\t881250949", ""),
        ("ratings.dat", "{u}::{i}::{r}::978300760", ""),
        ("ratings.csv", "{u},{i},{r},964982703", "userId,movieId,rating,timestamp\n"),
    ],
)
def test_every_movielens_format_reads_the_same_ratings(
    tmp_path: Path, name: str, line: str, header: str
) -> None:
    path = tmp_path / name
    path.write_text(header + "".join(line.format(u=u, i=i, r=r) + "\n" for u, i, r in RATINGS))
    ratings = read_ratings(path)
    assert (ratings.users, ratings.items) == (3, 3)  # dense indices
    assert ratings.user.tolist() == [0, 0, 1, 2]
    assert ratings.item.tolist() == [0, 1, 0, 2]
    assert ratings.rating.tolist() == [5.0, 3.0, 4.0, 1.5]


def test_a_file_that_is_not_ratings_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating\n1,2,4\n1,two,4\n")
    with pytest.raises(UsageError, match=r"ratings.csv:3: not a MovieLens rating"):
        read_ratings(path)


def test_the_split_drops_held_out_ratings_nobody_can_place() -> None:
    ratings = generate_ratings(20_000, np.random.default_rng(5))
    train, test = split_ratings(ratings, np.random.default_rng(6))
    assert 0.15 < len(test) / len(ratings) < 0.25
    assert set(test.user.tolist()) <= set(train.user.tolist())
    assert set(test.item.tolist()) <= set(train.item.tolist())


def test_an_als_wr_half_step_solves_its_normal_equations() -> None:
    """With item factors Y fixed, user u's new x_u makes the gradient of
    sum_i (r_ui - x_u.y_i)^2 + lambda n_u |x_u|^2 vanish: from scratch, checked directly."""
    ratings = generate_ratings(5_000, np.random.default_rng(7))
    rng = np.random.default_rng(8)
    items = rng.normal(size=(ratings.items, 4))
    reg = 0.1
    users = _solve_side(ratings.user, ratings.item, ratings.rating, items, reg)
    for u in (0, 17, ratings.users - 1):
        mine = ratings.user == u
        y, r = items[ratings.item[mine]], ratings.rating[mine]
        gradient = -2 * y.T @ (r - y @ users[u]) + 2 * reg * mine.sum() * users[u]
        assert np.abs(gradient).max() < 1e-9 * max(1.0, np.abs(y.T @ r).max())


def test_als_wr_reaches_the_generators_noise_floor() -> None:
    ratings = generate_ratings(100_000, np.random.default_rng(9))
    train, test = split_ratings(ratings, np.random.default_rng(10))
    users, items = als_wr(train, 8, 0.03, 10, seed=1)
    error = rmse(predict(users, items, test), test.rating)
    assert error * 1.02 >= GENERATED_NOISE  # no model beats the noise (much, by chance)
    assert error < GENERATED_NOISE * 1.10


def test_zipf_text_has_a_few_frequent_words_and_many_rare_ones() -> None:
    lines = generate_text(60_000, np.random.default_rng(11), vocabulary=5_000)
    counts = sorted(_counts_in_python(lines).values(), reverse=True)
    assert sum(counts) == 60_000
    assert counts[0] > 50 * counts[len(counts) // 2]


@pytest.mark.slow
def test_data_option_runs_a_real_log_and_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    from perfkit.records.run_record import load_record
    from tests.conftest import perfkit

    log = tmp_path / "access.log.gz"
    with gzip.open(log, "wt") as f:
        f.write("\n".join(LOG * 50) + "\n")
    record = tmp_path / "log.json"
    done = perfkit(
        "compare", "-w", "log_analysis", "-b", "python", "--data", str(log), "--quick",
        "--budget", "0.2", "--no-report", "--no-calibrate", "-o", str(record), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (result,) = load_record(record).results
    assert result.status == "ok", result.reason
    assert result.params["dataset"] == data_label(log)  # its name and digest, not its path
    assert result.case_id.endswith(f"dataset={data_label(log)}]")
    for bad, message in (
        (["-w", "log_analysis", "--data", str(tmp_path / "missing.log")], "is not a file"),
        (["-w", "groupby_agg", "--data", str(log)], "takes no data file"),
        (["-w", "als_recommend", "--data", str(log)], "not a MovieLens rating"),
    ):
        refused = perfkit("compare", *bad, "--quick", "--no-report", cwd=tmp_path)
        assert refused.returncode == 2, refused.stderr
        assert message in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def _log_option(path: Path) -> list[object]:
    from perfkit.model import registry

    workload = registry.get_workload("log_analysis")
    overrides = apply_data_option(workload, {}, path, required=True)
    assert overrides is not None
    return list(overrides["dataset"])


def test_the_same_log_in_two_places_is_one_case_and_changed_data_another(
    tmp_path: Path, loaded: None
) -> None:
    first, second = tmp_path / "a" / "access.log", tmp_path / "b" / "access.log"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text("\n".join(LOG) + "\n")
    assert _log_option(first) == _log_option(second) == [data_label(first)]
    assert str(tmp_path) not in str(_log_option(first))
    second.write_text("\n".join(LOG[:3]) + "\n")
    assert _log_option(second) != _log_option(first)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "none of its 0 lines"),
        (bytes(range(256)) * 64, "is in the Common Log Format"),
        (b"name,value\nx,1\ny,2\n", "none of its 3 lines"),
        (gzip.compress(("\n".join(LOG * 200) + "\n").encode())[:-40], "cannot be read to its end"),
    ],
    ids=["empty", "random-bytes", "csv", "truncated-gz"],
)
def test_a_file_that_is_no_log_is_refused_up_front(
    tmp_path: Path, loaded: None, content: bytes, says: str
) -> None:
    path = tmp_path / ("access.log.gz" if "truncated" in says or "end" in says else "access.log")
    path.write_bytes(content)
    with pytest.raises(UsageError, match=says):
        _log_option(path)


def test_a_mostly_malformed_log_says_how_much(
    tmp_path: Path, loaded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "access.log"
    path.write_text("\n".join([LOG[0]] + ["not a log line"] * 9) + "\n")
    assert _log_option(path) == [data_label(path)]
    assert "9 of its 10 lines (90%) are not in the Common Log Format" in capsys.readouterr().err
