"""Benchmark writing a Cellucid-ready AnnData store: ours against upstream cellucid 0.9.5.

For each size it generates (once, into --workdir) a CSR .h5ad with make_atlas.py's
write_atlas, its neighbour graph made exactly symmetric (upstream refuses any other), then
writes the store with each tool in a process of its own:

    cellucid.prepare(OUT, format=FORMAT, data=<the .h5ad read backed>, dataset_id=...,
                     dataset_name=..., latent_key="X_pca")

ours with this interpreter (or --ours-python), upstream with --reference-python (the python of a
virtual environment holding cellucid==0.9.5; left out when not given). Each run is timed from
start to exit, its peak RSS taken from os.wait4, and the input file is read once just before it
so that both tools find it in the page cache. --memory-cap 2G runs ours under a hard memory
limit (a cgroup; see MemoryCap) and reports whether it finished. --compare checks each store of
ours against upstream's with tests/store_diff.py's compare_stores.

Peak RSS counts the interpreter and its imports (about 120 MB for upstream); the growth table
(peak RSS between consecutive sizes) shows what the data adds.

    python benchmarks/store_benchmark.py --size 100000x5000 --size 300000x10000 \\
        --workdir /tmp/store-bench --reference-python /work/ref095/bin/python --memory-cap 2G
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUFFIXES = {"zarr": ".zarr", "zarr.zip": ".zarr.zip", "h5ad": ".h5ad"}
ARGUMENTS = {"dataset_id": "benchmark-atlas", "dataset_name": "Benchmark atlas"}
LATENT_KEY = "X_pca"

# One run of a tool, in its own process: the JSON spec is the only argument.
PREPARE = """
import json, sys
spec = json.loads(sys.argv[1])
import anndata, cellucid
if spec["input_mode"] == "path":
    data = spec["input"]
else:
    data = anndata.read_h5ad(spec["input"], backed="r")
cellucid.prepare(spec["out"], format=spec["format"], data=data, **spec["kwargs"])
"""

VERSION = "import cellucid; print(getattr(cellucid, '__version__', '?'))"

# Writes an input atlas in a process of its own, so this one stays small during the runs.
GENERATE = (
    "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
    "import store_benchmark as b; b.write_input_atlas(Path(sys.argv[2]), int(sys.argv[3]), "
    "int(sys.argv[4]))"
)


# ---------------------------------------------------------------------------------------------
# the input
# ---------------------------------------------------------------------------------------------


def write_input_atlas(path: Path, n_cells: int, n_genes: int) -> Path:
    """make_atlas.py's atlas, its graph made exactly symmetric as upstream requires."""
    import h5py
    from anndata.io import read_elem, write_elem
    from make_atlas import write_atlas

    write_atlas(path, n_cells, n_genes)
    with h5py.File(path, "r+") as file:
        graph = read_elem(file["obsp/connectivities"])
        # the larger of the two weights of each pair: exactly symmetric, diagonal still empty
        graph = graph.maximum(graph.T).tocsr()
        graph.sort_indices()
        del file["obsp/connectivities"]
        write_elem(file["obsp"], "connectivities", graph)
    return path


def input_atlas(workdir: Path, n_cells: int, n_genes: int) -> Path:
    """The input of one size in ``workdir``: generated once, reused by later runs."""
    path = workdir / f"store_atlas_{n_cells}x{n_genes}.h5ad"
    if path.exists():
        return path
    partial = path.with_name(path.name + ".partial")
    print(f"generating {path} ...", file=sys.stderr, flush=True)
    command = [sys.executable, "-c", GENERATE, str(HERE), str(partial), str(n_cells), str(n_genes)]
    subprocess.run(command, check=True)
    partial.rename(path)
    return path


WARM_BUFFER = bytearray(1 << 24)


def warm(path: Path) -> None:
    """Read ``path`` once, so that the next run finds it in the page cache whatever ran before."""
    with open(path, "rb") as handle:
        while handle.readinto(WARM_BUFFER):
            pass


