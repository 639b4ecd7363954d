from pathlib import Path

from hyq import cache


def test_entry_is_filled_once_and_only_when_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("HYQ_CACHE", str(tmp_path))
    calls = []

    def make(folder: Path):
        calls.append(folder)
        (folder / "x.txt").write_text("done")

    k = cache.key({"a": 1})
    first = cache.entry("kind", k, make)
    again = cache.entry("kind", k, make)
    assert first == again and (first / "x.txt").read_text() == "done" and len(calls) == 1
    assert cache.key({"a": 1}) == k != cache.key({"a": 2})


def test_failed_fill_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HYQ_CACHE", str(tmp_path))

    def broken(folder: Path):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("interrupted")

    try:
        cache.entry("kind", "k1", broken)
    except RuntimeError:
        pass
    assert not (tmp_path / "kind" / "k1").exists()
    assert list((tmp_path / "kind").iterdir()) == []


def test_concurrent_fill_of_the_same_key_keeps_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv("HYQ_CACHE", str(tmp_path))

    def racer(folder: Path):
        (folder / "mine.txt").write_text("second")
        # another process finishes the same key while this one is still working
        other = tmp_path / "kind" / "k2"
        other.mkdir(parents=True)
        (other / "mine.txt").write_text("first")

    out = cache.entry("kind", "k2", racer)
    assert (out / "mine.txt").read_text() == "first"
    assert [p.name for p in (tmp_path / "kind").iterdir()] == ["k2"]


def test_module_files_follow_every_import_of_a_job():
    from hyq import cache as hc

    rel = {str(p.relative_to(hc._PKG)) for p in hc.module_files("hyq.jobs.flow")}
    # the forward pass runs hyq.integer; the estimates come from hyq.costs (via dataflow.ops,
    # whose operators the package imports dynamically)
    assert {"integer/softmax.py", "costs/softmax_cost.py", "dataflow/ops/softmax.py", "jobs/flow.py"} <= rel
    assert not any(r.startswith(("cli", "explore/", "sim/")) for r in rel)  # not imported by hyq run
    train = {str(p.relative_to(hc._PKG)) for p in hc.module_files("hyq.models", "hyq.quantize", "hyq.data")}
    assert "integer/softmax.py" in train and "quantize/ptq.py" in train  # train.py imports ptq in a function
    assert not any(r.startswith(("dataflow/", "export/")) for r in train)
