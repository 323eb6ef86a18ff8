"""What the course costs a server: each notebook's peak memory and CPU time, JupyterLab's own, and the thread limit.

    .venv/bin/python benchmarks/notebook_resources.py                   # all notebooks, the server, 4 kernels at once
    .venv/bin/python benchmarks/notebook_resources.py --quick           # 01 and 02, 2 kernels at once, one round
    .venv/bin/python benchmarks/notebook_resources.py --lang ja         # the Japanese edition (notebooks/ja)
    .venv/bin/python benchmarks/notebook_resources.py --notebooks 02 05_interactive_explorer --no-contention
    .venv/bin/python benchmarks/notebook_resources.py --out resources.json   # also every number as JSON

Each notebook runs in a fresh kernel with nbclient, as ``scripts/build_notebooks.py`` executes the course (the
notebook's folder as the working directory, ``TF_CPP_MIN_LOG_LEVEL=3``), and is not written back. Just before the
kernel shuts down, the kernel process's peak resident memory (``VmHWM`` in /proc/<pid>/status, Linux) and its CPU
time (user + system) are read; the wall time runs from the kernel's start to the end of the last cell.

JupyterLab's own memory: a server started on 127.0.0.1 with a token and temporary configuration folders, its RSS
when idle and after one kernel was started and stopped through its REST API; it is stopped whatever happens.

The thread limit (``GRADCAM_THREADS``, gradcam_utils/thread_limit.py): K kernels (``--kernels``, 4) run the same
notebook at once, once with ``GRADCAM_THREADS`` unset and once with ``GRADCAM_THREADS=1``, alternating which goes
first in each round (``--rounds``), so a change in the machine's load hits both alike. Only the ratios of one run
mean anything. Each notebook run is a separate process (this file run with ``--probe``), which imports neither
TensorFlow nor this package. Figures and what they mean: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"en": REPO / "notebooks", "ja": REPO / "notebooks" / "ja"}
THREAD_SETTINGS = (None, 1)  # GRADCAM_THREADS unset, then 1
MB = 1024.0  # /proc reports kB; figures are MiB, written "MB" as in the rest of benchmarks/


# ------------------------------------------------------------------------------------------------ process figures
def _status_kb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no {field}")


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a running process so far, MB (``VmHWM``, Linux only).

    Args:
        pid: The process, alive.

    Returns:
        Its high-water mark of resident memory, in MB (MiB).
    """
    return _status_kb(pid, "VmHWM") / MB


def rss_mb(pid: int) -> float:
    """The resident memory of a running process now, MB (``VmRSS``, Linux only)."""
    return _status_kb(pid, "VmRSS") / MB


def cpu_seconds(pid: int) -> float:
    """The CPU time a running process has used so far, user + system, in seconds (its children not counted).

    Args:
        pid: The process, alive.

    Returns:
        utime + stime from /proc/<pid>/stat, in seconds.
    """
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime: fields 14 and 15 of proc(5)


def machine() -> dict:
    """Cores, memory, load, and the versions that matter, for the report."""
    with open("/proc/meminfo") as meminfo:
        memory = {line.split(":")[0]: float(line.split()[1]) / MB / MB for line in meminfo}
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory.get("MemTotal", 0.0), 1),
        "available_gb": round(memory.get("MemAvailable", 0.0), 1),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