def output_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------
# a hard memory limit for one child process
# ---------------------------------------------------------------------------------------------

MOVE_AND_EXEC = 'echo $$ > "$0" && exec "$@"'


def human_bytes(count: int) -> str:
    """``2 GiB``, ``512 MiB``: a memory limit as it was most likely given."""
    for unit, power in (("TiB", 4), ("GiB", 3), ("MiB", 2), ("KiB", 1)):
        if count >= 1024**power:
            return f"{count / 1024**power:.3g} {unit}"
    return f"{count} bytes"


def parse_bytes(text: str) -> int:
    """``"2G"``, ``"512M"``, ``"1.5G"`` or a number of bytes; binary units, as systemd's."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)i?B?\s*", text, re.I)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 2G or 512M)")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def _mount_point(fstype: str, option: str | None) -> Path | None:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == fstype and (option is None or option in options.split(",")):
            return Path(where)
    return None


def _own_cgroup(controller: str | None) -> str | None:
    """This process's cgroup path in the v1 hierarchy of ``controller`` (None: the v2 one)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        names = controllers.split(",") if controllers else []
        if (controller is None and not names) or (controller in names):
            return path
    return None


@dataclass
class CgroupScope:
    """One child cgroup holding one run, with the memory limit written into it."""

    folder: Path
    version: int

    def wrap(self, command: list[str]) -> list[str]:
        # the shell moves itself into the cgroup, then becomes the command (same pid)
        return ["/bin/sh", "-c", MOVE_AND_EXEC, str(self.folder / "cgroup.procs"), *command]

    def oom_kills(self) -> int | None:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        match = re.search(r"^oom_kill (\d+)$", (self.folder / name).read_text(), re.M)
        return int(match.group(1)) if match else None

    def peak_bytes(self) -> int | None:
        """Peak memory charged to the cgroup, page cache included."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        source = self.folder / name
        return int(source.read_text()) if source.exists() else None

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # the exited process may take a moment to leave it


def _cgroup_v2_scope(limit: int, name: str) -> CgroupScope:
    mount, own = _mount_point("cgroup2", None), _own_cgroup(None)
    if mount is None or own is None:
        raise OSError("no cgroup v2 hierarchy")
    parent = mount / own.lstrip("/")
    if "memory" not in (parent / "cgroup.subtree_control").read_text().split():
        raise OSError(f"the memory controller is not enabled for children of {parent}")
    folder = parent / name
    folder.mkdir()
    scope = CgroupScope(folder, 2)
    try:
        (folder / "memory.max").write_text(str(limit))
        if (folder / "memory.swap.max").exists():
            (folder / "memory.swap.max").write_text("0")
    except OSError:
        scope.remove()
        raise
    return scope


def _cgroup_v1_scope(limit: int, name: str) -> CgroupScope:
    mount, own = _mount_point("cgroup", "memory"), _own_cgroup("memory")
    if mount is None or own is None:
        raise OSError("no cgroup v1 memory hierarchy")
    # a child of this process's own cgroup: every limit above it still applies
    folder = mount / own.lstrip("/") / name
    folder.mkdir()
    scope = CgroupScope(folder, 1)
    try:
        (folder / "memory.limit_in_bytes").write_text(str(limit))
        swap = folder / "memory.memsw.limit_in_bytes"
        if swap.exists():
            swap.write_text(str(limit))  # memory + swap: no swapping past the limit
    except OSError:
        scope.remove()
        raise
    return scope


@dataclass
class SystemdScope:
    """A transient systemd scope with MemoryMax (where systemd is the init system)."""

    limit: int
    name: str

    def wrap(self, command: list[str]) -> list[str]:
        properties = ["-p", f"MemoryMax={self.limit}", "-p", "MemorySwapMax=0"]
        return ["systemd-run", "--scope", "--quiet", f"--unit={self.name}", *properties, *command]

    def oom_kills(self) -> int | None:
        return None  # inferred from the SIGKILL

    def peak_bytes(self) -> int | None:
        return None

    def remove(self) -> None:
        pass


@dataclass
class MemoryCap:
    """A hard memory limit, applied to one run at a time through a fresh scope."""

    limit: int
    method: str
    runs: int = field(default=0)

    METHODS = ("systemd-run", "cgroup2", "cgroup1")

    @classmethod
    def find(cls, limit: int, wanted: str = "auto") -> MemoryCap:
        """The first method that works here (a scope is made and removed to check)."""
        reasons = []
        for method in cls.METHODS if wanted == "auto" else (wanted,):
            cap = cls(limit, method)
            try:
                cap.scope().remove()
                return cap
            except OSError as error:
                reasons.append(f"{method}: {error}")
        raise SystemExit(
            "--memory-cap: no way to set a hard memory limit here:\n  " + "\n  ".join(reasons)
        )

    def scope(self) -> CgroupScope | SystemdScope:
        self.runs += 1
        name = f"cellucid-bench-{os.getpid()}-{self.runs}"
        if self.method == "systemd-run":
            if not (shutil.which("systemd-run") and Path("/run/systemd/system").is_dir()):
                raise OSError("systemd is not the init system here")
            return SystemdScope(self.limit, name)
        if self.method == "cgroup2":
            return _cgroup_v2_scope(self.limit, name)
        return _cgroup_v1_scope(self.limit, name)


# ---------------------------------------------------------------------------------------------
# one measured run
# ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one tool did on one size and format."""

    size: str
    tool: str
    format: str
    status: str
    wall: float
    rss_mb: float
    output: int | None
    capped: str = ""
    cgroup_peak_mb: float | None = None
    path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.status == "yes"


