"""The benchmarks' shared harness: one measurement per fresh process, peak memory, the panel.

Every benchmark measures each run in its own fresh Python process, so that a peak resident
memory is that run's alone and a first call pays for fresh memory as a user's would. The parent
calls :func:`in_fresh_process` with the script's own hidden ``--child ...`` arguments; the child
does its work, reads :func:`peak_rss`, and ends with :func:`report`, which prints one JSON line
that the parent gets back as a dict. The scripts are run from the repository root
(``python benchmarks/bench_x.py``), and import goodwill from the checkout (:func:`use_checkout`).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIB = 2**30


class ChildFailed(RuntimeError):
    """A measured process exited with an error; ``last_line`` is its last line of stderr."""

    def __init__(self, command: Sequence[str], stderr: str) -> None:
        lines = stderr.strip().splitlines() or ["(no output)"]
        super().__init__(f"{' '.join(command[1:4])} failed:\n{stderr[-3000:]}")
        self.last_line = lines[-1]


def use_checkout() -> None:
    """Import goodwill (``models``, ``sim``) and its tests from this checkout."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def peak_rss(who: int = resource.RUSAGE_SELF) -> int:
    """Peak resident memory in bytes of this process, or of its reaped children.

    For this process it is the high-water mark of its own address space (``VmHWM`` of
    /proc/self/status), not ``ru_maxrss``: Linux starts a forked child's ``ru_maxrss`` at its
    parent's peak, so a child measured that way would report the parent's memory (a parent
    that simulated the panel made every child look 0.5 to 1.3 GiB larger). For reaped
    children there is only ``ru_maxrss``, which includes what each inherited at its fork.
    """
    if who == resource.RUSAGE_SELF:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(who).ru_maxrss * 1024  # Linux reports KiB


def report(**measurements: object) -> None:
    """End a child: print its measurements as the one JSON line the parent reads."""
    print(json.dumps(measurements))


def in_fresh_process(
    script: str | Path,
    arguments: Sequence[str],
    environment: dict[str, str] | None = None,
    timeout: float | None = None,
) -> dict:
    """Run ``python script *arguments`` in a new process and return what it reported.

    Raises
    ------
    ChildFailed
        If the process exits with an error (its stderr in the message).
    subprocess.TimeoutExpired
        If it runs longer than ``timeout`` seconds (it is killed).
    """
    command = [sys.executable, str(script), *map(str, arguments)]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)
    if done.returncode != 0:
        raise ChildFailed(command, done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_panel(n_consumers: int, columns: Sequence[str], path: Path) -> Path:
    """Simulate configs/baseline.toml's panel on ``n_consumers`` and write ``columns`` of it
    as Parquet to ``path`` (the data every estimation benchmark gives each library)."""
    use_checkout()
    from sim import load_config, simulate_panel

    config = load_config(ROOT / "configs" / "baseline.toml")
    panel, _ = simulate_panel(config, n_consumers=n_consumers, progress=False)
    panel[list(columns)].to_parquet(path, index=False)
    return path
