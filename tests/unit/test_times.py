"""console.times: the one way templates write a time (|abstime, |reltime)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.utils import timezone

from console import times

MOMENT = datetime(2026, 11, 30, 16, 5, 12, 345678, tzinfo=UTC)


def render(text: str, **context) -> str:
    return Template(text).render(Context(context))


def test_it_writes_an_absolute_time_to_the_second_with_its_zone():
    html = render("{{ t|abstime }}", t=MOMENT)
    assert html == '<time datetime="2026-11-30T16:05:12Z">2026-11-30 16:05:12 UTC</time>'


def test_it_adds_milliseconds_and_never_microseconds():
    html = render('{{ t|abstime:"ms" }}', t=MOMENT)
    assert html == '<time datetime="2026-11-30T16:05:12.345Z">2026-11-30 16:05:12.345 UTC</time>'
    assert "345678" not in html


def test_it_writes_the_active_time_zone_and_the_weekday():
    html = render(
        '{% load tz %}{% timezone "Europe/Paris" %}{{ t|abstime:"day" }}{% endtimezone %}', t=MOMENT
    )
    # The machine form stays UTC; the reader's form is the zone's.
    assert html == '<time datetime="2026-11-30T16:05:12Z">Mon 2026-11-30 17:05:12 CET</time>'


def test_a_naive_time_is_utc():
    assert times.absolute(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05 UTC"


def test_nothing_gives_nothing_so_a_default_can_follow():
    assert render('{{ t|abstime|default:"never" }} {{ t|reltime|default:"—" }}', t=None) == "never —"


def test_a_bad_option_is_refused():
    with pytest.raises(TemplateSyntaxError):
        render('{{ t|abstime:"us" }}', t=MOMENT)


@pytest.mark.parametrize("seconds,text", [
    (0, "just now"), (4.9, "just now"), (-3, "just now"),
    (5, "5 s ago"), (12.7, "12 s ago"), (59, "59 s ago"),
    (60, "1 min ago"), (5 * 60 + 59, "5 min ago"), (3599, "59 min ago"),
    (3600, "1 h ago"), (3 * 3600 + 1800, "3 h ago"),
    (86400, "1 d ago"), (29 * 86400, "29 d ago"),
    (-25, "in 25 s"), (-2 * 3600, "in 2 h"),
])
def test_it_writes_a_relative_time_in_the_largest_whole_unit(seconds, text):
    assert times.relative(MOMENT - timedelta(seconds=seconds), now=MOMENT) == text


def test_it_never_says_zero_minutes():
    for seconds in range(0, 120):
        text = times.relative(MOMENT - timedelta(seconds=seconds), now=MOMENT)
        assert not text.startswith("0 ")


def test_an_old_relative_time_is_written_absolute():
    assert times.relative(MOMENT - timedelta(days=45), now=MOMENT) == "2026-10-16 16:05:12 UTC"


def test_reltime_carries_the_absolute_time_for_the_browser_to_update():
    moment = timezone.now() - timedelta(seconds=90)
    html = render("{{ t|reltime }}", t=moment)
    match = re.fullmatch(r'<time datetime="([^"]+)" title="([^"]+)" data-rel>(.+)</time>', html)
    assert match, html
    assert match.group(1) == times.iso(moment)
    assert match.group(2) == times.absolute(moment)
    assert match.group(3) in ("1 min ago", "2 min ago")


# A template formatting a time of day itself: |time, |timesince, |timeuntil,
# or |date with a format that holds a time (a plain day is not a timestamp).
OWN_TIME = re.compile(
    r"\|\s*(time|timesince|timeuntil|naturaltime)\b"
    r"|\|\s*date\s*:\s*[\"'][^\"']*[aAcefgGhHiIOPrsTuUZ]"
)


def test_no_template_formats_a_time_on_its_own():
    """Every timestamp in templates/ goes through |abstime or |reltime."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    found = [
        f"{path.relative_to(root)}: {line.strip()}"
        for path in root.rglob("*.html")
        for line in path.read_text().splitlines()
        if OWN_TIME.search(line)
    ]
    assert found == []


def test_the_check_above_tells_times_from_days():
    flagged = ['{{ t|date:"Y-m-d H:i:s.u" }}', "{{ t|date:'c' }}", "{{ t|timesince }} ago", "{{ t|time }}"]
    fine = ['{{ d|date:"Y-m-d" }}', '{{ m|date:"F Y" }}', '{{ d|date:"Y-m-d D" }}', "{{ t|abstime }}"]
    assert [bool(OWN_TIME.search(x)) for x in flagged + fine] == [True] * 4 + [False] * 4


def test_the_readme_describes_the_times_the_console_writes():
    # issue 10: the README said "every time ... to the second" while an
    # invocation's page writes milliseconds (templates/invocations, "ms").
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = " ".join((root / "README.md").read_text().split())
    assert "every time in UTC to the second" not in readme
    for options in ("", "ms"):
        shown = re.sub(r"<[^>]+>", "", render("{{ t|abstime:o }}", t=MOMENT, o=options))
        assert f'"{shown}"' in readme
    pages = (root / "templates" / "invocations").glob("*.html")
    uses_ms = any('abstime:"ms"' in p.read_text() for p in pages)
    assert uses_ms and "to the millisecond" in readme
