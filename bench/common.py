"""The small pieces every benchmark shares: result rows, timing, the emulator, free ports.

Each benchmark module exposes ``run(quick: bool = False, **options) -> list[Row]``; ``python -m bench``
calls them in turn and prints the rows. A row always names its peer (measured in the same run) so a
figure is read as a ratio on this machine, not as an absolute number from somewhere else.
"""

from __future__ import annotations

import math
import os
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
#: Recorded server durations (docs/reliability.md, goal P1): what a
#: "typical generation" means when we judge the client's overhead.
TYPICAL_SERVER_S = {"gemini-3-pro-image": 26.0, "gemini-2.5-flash-image": 6.0}


@dataclass
class Row:
    name: str
    value: float | None
    unit: str
    peer: str
    peer_value: float | None
    goal: str
    passed: bool | None  # None: informational (no goal) or skipped
    ratio: float | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.value is not None and self.peer_value:
            self.ratio = self.value / self.peer_value

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "skip"
        return {True: "pass", False: "FAIL", None: "-"}[self.passed]

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"verdict": self.verdict}


def skipped(name: str, reason: str) -> Row:
    return Row(name, None, "", "", None, "", None, note=f"skipped: {reason}")


@dataclass(frozen=True)
class Timing:
    samples: tuple[float, ...]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def extra(self, scale: float = 1.0) -> dict[str, Any]:
        return {"p50": self.p50 * scale, "max": self.max * scale, "n": len(self.samples)}


def measure(fn: Callable[[], Any], n: int, *, warmup: int = 0) -> Timing:
    """Run ``fn`` ``warmup`` + ``n`` times; time the last ``n`` with perf_counter."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return Timing(tuple(samples))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def emulator(latency: float = 0.0) -> Iterator[Any]:
    from studio.emulator import Emulator

    emu = Emulator(port=0, latency=latency).start()
    try:
        yield emu
    finally:
        emu.stop()


def rss_mb() -> float:
    """Current resident set size of this process (Linux /proc), in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux ``clear_refs`` 5).

    ``ru_maxrss`` cannot be used: a child started with fork + exec inherits the parent's peak.
    """
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def peak_rss_mb() -> float:
    """Peak RSS since the process started or since ``reset_peak_rss``, in MB."""
    return _status_mb("VmHWM")


def python() -> str:
    """The interpreter running the benchmarks (the project venv's), for child processes."""
    import sys

    return sys.executable


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "s" and value < 1:
        return f"{value * 1000:.1f} ms"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.3g} {unit}".strip()


class _Remote:
    def __init__(self, url: str) -> None:
        self.url = url


@contextmanager
def emulator_process(latency: float = 0.0) -> Iterator[_Remote]:
    """``studio emulate`` in its own process, so its rendering does not share our GIL."""
    import subprocess

    port = free_port()
    proc = subprocess.Popen(
        [python(), "-m", "studio", "emulate", "--port", str(port), "--latency", str(latency)],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the emulator process did not start") from None
                time.sleep(0.05)
        yield _Remote(f"http://127.0.0.1:{port}")
    finally:
        stop(proc, timeout=5)


def stop(proc, timeout: float = 10) -> None:
    """Terminate a child server, killing it if it does not exit in ``timeout`` seconds."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