# ------------------------------------------------------------------------------------------------ notebooks
def notebook_paths(lang: str = "en", names: list[str] | None = None) -> list[Path]:
    """The course notebooks ``NN_*.ipynb`` of one edition, all or those named.

    Args:
        lang: ``"en"`` (notebooks/) or ``"ja"`` (notebooks/ja/).
        names: Notebook names (``02_the_gradient_math``, with or without ``.ipynb``) or numbers (``02``, ``2``).

    Returns:
        The paths, in course order (or in the order named).

    Raises:
        ValueError: A name that is no notebook of that edition; the message lists the names there are.
    """
    if lang not in FOLDERS:
        raise ValueError(f"unknown language {lang!r}: choose from {', '.join(FOLDERS)}")
    available = sorted(FOLDERS[lang].glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return available
    chosen = []
    for name in names:
        stem = name.removesuffix(".ipynb")
        found = [path for path in available if stem in (path.stem, path.stem[:2]) or stem.zfill(2) == path.stem[:2]]
        if len(found) != 1:
            listing = ", ".join(path.stem for path in available)
            raise ValueError(f"no notebook {name!r} in {FOLDERS[lang].relative_to(REPO)}/: choose from {listing}")
        chosen.append(found[0])
    return chosen


def kernel_environment(threads: int | None) -> dict[str, str]:
    """The environment a kernel starts with: this one, ``TF_CPP_MIN_LOG_LEVEL=3``, ``GRADCAM_THREADS`` as asked."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as scripts/build_notebooks.py
    env.pop("GRADCAM_THREADS", None)
    if threads is not None:
        env["GRADCAM_THREADS"] = str(threads)
    return env


def measure_notebook(path: Path, env: dict[str, str] | None = None, timeout: int = 900) -> dict:
    """Run one notebook in a fresh kernel (not written back); its kernel's peak RSS, CPU time and wall time.

    Args:
        path: The notebook.
        env: The kernel's environment (default: ``kernel_environment(None)``).
        timeout: Seconds allowed per cell.

    Returns:
        ``{"notebook", "peak_rss_mb", "cpu_s", "wall_s", "cells"}``.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    with client.setup_kernel(env=env if env is not None else kernel_environment(None)):
        pid = client.km.provisioner.pid  # type: ignore[union-attr]  # the local provisioner's kernel process
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        wall = time.perf_counter() - start
        peak, cpu = peak_rss_mb(pid), cpu_seconds(pid)  # just before the kernel shuts down
    return {
        "notebook": path.stem,
        "peak_rss_mb": round(peak, 1),
        "cpu_s": round(cpu, 2),
        "wall_s": round(wall, 2),
        "cells": len(notebook.cells),
    }


def _probe_command(path: Path, timeout: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--probe", str(path), "--timeout", str(timeout)]


def measure_in_fresh_process(path: Path, threads: int | None = None, timeout: int = 900) -> dict:
    """``measure_notebook`` in a new process (this file with ``--probe``), so no run shares a client with another."""
    done = subprocess.run(
        _probe_command(path, timeout), env=kernel_environment(threads), capture_output=True, text=True, check=False
    )
    return _probe_result(path, done.returncode, done.stdout, done.stderr)


def _probe_result(path: Path, code: int, stdout: str, stderr: str) -> dict:
    if code != 0 or not stdout.strip():
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{path.name} failed (exit {code}):\n{tail}")
    return json.loads(stdout.strip().splitlines()[-1])


def contention(path: Path, kernels: int = 4, rounds: int = 2, timeout: int = 900, log=print) -> dict:
    """K kernels at once on one notebook, GRADCAM_THREADS unset vs 1, alternating which goes first per round.

    Args:
        path: The notebook every kernel runs.
        kernels: How many run at once.
        rounds: How many times each setting runs; the order alternates (unset, 1 / 1, unset / ...).
        timeout: Seconds allowed per cell.
        log: Where progress goes.

    Returns:
        ``{"notebook", "kernels", "rounds", "runs": [...], "totals": {setting: {"wall_s", "cpu_s"}},
        "ratio_wall", "ratio_cpu"}`` (ratios: GRADCAM_THREADS=1 over unset; below 1 means the limit helps).
    """
    runs = []
    for round_index in range(rounds):
        order = THREAD_SETTINGS if round_index % 2 == 0 else THREAD_SETTINGS[::-1]
        for threads in order:
            label = "unset" if threads is None else str(threads)
            log(f"  round {round_index + 1}: {kernels} kernels at once on {path.stem}, GRADCAM_THREADS={label}")
            start = time.perf_counter()
            processes = [
                subprocess.Popen(
                    _probe_command(path, timeout),
                    env=kernel_environment(threads),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(kernels)
            ]
            results = []
            for process in processes:
                stdout, stderr = process.communicate()
                results.append(_probe_result(path, process.returncode, stdout, stderr))
            wall = time.perf_counter() - start
            cpu = sum(result["cpu_s"] for result in results)
            runs.append({"round": round_index + 1, "threads": label, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
            runs[-1]["kernels"] = results
    totals = {
        label: {
            "wall_s": round(sum(run["wall_s"] for run in runs if run["threads"] == label), 2),
            "cpu_s": round(sum(run["cpu_s"] for run in runs if run["threads"] == label), 2),
        }
        for label in ("unset", "1")
    }
    return {
        "notebook": path.stem,
        "kernels": kernels,
        "rounds": rounds,
        "runs": runs,
        "totals": totals,
        "ratio_wall": round(totals["1"]["wall_s"] / totals["unset"]["wall_s"], 3),
        "ratio_cpu": round(totals["1"]["cpu_s"] / totals["unset"]["cpu_s"], 3),
    }


# ------------------------------------------------------------------------------------------------ JupyterLab
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lab_environment(tmp: Path) -> dict[str, str]:
    """Temporary Jupyter/IPython configuration, data and runtime folders (as tests/browser does)."""
    env = dict(os.environ)
    for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        env.pop(name, None)
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "run")):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(tmp / sub)
    env["IPYTHONDIR"] = str(tmp / "ipython")
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def _api(base: str, token: str, path: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def _wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {seconds:.0f} s waiting for {what}")


def measure_lab_server(settle_s: float = 5.0, log=print) -> dict:
    """JupyterLab's own RSS: idle, with one kernel, and after that kernel is stopped; the server stops always.

    Args:
        settle_s: Seconds to wait after start-up and after each step before reading.
        log: Where progress goes.

    Returns:
        ``{"idle_rss_mb", "with_kernel_rss_mb", "after_kernel_rss_mb", "peak_rss_mb", "bare_kernel_rss_mb"}``
        (the last: the RSS of a python3 kernel that ran nothing, for comparison with the notebooks' peaks).
    """
    import psutil

    with tempfile.TemporaryDirectory(prefix="lab-resources-") as folder:
        tmp = Path(folder)
        (tmp / "root").mkdir()
        port, token = _free_port(), secrets.token_hex(24)
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}"]
        command += [
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={tmp}/root",
        ]
        command += [f"--LabApp.user_settings_dir={tmp}/settings", f"--LabApp.workspaces_dir={tmp}/workspaces"]
        command += ["--LabApp.news_url=None", "--LabApp.extension_manager=readonly"]
        command += ["--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate"]
        command += ["--allow-root"] if os.getuid() == 0 else []
        base = f"http://127.0.0.1:{port}"
        log_file = open(tmp / "server.log", "wb")  # noqa: SIM115  (closed in finally, after the server stops)
        server = subprocess.Popen(
            command,
            cwd=tmp,
            env=_lab_environment(tmp),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for(lambda: _api(base, token, "/api/status") is not None, 90, "JupyterLab to answer /api/status")
            time.sleep(settle_s)
            idle = rss_mb(server.pid)
            log(f"  JupyterLab idle: {idle:.0f} MB; starting a kernel through /api/kernels")
            kernel = _api(base, token, "/api/kernels", "POST", {"name": "python3"})
            # the REST API says "starting" until a client connects to the kernel's channels: wait for its process
            _wait_for(lambda: psutil.Process(server.pid).children(recursive=True), 90, "the kernel's process")
            time.sleep(settle_s)
            with_kernel = rss_mb(server.pid)
            children = psutil.Process(server.pid).children(recursive=True)
            bare_kernel = max((child.memory_info().rss / MB / MB for child in children), default=None)
            _api(base, token, f"/api/kernels/{kernel['id']}", "DELETE")
            time.sleep(settle_s)
            after, peak = rss_mb(server.pid), peak_rss_mb(server.pid)
        except BaseException:
            log_file.flush()
            sys.stderr.write((tmp / "server.log").read_text(errors="replace")[-3000:])
            raise
        finally:
            _stop_server(server, base, token)
            log_file.close()
    return {
        "idle_rss_mb": round(idle, 1),
        "with_kernel_rss_mb": round(with_kernel, 1),
        "after_kernel_rss_mb": round(after, 1),
        "peak_rss_mb": round(peak, 1),
        "bare_kernel_rss_mb": None if bare_kernel is None else round(bare_kernel, 1),
    }


def _stop_server(server: subprocess.Popen, base: str, token: str) -> None:
    """Ask the server to shut down, then SIGTERM, then SIGKILL its process group (its own session)."""

    def ask() -> None:
        try:
            _api(base, token, "/api/shutdown", "POST")
        except (OSError, urllib.error.URLError, ValueError):
            pass

    def group(sig: int) -> None:
        try:
            os.killpg(server.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    for stop in (ask, lambda: group(signal.SIGTERM), lambda: group(signal.SIGKILL)):
        if server.poll() is not None:
            return
        stop()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------------------------------------ report, command line
def report(results: dict, log=print) -> None:
    """Print the tables: per notebook, the server, the thread limit."""
    info = results["machine"]
    log(f"\n{info['cores']} cores, {info['memory_gb']} GB RAM, Python {info['python']}, {info['date']}")
    if results.get("notebooks"):
        log(f"\n{'notebook (' + results['lang'] + ')':<38} {'peak RSS MB':>11} {'CPU s':>8} {'wall s':>8}")
        for row in results["notebooks"]:
            log(f"{row['notebook']:<38} {row['peak_rss_mb']:>11.0f} {row['cpu_s']:>8.1f} {row['wall_s']:>8.1f}")
    if results.get("server"):
        server = results["server"]
        log(
            f"\nJupyterLab server RSS: idle {server['idle_rss_mb']:.0f} MB, with a kernel "
            f"{server['with_kernel_rss_mb']:.0f} MB, after it stopped {server['after_kernel_rss_mb']:.0f} MB "
            f"(peak {server['peak_rss_mb']:.0f} MB); "
            f"a bare python3 kernel {server['bare_kernel_rss_mb']} MB"
        )
    if results.get("contention"):
        found = results["contention"]
        log(f"\n{found['kernels']} kernels at once on {found['notebook']}, {found['rounds']} round(s) per setting:")
        log(f"{'GRADCAM_THREADS':<16} {'wall s':>8} {'CPU s':>8}")
        for label, total in found["totals"].items():
            log(f"{label:<16} {total['wall_s']:>8.1f} {total['cpu_s']:>8.1f}")
        log(f"ratio 1 / unset: wall {found['ratio_wall']:.2f}x, CPU {found['ratio_cpu']:.2f}x (same run only)")
    log(f"load average at the end: {', '.join(f'{value:.2f}' for value in os.getloadavg())}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options; an unknown notebook name or a bad count exits with argparse's usage message."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--lang", choices=sorted(FOLDERS), default="en", help="the edition (default: en)")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME", help="only these (names or numbers: 02 05)")
    parser.add_argument("--kernels", type=int, default=4, help="kernels at once in the thread-limit check (4)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setting, alternating (2)")
    parser.add_argument("--contention-notebook", default="02", help="the notebook they run (02, small)")
    parser.add_argument("--no-notebooks", action="store_true", help="skip the per-notebook measurement")
    parser.add_argument("--no-server", action="store_true", help="skip JupyterLab's own memory")
    parser.add_argument("--no-contention", action="store_true", help="skip the thread-limit check")
    parser.add_argument("--quick", action="store_true", help="01 and 02 only, 2 kernels at once, one round")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell (900)")
    parser.add_argument("--out", type=Path, help="also write every number as JSON here")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)  # one notebook, JSON on stdout (internal)
    args = parser.parse_args(argv)
    if args.quick:
        args.notebooks, args.kernels, args.rounds = args.notebooks or ["01", "02"], min(args.kernels, 2), 1
    if args.kernels < 1 or args.rounds < 1:
        parser.error("--kernels and --rounds must be 1 or more")
    try:
        args.paths = [] if args.probe else notebook_paths(args.lang, args.notebooks)
        args.contention_path = None if args.probe else notebook_paths(args.lang, [args.contention_notebook])[0]
    except ValueError as error:
        parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure, print the tables, write the JSON of ``--out``; 0 when everything ran."""
    args = parse_args(argv)
    if args.probe:
        print(json.dumps(measure_notebook(args.probe, dict(os.environ), args.timeout)))
        return 0
    if not Path("/proc/self/status").exists():
        print("this measurement reads /proc (Linux only)", file=sys.stderr)
        return 2
    results: dict = {"machine": machine(), "lang": args.lang}
    print(f"{results['machine']['cores']} cores, load average {results['machine']['load_average']}")
    if not args.no_notebooks:
        results["notebooks"] = []
        for path in args.paths:
            print(f"  {path.relative_to(REPO)} (a fresh kernel)", flush=True)
            results["notebooks"].append(measure_in_fresh_process(path, None, args.timeout))
    if not args.no_server:
        results["server"] = measure_lab_server()
    if not args.no_contention:
        results["contention"] = contention(args.contention_path, args.kernels, args.rounds, args.timeout)
    results["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    report(results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
