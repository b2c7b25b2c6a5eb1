"""Markdown tables of benchmark results, each with the machine, package versions and command.

A throughput figure means nothing without the hardware and software it was measured on and
a way to reproduce it, so every table `lightrank-bench` prints opens with those.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
from collections.abc import Sequence

from lightrank_bench.serving import ServingResult
from lightrank_bench.training import TrainingRow

PACKAGES = ("tensorflow", "tf-keras", "tensorflow-transform", "tfx")


def machine() -> str:
    """CPU model, core count, OS and Python, in one line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, " \
        f"Python {platform.python_version()}"  # fmt: skip


def package_versions(packages: Sequence[str] = PACKAGES) -> str:
    """`name version` of each installed package, comma-separated."""
    versions = []
    for name in packages:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return ", ".join(versions)


def header(title: str, command: Sequence[str]) -> list[str]:
    """The lines every table opens with."""
    return [
        f"### {title}",
        "",
        f"- Machine: {machine()}",
        f"- Packages: {package_versions()}",
        f"- Command: `{shlex.join(command)}`",
        "",
    ]


def _threads(threads: int) -> str:
    return "all cores" if threads == 0 else f"{threads} thread" + ("s" if threads > 1 else "")


def _rest(total_per_sec: float, parse_per_sec: float) -> str:
    """Throughput of what follows parsing, from the per-candidate time left once parsing is removed."""
    rest_seconds = 1.0 / total_per_sec - 1.0 / parse_per_sec
    return f"{1.0 / rest_seconds:,.0f}" if rest_seconds > 0 else "n/a"


def serving_table(results: Sequence[ServingResult], command: Sequence[str]) -> str:
    """The serving table: one row per (thread setting, request size)."""
    lines = header("Serving: `serving_default` on serialized candidates", command)
    for result in results:
        lines.append(
            f"- {_threads(result.threads)}: matmul {result.matmul_gflops:.1f} GFLOP/s; model "
            f"{result.flops_per_candidate / 1e3:.1f} kFLOP/candidate at {result.ids_per_row:.1f} sparse ids; "
            f"ceiling {result.ceiling_candidates_per_sec:,.0f} candidates/s"
            + (f"; serving process peak RSS {result.peak_rss_mib:,.0f} MiB" if result.peak_rss_mib else "")
        )
    lines += [
        "",
        "| threads | batch | candidates/s | p50 ms | p99 ms | parse alone, candidates/s | parse share "
        "| Transform + model, candidates/s | of FLOP ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for row in result.rows:
            lines.append(
                f"| {_threads(result.threads)} | {row.batch_size:,} | {row.candidates_per_sec:,.0f} "
                f"| {row.p50_ms:.2f} | {row.p99_ms:.2f} | {row.parse_candidates_per_sec:,.0f} "
                f"| {row.parse_share:.0%} | {_rest(row.candidates_per_sec, row.parse_candidates_per_sec)} "
                f"| {row.ceiling_fraction:.1%} |"
            )
    return "\n".join(lines) + "\n"


def training_table(rows: Sequence[TrainingRow], command: Sequence[str]) -> str:
    """The training table: one row per batch size."""
    lines = header("Training: `train` on the Transform output", command)
    lines += ["| batch | timed steps | examples/s | ms/step |", "|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row.batch_size:,} | {row.steps} | {row.examples_per_sec:,.0f} | {row.ms_per_step:.2f} |"
        )
    return "\n".join(lines) + "\n"
