"""Where a Dask run's workers are (an existing scheduler, a LocalCluster, a batch system), as
the command line and imgval.toml say it; pure and light, so option parsing does not load Dask
or the analysis. The engine that uses it is batch/dask_engine.py."""
from __future__ import annotations

from dataclasses import dataclass, field

JOBQUEUE_CLUSTERS = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster",
                     "htcondor": "HTCondorCluster", "oar": "OARCluster", "moab": "MoabCluster"}


@dataclass(frozen=True)
class ClusterSpec:
    """Where the Dask workers are: an existing scheduler, a LocalCluster, or a batch system."""

    scheduler: str | None = None  # tcp://host:8786
    scheduler_file: str | None = None
    cluster: str | None = None  # "local", "local:N", or a JOBQUEUE_CLUSTERS name
    cluster_jobs: int = 1  # batch-system jobs kept running (jobqueue clusters)
    options: dict = field(default_factory=dict)  # the jobqueue cluster's keyword arguments
    files_per_task: int | None = None  # None: sized by bytes (see batches)

    def describe(self) -> str:
        if self.scheduler:
            return f"the Dask scheduler at {self.scheduler}"
        if self.scheduler_file:
            return f"the Dask scheduler in {self.scheduler_file}"
        return f"a Dask {self.cluster} cluster"


def parse_cluster(value: str) -> tuple[str, int | None]:
    """'local' / 'local:4' / 'slurm' -> (kind, workers); raises ValueError with the choices."""
    kind, _, count = value.partition(":")
    kind = kind.strip().lower()
    choices = ("local", "local:N", *JOBQUEUE_CLUSTERS)
    if kind not in ("local", *JOBQUEUE_CLUSTERS):
        raise ValueError(f"unknown cluster {value!r}; choose one of {', '.join(choices)}")
    if not count:
        return kind, None
    if kind != "local" or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{value!r}: only a local cluster takes a worker count (local:N, N >= 1)")
    return kind, int(count)


def lifetime_args(walltime: str) -> list[str]:
    """Worker --lifetime a little under the job's walltime (HH:MM:SS, MM:SS or minutes), so the
    batch system never kills a worker mid-file: it retires, its tasks move, adapt() replaces it."""
    seconds = _walltime_seconds(walltime)
    margin = max(120, seconds // 10)  # time to finish the file in hand and hand work back
    stagger = min(margin // 2, 300)  # workers of one start do not all retire at once
    lifetime = max(60, seconds - margin)
    return ["--lifetime", f"{lifetime}s", "--lifetime-stagger", f"{stagger}s"]


def _walltime_seconds(walltime: str) -> int:
    parts = str(walltime).strip().split(":")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"walltime {walltime!r}: write it as HH:MM:SS") from None
    if len(numbers) == 1:
        return numbers[0] * 60
    while len(numbers) < 3:
        numbers.insert(0, 0)
    hours, minutes, seconds = numbers[-3:]
    return hours * 3600 + minutes * 60 + seconds


def jobqueue_cluster_kwargs(spec: ClusterSpec) -> dict:
    """The jobqueue cluster's arguments: the user's, one worker process per job core by default
    (the analysis is CPU-bound Python), and a --lifetime under the walltime."""
    options = dict(spec.options)
    options.setdefault("processes", int(options.get("cores", 1)))
    walltime = options.get("walltime")
    if walltime:
        extra = list(options.get("worker_extra_args", []))
        if "--lifetime" not in extra:
            extra += lifetime_args(walltime)
        options["worker_extra_args"] = extra
    return options
