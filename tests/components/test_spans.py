"""Span patterns and span selection (components/spans.py), as SpanExampleGen applies them."""

from __future__ import annotations

import datetime

import pytest

from lightrank.components.spans import (
    SpanError,
    SpanRule,
    check_pattern,
    has_span,
    select,
    span_date,
    span_number,
    spans_of,
    wildcard,
)

DAILY = "/d/day={SPAN}/part-*.gz"


def _paths(*spans: int) -> list[str]:
    return [f"/d/day={span}/part-{i}.gz" for span in spans for i in range(2)]


def test_span_patterns_are_recognised_and_globbed():
    assert has_span(DAILY) and has_span("/d/{YYYY}-{MM}-{DD}/*") and not has_span("/d/{YYYY}/*")
    assert wildcard("/d/{YYYY}-{MM}-{DD}/v{VERSION}/*.gz") == "/d/*-*-*/v*/*.gz"


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        ("/d/{SPAN}/{SPAN}/*", "repeats a spec"),
        ("/d/{YYYY}-{MM}/*", "needs all of"),
        ("/d/{SPAN}/{YYYY}{MM}{DD}/*", "both {SPAN} and a date"),
        ("/d/v{VERSION}/*", "has {VERSION} but no"),
        ("/d/{SPAN:4}/*", "width specs"),
    ],
)
def test_bad_patterns_name_the_pattern(pattern, needle):
    with pytest.raises(SpanError, match="span pattern") as error:
        check_pattern(pattern)
    assert needle in str(error.value)


def test_latest_picks_the_newest_spans_oldest_first():
    available = spans_of(DAILY, _paths(3, 1, 10, 2))
    chosen = select(available, SpanRule(latest=2), DAILY)
    assert [read.span for read in chosen] == [3, 10]  # numeric order, not string order
    assert chosen[1].files == ("/d/day=10/part-0.gz", "/d/day=10/part-1.gz")


def test_a_range_must_be_complete():
    available = spans_of(DAILY, _paths(1, 2, 4))
    assert [read.span for read in select(available, SpanRule(start=1, end=2), DAILY)] == [1, 2]
    with pytest.raises(SpanError, match=r"span\(s\) 3 of /d/day=\{SPAN\}/part-\*.gz have no files"):
        select(available, SpanRule(start=1, end=4), DAILY)


def test_too_few_spans_and_no_span_are_errors_naming_the_pattern():
    with pytest.raises(SpanError, match=r"latest is 3 but only 2 span\(s\) match /d/day=\{SPAN\}.*: 1, 2"):
        select(spans_of(DAILY, _paths(1, 2)), SpanRule(latest=3), DAILY)
    with pytest.raises(SpanError, match="matches no span"):
        select(spans_of(DAILY, ["/d/day=x/part-0.gz"]), SpanRule(latest=1), DAILY)


def test_only_the_highest_version_of_a_span_is_read():
    pattern = "/d/{SPAN}/v{VERSION}/*"
    paths = ["/d/5/v1/a", "/d/5/v1/b", "/d/5/v2/a", "/d/6/v1/a"]
    available = spans_of(pattern, paths)
    assert available[5].version == 2 and available[5].files == ("/d/5/v2/a",)
    assert available[6].version == 1


def test_date_spans_are_days_since_the_epoch_as_in_tfx():
    pattern = "/d/{YYYY}-{MM}-{DD}/*"
    available = spans_of(pattern, ["/d/2026-12-01/a", "/d/2026-12-02/a", "/d/x/a"])
    first = span_number(datetime.date(2026, 12, 1))
    assert sorted(available) == [first, first + 1] and span_date(first) == datetime.date(2026, 12, 1)
    assert (
        span_number("2026-12-02") == first + 1
        and first == (datetime.date(2026, 12, 1) - datetime.date(1970, 1, 1)).days
    )
    rule = SpanRule.from_dict({"start": "2026-12-01", "end": "2026-12-02"})
    assert [read.span for read in select(available, rule, pattern)] == [first, first + 1]
    with pytest.raises(SpanError, match="date is invalid"):
        spans_of(pattern, ["/d/2026-13-02/a"])


def test_no_rule_reads_the_newest_span_as_importexamplegen_does():
    assert SpanRule.from_dict(None) == SpanRule(latest=1)
    assert [read.span for read in select(spans_of(DAILY, _paths(1, 2)), SpanRule.from_dict(None), DAILY)] == [
        2
    ]


def test_a_pattern_naming_each_spans_folder_reads_the_files_in_it(tmp_path):
    from lightrank.components.span_example_gen import SPLITS, resolve_split_files

    for day in (1, 2, 3):
        (tmp_path / f"day={day}").mkdir()
        for part in ("a.gz", "b.gz"):
            (tmp_path / f"day={day}" / part).write_bytes(b"")
    settings = {"patterns": {"single_split": "day={SPAN}"}, "spans": {"latest": 2.0}, "route": SPLITS}
    [older, newest] = resolve_split_files(str(tmp_path), settings)["single_split"]
    assert (older.span, newest.span) == (2, 3)
    assert newest.files == (f"{tmp_path}/day=3/a.gz", f"{tmp_path}/day=3/b.gz")
    settings["patterns"] = {"single_split": "day={SPAN}/*.gz"}  # the same days, named by their files
    assert [read.span for read in resolve_split_files(str(tmp_path), settings)["single_split"]] == [2, 3]
