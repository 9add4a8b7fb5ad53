"""Both scripts as a user runs them: real subprocesses, real files, exit codes and reports."""
import csv
import json

from imgval.cli import exitcodes

from tests.conftest import ROOT, run_script, write_image


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_process_writes_results_csv_in_cwd_and_prints_the_summary(tmp_path, image_dir):
    (image_dir / "notes.jpg").write_text("not an image")
    result = run_script(str(ROOT / "process.py"), "-i", str(image_dir), cwd=tmp_path)
    assert result.returncode == exitcodes.OK, result.stderr
    rows = read_csv(tmp_path / "results.csv")
    assert list(rows[0])[:7] == ["filepath", "score", "blurry", "hash", "width", "height", "format"]
    assert list(rows[0])[-3:] == ["exif_ok", "exif_issues", "error"]
    by_name = {row["filepath"].rsplit("/", 1)[-1]: row for row in rows}
    assert set(by_name) == {"sharp.jpg", "blurry.jpg", "lossless.png", "master.tif", "notes.jpg"}
    assert by_name["blurry.jpg"]["blurry"] == "True" and by_name["sharp.jpg"]["blurry"] == "False"
    assert by_name["notes.jpg"]["error"] and by_name["notes.jpg"]["score"] == ""
    assert "--- Image count: 5 ---" in result.stdout
    assert "--- Found 1 blurry images ---" in result.stdout
    assert "--- Percent blurry: 20.00% ---" in result.stdout
    assert "--- Total time taken:" in result.stdout
    assert "Traceback" not in result.stderr


def test_several_inputs_after_one_flag_and_a_single_file(tmp_path, image_dir):
    out = tmp_path / "r.csv"
    result = run_script(str(ROOT / "process.py"), "-i", str(image_dir / "sharp.jpg"), str(image_dir / "sub"),
                        "-s", str(out), "-j", "1", cwd=tmp_path, check=True)
    names = [row["filepath"].rsplit("/", 1)[-1] for row in read_csv(out)]
    assert names == ["sharp.jpg", "lossless.png", "master.tif"]
    assert "--- Image count: 3 ---" in result.stdout


def test_json_output_and_threshold(tmp_path, image_dir):
    result = run_script(str(ROOT / "process.py"), "-i", str(image_dir), "-o", "json", "-t", "1e9", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["threshold"] == 1e9 and data["blurry_counts"] == 4
    assert all(row["blurry"] is True for row in data["results"])


def test_formula_like_names_are_neutralised_in_csv(tmp_path, sharp_image):
    folder = tmp_path / "in"
    write_image(folder / "=HYPERLINK(1).jpg", sharp_image)
    run_script(str(ROOT / "process.py"), "-i", str(folder), "-s", str(tmp_path / "r.csv"), cwd=folder, check=True)
    text = (tmp_path / "r.csv").read_text()
    assert "'=HYPERLINK" in text or "/=HYPERLINK" in text  # never a cell starting with =
    for row in read_csv(tmp_path / "r.csv"):
        assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values())


def test_relative_formula_path_gets_a_quote(tmp_path, sharp_image):
    write_image(tmp_path / "=cmd.jpg", sharp_image)
    run_script(str(ROOT / "process.py"), "-i", "=cmd.jpg", cwd=tmp_path, check=True)
    assert read_csv(tmp_path / "results.csv")[0]["filepath"] == "'=cmd.jpg"


def test_empty_folder_gives_a_message_and_an_empty_report(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_script(str(ROOT / "process.py"), "-i", "empty", cwd=tmp_path)
    assert result.returncode == 0
    assert "No image files found" in result.stderr
    assert read_csv(tmp_path / "results.csv") == []
    assert "--- Image count: 0 ---" in result.stdout


def test_bad_options_give_one_clear_message_and_exit_2(tmp_path, image_dir):
    bad_profile = tmp_path / "bad.toml"
    bad_profile.write_text("required_tags = [\n")
    cases = [
        (["-i", str(tmp_path / "missing")], "no such file or folder"),
        (["-i", str(image_dir), "-s", str(tmp_path / "no" / "dir" / "r.csv")], "cannot write"),
        (["-i", str(image_dir), "-o", "xml"], "'xml' is not one of"),
        (["-i", str(image_dir), "--profile", str(bad_profile)], "bad.toml"),
        (["-i", str(image_dir), "-j", "0"], "-j"),
        ([], "Missing option '-i'"),
    ]
    for args, message in cases:
        result = run_script(str(ROOT / "process.py"), *args, cwd=tmp_path)
        assert result.returncode == exitcodes.USAGE, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "results.csv").exists()


def test_process_blur_prints_sorted_rows_to_stdout(tmp_path, image_dir):
    result = run_script(str(ROOT / "process_blur.py"), "-i", str(image_dir), cwd=tmp_path, check=True)
    lines = result.stdout.splitlines()
    assert lines[0] == "input_path,score,blurry,error"
    paths = [line.split(",")[0] for line in lines[1:]]
    assert paths == sorted(paths) and len(paths) == 4


def test_process_blur_json_keys_variable_size_log_and_blur_maps(tmp_path, image_dir):
    out, log, maps = tmp_path / "r.json", tmp_path / "run.log", tmp_path / "maps"
    run_script(str(ROOT / "process_blur.py"), "-i", str(image_dir), "-s", str(out), "-o", "json", "-f",
               "-l", str(log), "--blur-map-dir", str(maps), "-t", "50", cwd=tmp_path, check=True)
    data = json.loads(out.read_text())
    assert set(data) == {"images", "threshold", "blurry_counts", "fix_size", "results"}
    assert data["fix_size"] is False and data["threshold"] == 50
    assert data["blurry_counts"] == sum(row["blurry"] for row in data["results"])
    assert set(data["results"][0]) == {"input_path", "score", "blurry", "error"}
    assert "blurry.jpg" in log.read_text()
    assert len(list(maps.glob("*.blurmap.png"))) == 4


def test_process_blur_display_without_a_screen_is_a_clear_message(tmp_path, image_dir):
    result = run_script(str(ROOT / "process_blur.py"), "-i", str(image_dir), "-d", cwd=tmp_path)
    assert result.returncode == exitcodes.USAGE
    assert "needs a graphical display" in result.stderr and "Traceback" not in result.stderr


def test_imgval_scan_is_the_same_run(tmp_path, image_dir):
    run_script("-m", "imgval.cli", "scan", "-i", str(image_dir), "-s", "a.csv", cwd=tmp_path, check=True)
    run_script(str(ROOT / "process.py"), "-i", str(image_dir), "-s", "b.csv", cwd=tmp_path, check=True)
    assert read_csv(tmp_path / "a.csv") == read_csv(tmp_path / "b.csv")
