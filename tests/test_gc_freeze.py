"""``platform.gc_freeze`` (recipe/platform/gc_freeze.py): after each full collection the survivors are frozen, the
next full collection walks only what is new and still frees cycles made since; nothing else in the process changes.
Run in a child interpreter: the callback stays for the life of the process it is installed in."""

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc, weakref
    from recipe.platform.gc_freeze import _freeze_survivors, freeze_after_full_collections

    class Node:
        pass

    kept = [Node() for _ in range(1000)]
    assert gc.get_freeze_count() == 0
    freeze_after_full_collections()
    freeze_after_full_collections()  # once per process
    assert gc.callbacks.count(_freeze_survivors) == 1
    gc.collect(1)  # a young collection freezes nothing
    assert gc.get_freeze_count() == 0
    gc.collect()
    frozen = gc.get_freeze_count()
    assert frozen >= 1000, frozen  # the survivors, the kept nodes among them
    assert all(n is not None for n in kept)

    # A cycle made after the freeze is garbage to the next full collection.
    a, b = Node(), Node()
    a.other, b.other = b, a
    alive = weakref.ref(a)
    del a, b
    gc.collect()
    assert alive() is None
    # Reference counting still frees a frozen object whose last reference goes.
    probe = weakref.ref(kept[0])
    del kept[0]
    assert probe() is None
    print("ok", frozen)
    """
)


def test_full_collections_freeze_their_survivors_and_still_free_new_cycles():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def test_it_is_installed_only_when_the_platform_asks(monkeypatch):
    import inspect

    from recipe.platform import cpu, gc_freeze

    installed = []
    monkeypatch.setattr(gc_freeze, "freeze_after_full_collections", lambda: installed.append(True))
    for flag, expected in (("1", [True]), ("0", []), (None, [])):
        installed.clear()
        if flag is None:
            monkeypatch.delenv("ERPO_GC_FREEZE", raising=False)
        else:
            monkeypatch.setenv("ERPO_GC_FREEZE", flag)
        assert gc_freeze.apply_platform_setting() is bool(expected)
        assert installed == expected
    # Every verl process applies it: activate() runs at `import verl` through VERL_USE_EXTERNAL_MODULES.
    assert "gc_freeze.apply_platform_setting()" in inspect.getsource(cpu.activate)


def test_gc_cost_probe_records_each_process_and_the_benchmark_reads_the_steady_window(tmp_path):
    """benchmarks/gc_cost.py: its sitecustomize probe, loaded into a child Python, writes the child's full
    collections and memory; the benchmark reads the records nearest the step ends."""
    import json
    import os
    import time

    from benchmarks.gc_cost import PROBE, at, process_name, process_rows

    site, out = tmp_path / "site", tmp_path / "probe"
    site.mkdir()
    out.mkdir()
    (site / "sitecustomize.py").write_text(PROBE)
    # The probe writes every 2 s: three full collections after its first record, then one more record.
    child = "import gc, time\ntime.sleep(2.3)\nfor _ in range(3):\n    gc.collect()\ntime.sleep(2.5)\n"
    env = {**os.environ, "PYTHONPATH": str(site), "ERPO_GC_PROBE_DIR": str(out)}
    done = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(p.read_text()) for p in out.glob("[0-9]*.json")]
    last = record["history"][-1]
    assert last[2]["2"][0] >= 3 and last[1] > 0  # three full collections at least, a resident size
    (row,) = process_rows(out, record["history"][0][0], time.time())
    assert row["full_collections"] >= 3
    assert row["rss_mb_at_last_step_end"] > 0

    assert process_name("ray::WorkerDict.actor_rollout_ref_update_actor") == "ray::WorkerDict"
    assert process_name("/usr/bin/python -m recipe.driver.train experiment=smoke") == "recipe.driver.train"
    history = [[1.0, 10, {}], [3.0, 20, {}]]
    assert at(history, 0.5) is None and at(history, 2.0)[1] == 10 and at(history, 3.0)[1] == 20