def _status(code: int, oom_kills: int | None) -> str:
    if code == 0:
        return "yes"
    if oom_kills or (oom_kills is None and code == -signal.SIGKILL):
        return "no: OOM-killed"
    if code < 0:
        return f"no: killed by {signal.Signals(-code).name}"
    return f"no: exit {code}"


def measured(
    command: list[str], cwd: Path, cap: MemoryCap | None
) -> tuple[str, float, float, float | None, str]:
    """Run ``command``; (finished, wall s, peak RSS MB, cgroup peak MB, end of its output)."""
    scope = cap.scope() if cap else None
    try:
        with tempfile.TemporaryFile() as log:
            start = time.perf_counter()
            process = subprocess.Popen(
                scope.wrap(command) if scope else command,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _, status, usage = os.wait4(process.pid, 0)
            except BaseException:  # interrupted: the run must not outlive the benchmark
                process.kill()
                os.wait4(process.pid, 0)
                raise
            wall = time.perf_counter() - start
            process.returncode = code = os.waitstatus_to_exitcode(status)
            log.seek(0)
            tail = log.read()[-4000:].decode("utf-8", "replace")
        oom = scope.oom_kills() if scope else 0
        peak = scope.peak_bytes() if scope else None
    finally:
        if scope:
            scope.remove()
    # ru_maxrss is in KiB on Linux
    return _status(code, oom), wall, usage.ru_maxrss / 1024, peak and peak / 2**20, tail


def fresh(workdir: Path, stem: str, format: str) -> Path:
    """A name no earlier run used: outputs are removed only at the end (see run_benchmark.py)."""
    index = 0
    while (workdir / f"{stem}_{index}{SUFFIXES[format]}").exists():
        index += 1
    return workdir / f"{stem}_{index}{SUFFIXES[format]}"


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def run_tool(tool: str, python: str, atlas: Path, size: str, format: str, options) -> Run:
    """One tool writing one store from ``atlas``, measured."""
    out = fresh(options.workdir, f"{tool}_{size}", format)
    ours = tool == "ours"
    spec = {
        "input": str(atlas),
        "input_mode": options.ours_input if ours else "backed",
        "out": str(out),
        "format": format,
        "kwargs": {**ARGUMENTS, "latent_key": LATENT_KEY, **(options.ours_kwargs if ours else {})},
    }
    cap = options.cap if (ours or options.cap_upstream) else None
    options.written.append(out)
    warm(atlas)
    print(f"running {tool} {format} {size} ...", file=sys.stderr, flush=True)
    status, wall, rss, peak, tail = measured(
        [python, "-c", PREPARE, json.dumps(spec)], options.workdir, cap
    )
    if status != "yes":
        print(
            f"{tool} {format} {size} did not finish ({status}); its output ends:\n{tail}",
            file=sys.stderr,
            flush=True,
        )
    size_on_disk = output_bytes(out) if status == "yes" and out.exists() else None
    capped = human_bytes(cap.limit) if cap else ""
    return Run(size, tool, format, status, wall, rss, size_on_disk, capped, peak, out)


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------


def _cells_times_genes(size: str) -> int:
    cells, genes = (int(v) for v in size.split("x"))
    return cells * genes


def results_table(runs: list[Run]) -> list[str]:
    lines = [
        "| size | tool | format | finished | wall s | peak RSS MB | output bytes |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for run in runs:
        finished = run.status + (f" (cap {run.capped})" if run.capped else "")
        output = f"{run.output:,}" if run.output is not None else "-"
        lines.append(
            f"| {run.size} | {run.tool} | {run.format} | {finished} | {run.wall:.2f} | "
            f"{run.rss_mb:,.0f} | {output} |"
        )
    return lines


def ratio_table(runs: list[Run]) -> list[str]:
    """upstream / ours, per size and format where both finished."""
    found = {(r.size, r.format, r.tool): r for r in runs if r.ok}
    lines = [
        "| size | format | upstream/ours wall | upstream/ours RSS |",
        "|---|---|---:|---:|",
    ]
    for (size, format, tool), ours in found.items():
        upstream = found.get((size, format, "upstream"))
        if tool == "ours" and upstream:
            lines.append(
                f"| {size} | {format} | {upstream.wall / ours.wall:.2f}x | "
                f"{upstream.rss_mb / ours.rss_mb:.2f}x |"
            )
    return lines if len(lines) > 2 else []


def growth_table(runs: list[Run]) -> list[str]:
    """How peak RSS grows between consecutive sizes, per tool and format."""
    lines = [
        "| tool | format | from | to | cells x genes | peak RSS MB | RSS ratio | + MB |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    series: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        if run.ok:
            series.setdefault((run.tool, run.format), []).append(run)
    for (tool, format), done in series.items():
        done.sort(key=lambda r: _cells_times_genes(r.size))
        for small, large in zip(done, done[1:], strict=False):
            grown = _cells_times_genes(large.size) / _cells_times_genes(small.size)
            lines.append(
                f"| {tool} | {format} | {small.size} | {large.size} | {grown:.2f}x | "
                f"{small.rss_mb:,.0f} -> {large.rss_mb:,.0f} | "
                f"{large.rss_mb / small.rss_mb:.2f}x | {large.rss_mb - small.rss_mb:+,.0f} |"
            )
    return lines if len(lines) > 2 else []


def report(runs: list[Run], interpreters: dict[str, str], cap: MemoryCap | None) -> None:
    for tool, text in interpreters.items():
        print(f"- {tool}: {text}")
    if cap:
        print(f"- memory cap: {human_bytes(cap.limit)} via {cap.method}")
    print()
    for table in (results_table(runs), ratio_table(runs), growth_table(runs)):
        if table:
            print("\n".join(table) + "\n")
    for run in runs:
        if run.cgroup_peak_mb is not None:
            print(
                f"- {run.size} {run.tool} {run.format}: cgroup peak (page cache included) "
                f"{run.cgroup_peak_mb:,.0f} MB"
            )


# ---------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------


def _size(text: str) -> str:
    if not re.fullmatch(r"\d+x\d+", text.lower()):
        raise argparse.ArgumentTypeError(f"not CELLSxGENES: {text!r}")
    return text.lower()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        action="append",
        type=_size,
        default=[],
        metavar="CELLSxGENES",
        help="e.g. 300000x10000 (repeatable)",
    )
    parser.add_argument(
        "--format",
        action="append",
        choices=list(SUFFIXES),
        default=[],
        help="zarr (default), h5ad or zarr.zip (repeatable)",
    )
    parser.add_argument("--workdir", type=Path, help="inputs and outputs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the stores written")
    parser.add_argument(
        "--ours-python",
        default=sys.executable,
        help="interpreter whose cellucid is ours (default: this one)",
    )
    parser.add_argument("--skip-ours", action="store_true", help="run upstream alone")
    parser.add_argument(
        "--ours-input",
        choices=["backed", "path"],
        default="backed",
        help="give ours data= as a backed AnnData (default) or as the path",
    )
    parser.add_argument(
        "--ours-kwargs",
        type=json.loads,
        default={},
        help="more arguments for our prepare(), as a JSON object",
    )
    parser.add_argument(
        "--reference-python", help="python of a virtual environment with cellucid==0.9.5"
    )
    parser.add_argument(
        "--memory-cap",
        type=parse_bytes,
        metavar="SIZE",
        help="run ours under this hard memory limit, e.g. 2G",
    )
    parser.add_argument("--memory-cap-method", choices=["auto", *MemoryCap.METHODS], default="auto")
    parser.add_argument(
        "--cap-upstream", action="store_true", help="run upstream under --memory-cap too"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="compare each store of ours with upstream's (tests/store_diff.py), print differences",
    )
    return parser.parse_args()


def compared(pair: list[Run], shown: int = 20) -> None:
    """Print how ours differs from upstream's store, when both finished."""
    done = {run.tool: run for run in pair if run.ok}
    if "ours" not in done or "upstream" not in done:
        return
    sys.path.insert(0, str(HERE.parent))
    from tests.store_diff import compare_stores

    ours = done["ours"]
    lines = compare_stores(ours.path, done["upstream"].path)
    what = f"{ours.size} {ours.format}"
    print(f"compare {what}: {len(lines)} difference(s) from upstream", file=sys.stderr, flush=True)
    for line in lines[:shown]:
        print(f"  {line}", file=sys.stderr)
    if len(lines) > shown:
        print(f"  ... and {len(lines) - shown} more", file=sys.stderr, flush=True)


def _version(python: str) -> str:
    result = subprocess.run([python, "-c", VERSION], capture_output=True, text=True, check=False)
    found = result.stdout.strip() if result.returncode == 0 else "no cellucid"
    return f"{python} (cellucid {found})"


def main() -> None:
    options = arguments()
    sizes, formats = options.size or ["100000x5000"], options.format or ["zarr"]
    tools = {} if options.skip_ours else {"ours": options.ours_python}
    if options.reference_python:
        tools["upstream"] = options.reference_python
    if not tools:
        sys.exit("nothing to run: --skip-ours without --reference-python")
    options.cap = (
        MemoryCap.find(options.memory_cap, options.memory_cap_method)
        if options.memory_cap
        else None
    )
    temporary = options.workdir is None
    options.workdir = (options.workdir or Path(tempfile.mkdtemp(prefix="store-bench-"))).resolve()
    options.workdir.mkdir(parents=True, exist_ok=True)
    options.written = []
    runs: list[Run] = []
    try:
        for size in sizes:
            atlas = input_atlas(options.workdir, *(int(v) for v in size.split("x")))
            for format in formats:
                pair = [
                    run_tool(tool, python, atlas, size, format, options)
                    for tool, python in tools.items()
                ]
                runs += pair
                if options.compare:
                    compared(pair)
        report(runs, {tool: _version(python) for tool, python in tools.items()}, options.cap)
    finally:
        if not options.keep:
            for path in options.written:
                # with what a killed run left: upstream stages ".<name>.<pid>.partial"
                for leftover in [path, *path.parent.glob(f".{path.name}*")]:
                    remove(leftover)
        if temporary and not options.keep:
            shutil.rmtree(options.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
