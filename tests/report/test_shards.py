"""Engine-free sharding: `scan --shard I/N` splits the files deterministically, and `imgval merge`
joins the shard reports into the report an unsharded run writes, byte for byte."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from imgval.batch.shard import Shard, parse_shard
from imgval.synthetic import natural_image

from tests.conftest import ROOT, run_script, write_image


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """Images in nested folders, near and exact duplicates likely to land in different shards,
    a name a spreadsheet would run as a formula, and broken files."""
    folder = tmp_path_factory.mktemp("shards") / "batch"
    for i in range(14):
        write_image(folder / ("a" if i % 3 else "b/c") / f"img{i:02d}.jpg", natural_image(400, 300, seed=i))
    shutil.copy(folder / "a" / "img01.jpg", folder / "b" / "copy-of-01.jpg")
    write_image(folder / "=SUM(A1).png", natural_image(300, 300, seed=2))  # a near copy of img02
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (folder / "b" / "empty.tif").write_bytes(b"")
    return folder


def scan(batch: Path, cwd: Path, *options: str) -> None:
    run_script(str(ROOT / "process.py"), "-i", str(batch), "--no-cache", "-q", *options, cwd=cwd, check=True)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_merged_shards_are_byte_identical_to_an_unsharded_run(batch, tmp_path, fmt):
    scan(batch, tmp_path, "-o", fmt, "-s", f"whole.{fmt}")
    for i in (1, 2, 3):
        scan(batch, tmp_path, "-o", fmt, "--shard", f"{i}/3")  # default names: results.shard-I-of-3.fmt
    shards = sorted(tmp_path.glob(f"results.shard-*-of-3.{fmt}"))
    assert len(shards) == 3 and all(Path(f"{s}.shard.json").exists() for s in shards)
    sizes = [len(s.read_bytes()) for s in shards]
    assert min(sizes) < max(sizes) < len((tmp_path / f"whole.{fmt}").read_bytes())  # each holds a part
    result = run_script("-m", "imgval.cli", "merge", *map(str, reversed(shards)), "-s", f"merged.{fmt}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert undated(tmp_path / f"merged.{fmt}") == undated(tmp_path / f"whole.{fmt}")
    if fmt == "csv":  # the run's metadata beside it, as the scan writes it
        assert undated(tmp_path / "merged.meta.json") == undated(tmp_path / "whole.meta.json")


def undated(path: Path) -> bytes:
    """The file's bytes but for the run's start time (meta's `created`), which no two runs share."""
    return re.sub(rb'"created": "[^"]*"', b'"created": ""', path.read_bytes())


def test_every_file_is_in_exactly_one_shard_and_stays_there(tmp_path):
    names = [f"/data/scan{i:05d}.tif" for i in range(3000)]
    shards = [Shard(i, 4) for i in range(1, 5)]
    owners = [[s.index for s in shards if s.holds(name)] for name in names]
    assert all(len(o) == 1 for o in owners)
    counts = [sum(o == [s.index] for o in owners) for s in shards]
    assert min(counts) > 600  # about a quarter each
    more = names + [f"/data/new{i}.tif" for i in range(500)]  # files added later move no other file
    assert [[s.index for s in shards if s.holds(name)] for name in more[:3000]] == owners
    positions, picked = shards[1].select(more)
    assert [more[p] for p in positions] == list(picked) and all(shards[1].holds(p) for p in picked)


@pytest.mark.parametrize("text, message", [("3", "write it as I/N"), ("0/4", "between 1 and N"),
                                           ("5/4", "between 1 and N"), ("a/b", "write it as I/N")])
def test_bad_shard_values_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_shard(text)


def test_a_bad_shard_option_is_a_usage_error(batch, tmp_path):
    result = run_script(str(ROOT / "process.py"), "-i", str(batch), "--shard", "4/3", cwd=tmp_path)
    assert result.returncode == 2 and "--shard" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def shard_reports(batch, tmp_path) -> list[Path]:
    for i in (1, 2, 3):
        scan(batch, tmp_path, "--shard", f"{i}/3")
    return sorted(tmp_path.glob("results.shard-*-of-3.csv"))


def merge(cwd: Path, *reports) -> tuple[int, str]:
    result = run_script("-m", "imgval.cli", "merge", *map(str, reports), "-s", "merged.csv", cwd=cwd)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr


def test_a_missing_shard_is_named(shard_reports, tmp_path):
    code, err = merge(tmp_path, shard_reports[0], shard_reports[2])
    assert code == 2 and "missing shard(s) 2/3" in err
    assert not (tmp_path / "merged.csv").exists()


def test_a_shard_given_twice_is_refused(shard_reports, tmp_path):
    copy = tmp_path / "again.csv"
    shutil.copy(shard_reports[0], copy)
    shutil.copy(f"{shard_reports[0]}.shard.json", f"{copy}.shard.json")
    code, err = merge(tmp_path, *shard_reports, copy)
    assert code == 2 and "shard 1/3 is given twice" in err


def test_shards_of_another_run_are_refused(batch, shard_reports, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    scan(batch, other, "--shard", "2/3", "-t", "50")  # other settings
    code, err = merge(tmp_path, shard_reports[0], other / "results.shard-2-of-3.csv", shard_reports[2])
    assert code == 2 and "not from the same run" in err


def test_a_report_without_its_shard_file_is_refused(batch, tmp_path):
    scan(batch, tmp_path, "-s", "plain.csv")
    code, err = merge(tmp_path, tmp_path / "plain.csv")
    assert code == 2 and "plain.csv.shard.json" in err


def test_a_truncated_shard_report_is_refused(shard_reports, tmp_path):
    lines = shard_reports[1].read_text(encoding="utf-8").splitlines(keepends=True)
    shard_reports[1].write_text("".join(lines[:-1]), encoding="utf-8")
    code, err = merge(tmp_path, *shard_reports)
    assert code == 2 and "run that shard again" in err
    assert not (tmp_path / "merged.csv").exists()
