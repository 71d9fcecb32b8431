"""`netprior batch --ray`: the same jobs as Ray tasks on a local Ray instance (2 CPUs, started once for the module).
A task kills its own Ray worker process once; Ray reruns it and every input ends up done exactly once; a rerun
skips everything that is done."""

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from batch_tasks import KILLER, make_folder  # noqa: E402
from netprior.batch import RayExecutor, Task, run_batch  # noqa: E402
from netprior.batch.manifest import read_records  # noqa: E402
from netprior.cli.batch import IMAGE_SUFFIXES  # noqa: E402
from test_batch import GOOD, check_exactly_once  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def local_ray():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    here = Path(__file__).resolve().parent
    path = os.pathsep.join([str(here), str(here.parent / "src"), os.environ.get("PYTHONPATH", "")])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}})
    yield
    ray.shutdown()


def test_ray_reruns_a_killed_worker_and_resume_skips_done(local_ray, tmp_path):
    src, out = make_folder(tmp_path / "in"), tmp_path / "out"
    task = Task(name="restore denoise (dies once)", target=KILLER, input_param="image", suffixes=IMAGE_SUFFIXES,
                flags={"marker": str(tmp_path / "killed"), "iters": 2, "sigma": 25.0})
    executor = RayExecutor("auto", threads=1)
    assert executor.slots == 2 and not executor.started  # the module's Ray instance is used, not a new one
    first = run_batch(task, src, out, executor, echo=lambda s: None)
    assert (tmp_path / "killed").exists()  # a Ray worker really died
    check_exactly_once(out, read_records(out / "manifest.jsonl"))
    assert len(first.ran) == 4 and len({r["worker"] for r in first.ran if r["worker"]}) >= 1
    second = run_batch(task, src, out, executor, echo=lambda s: None)
    assert sorted(second.skipped) == sorted(GOOD) and [r["input"] for r in second.ran] == ["bad.png"]
    check_exactly_once(out, [r for r in read_records(out / "manifest.jsonl") if r["input"] != "bad.png"]
                       + [second.state["bad.png"]])
