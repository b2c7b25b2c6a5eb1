"""What `lightrank schema infer` tells a person: in the files' headers, and on the terminal.

Every guess is printed with its reason, and the "Review before your first run" list names what
inference cannot know (which feature is an outcome that would leak into the model, which values
a domain may take), because a schema that passes on its own data can still describe it wrongly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from lightrank.pipeline.schema_infer.roles import Role, Roles
from lightrank.pipeline.schema_infer.sources import DataSource
from lightrank.pipeline.schema_infer.statistics import DataStats

#: The files written into the output directory, in the order they are listed.
FILES = ("schema.pbtxt", "feature_spec.yaml", "config.yaml")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def header(sources: Sequence[DataSource], stats: DataStats, when: str) -> list[str]:
    """The first comment lines of every written file: inferred, from which data, when."""
    files = sum(len(source.files) for source in sources)
    lines = [
        f"Inferred by `lightrank schema infer` on {when} from {_plural(stats.examples, 'example')} "
        f"in {_plural(files, 'file')}:",
    ]
    for source, count in zip(sources, stats.examples_by_source, strict=True):
        lines.append(
            f"  --data {source.label} ({_plural(len(source.files), 'file')}, {_plural(count, 'example')})"
        )
    lines.append(
        'A starting point: review it before the first run (docs/configuration.md, "Starting a schema").'
    )
    return lines


def _role_line(what: str, role: Role, stats: DataStats, extra: str = "") -> str:
    also = f"; also possible: {', '.join(role.others[:3])}" if role.others else ""
    return f"  {what}: {role.name} ({stats.features[role.name].describe()}; {role.why}{also}){extra}"


def _review(stats: DataStats, roles: Roles, domains: dict[str, int], anomalies: list[str]) -> list[str]:
    guessed = [
        flag
        for flag, guessed in (
            ("--request-key", roles.request_key.guessed),
            ("--label", any(role.guessed for role in roles.labels)),
            ("--weight", roles.weight.guessed),
            ("--heavy-score", roles.heavy_score.guessed),
        )
        if guessed
    ]
    facts = stats.features
    partial = [name for name, f in facts.items() if not f.always_present]
    multi = [f"{name} ({f.max_values})" for name, f in facts.items() if f.max_values > 1]
    inputs = [name for name in facts if name not in roles.reserved | {r.name for r in roles.ignored}]
    items = []
    if anomalies:
        items.append(
            "the data breaks the schema as written, so a run would stop at the anomaly gate: "
            + "; ".join(anomalies)
            + " (fix the data, or the schema if it is wrong)"
        )
    if guessed:
        items.append(f"the guessed roles above; pass {', '.join(guessed)} to choose others")
    items.append(
        f"the {_plural(len(inputs), 'model input')} (feature_spec.yaml): set to ignore any feature "
        "known only after the notification was sent, or an outcome leaks into the model"
    )
    if roles.label_like:
        items.append(f"named like labels but used as model inputs: {', '.join(roles.label_like)}")
    if partial:
        items.append(
            f"presence.min_fraction is half the share seen for {', '.join(partial)}: raise it where a "
            "feature must be there"
        )
    if multi:
        items.append(
            f"value_count max is the most values seen for {', '.join(multi)}: raise it if more can come"
        )
    if domains:
        items.append(
            f"string domains list only the values seen ({', '.join(domains)}): a new value stops a run"
        )
    weight = facts[roles.weight.name]
    if weight.minimum is not None and weight.minimum < 0:
        items.append(
            f"the weight {weight.name} is negative down to {weight.minimum:g}; a rank position is >= 0"
        )
    items.append(
        "evaluation.thresholds in config.yaml are the sample's (AUC >= 0.6): set what your model must reach"
    )
    return items


def format_summary(
    sources: Sequence[DataSource], out: str, stats: DataStats, roles: Roles,
    domains: dict[str, int], anomalies: list[str],
) -> str:  # fmt: skip
    """The lines printed after the files are written."""
    files = sum(len(source.files) for source in sources)
    facts = stats.features
    lines = [f"Read {_plural(stats.examples, 'example')} from {_plural(files, 'file')}:"]
    lines += [
        f"  --data {source.label}: {_plural(len(source.files), 'file')}, {_plural(count, 'example')}"
        for source, count in zip(sources, stats.examples_by_source, strict=True)
    ]
    tasks = {label: task for task, label in roles.tasks.items()}
    lines += ["Roles:", _role_line("request key", roles.request_key, stats)]
    lines += [_role_line("label", role, stats, f" -> task {tasks[role.name]}") for role in roles.labels]
    lines += [_role_line("weight", roles.weight, stats), _role_line("heavy score", roles.heavy_score, stats)]
    multi = [f for f in facts.values() if f.max_values > 1]
    sections = [
        ("Partial presence", [f"{n} ({f.fraction:.1%})" for n, f in facts.items() if not f.always_present]),
        ("Multi-valued", [f"{f.name} ({f.min_values}-{f.max_values} values)" for f in multi]),
        ("String domains", [f"{name} ({count} values)" for name, count in domains.items()]),
        ("Ignored (not model inputs)", [f"{role.name}: {role.why}" for role in roles.ignored]),
    ]  # fmt: skip
    lines += [f"{title}: {'; '.join(items)}" for title, items in sections if items]
    lines.append(f"Wrote {', '.join(os.path.join(out, name) for name in FILES)}")
    lines.append("Review before your first run:")
    lines += [f"  - {item}" for item in _review(stats, roles, domains, anomalies)]
    lines.append(f"Next: lightrank run --config {os.path.join(out, 'config.yaml')}")
    return "\n".join(lines)
