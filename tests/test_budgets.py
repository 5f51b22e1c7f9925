"""Budgets: the YAML file and its errors, observe and enforce modes, the 80% / 100% events
(exactly once), day and month rollover, restart, and totals under threads and processes."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import pickle
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from opentelemetry._logs import SeverityNumber

from _instrumented import LogsAndMetrics

import otel_agentmon
from otel_agentmon import budgets
from otel_agentmon._attribution import Attribution, attribution, current_attribution
from otel_agentmon.budgets import (
    Budget,
    BudgetExceededError,
    BudgetsConfig,
    BudgetsFileError,
    BudgetTracker,
    load_budgets,
    parse_budgets,
)
from otel_agentmon.budgets import _global
from otel_agentmon.processors import categorize
from otel_agentmon.semconv import agentmon as am
from otel_agentmon.semconv import budgets as sb
from otel_agentmon.semconv import metrics as sm
from otel_agentmon.semconv import gen_ai as ga
from otel_agentmon.semconv.errors import ErrorCategory

USER = am.BudgetScope.USER
DEPARTMENT = am.BudgetScope.DEPARTMENT
DAILY = am.BudgetPeriod.DAILY
MONTHLY = am.BudgetPeriod.MONTHLY
WARNING = am.BudgetLevel.WARNING
CRITICAL = am.BudgetLevel.CRITICAL

ALICE = Attribution(user_id="alice@example.com")
BOB_RESEARCH = Attribution(user_id="bob", department="research")
NOBODY = Attribution()

EXAMPLE = """\
mode: enforce
state_file: state/budgets.json
budgets:
  - department: research
    daily: 50.00
    monthly: 1000
  - user: alice@example.com
    daily: 5
"""


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone.utc)


class Clock:
    """A settable clock for the tracker (seconds since the epoch)."""

    def __init__(self, when: dt.datetime) -> None:
        self.now = when.timestamp()

    def set(self, when: dt.datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


class Telemetry(LogsAndMetrics):

    def events(self) -> list[tuple[str, str, str, str, float, float, SeverityNumber]]:
        """(scope, owner, period, level, spent, limit, severity) of each budget log record."""
        found = []
        for readable in self.logs.get_finished_logs():
            record = readable.log_record
            assert record.event_name == sb.THRESHOLD_EVENT
            assert readable.instrumentation_scope.name == sb.INSTRUMENTATION_SCOPE
            attrs = record.attributes
            found.append((attrs[am.BUDGET_SCOPE], attrs[am.BUDGET_OWNER], attrs[am.BUDGET_PERIOD],
                          attrs[am.BUDGET_LEVEL], round(attrs[am.BUDGET_SPENT], 6), attrs[am.BUDGET_LIMIT],
                          record.severity_number))
        return found

    def counts(self) -> dict[tuple[str, str, str], int]:
        """agentmon.budget.events by (scope, period, level)."""
        data = self.reader.get_metrics_data()
        counts: dict[tuple[str, str, str], int] = {}
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name != sm.BUDGET_EVENTS:
                        continue
                    assert metric.unit == sm.UNIT_EVENTS
                    for point in metric.data.data_points:
                        attrs = dict(point.attributes)
                        assert set(attrs) == {am.BUDGET_SCOPE, am.BUDGET_PERIOD, am.BUDGET_LEVEL}
                        key = (attrs[am.BUDGET_SCOPE], attrs[am.BUDGET_PERIOD], attrs[am.BUDGET_LEVEL])
                        counts[key] = point.value
        return counts


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def clock() -> Clock:
    return Clock(utc(2026, 3, 10, 12, 0, 0))


@pytest.fixture
def make_tracker(tmp_path, telemetry, clock):
    """Trackers with in-memory telemetry and the test clock, closed at the end of the test."""
    made: list[BudgetTracker] = []

    def make(*entries: Budget, mode: str = budgets.MODE_OBSERVE, state_file: str | os.PathLike | None = None,
             persist: bool = True, flush_interval: float = 3600.0, tel: Telemetry | None = None) -> BudgetTracker:
        config = BudgetsConfig(entries, mode, os.fspath(state_file or tmp_path / "budgets.json"))
        tel = tel or telemetry
        tracker = BudgetTracker(config, persist=persist, meter_provider=tel.meter_provider,
                                logger_provider=tel.logger_provider, clock=clock, flush_interval=flush_interval)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close()


@pytest.fixture
def global_budgets():
    """Let a test configure the process-wide budgets; restore 'not loaded yet' afterwards."""
    _global._install(None)
    _global._loaded = False
    yield
    _global._install(None)
    _global._loaded = False


def write(tmp_path: Path, text: str, name: str = "budgets.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


# --- the file -------------------------------------------------------------------------------


def test_example_file(tmp_path):
    config = load_budgets(write(tmp_path, EXAMPLE))
    assert config.mode == budgets.MODE_ENFORCE and config.enforce
    assert config.budgets == (
        Budget(DEPARTMENT, "research", daily=50.0, monthly=1000.0),
        Budget(USER, "alice@example.com", daily=5.0),
    )
    # a relative state file is relative to the budgets file, not to the working directory
    assert config.state_file == str(tmp_path / "state" / "budgets.json")


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    config = parse_budgets("budgets:\n  - user: carol\n    monthly: 20\n")
    assert config.mode == budgets.MODE_OBSERVE and not config.enforce
    assert config.state_file == str(tmp_path / "xdg" / "otel-agentmon" / "budgets.json")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = parse_budgets("budgets: []\nstate_file: ~/b.json\n")
    assert config.budgets == ()
    assert config.state_file == str(tmp_path / "home" / "b.json")
    assert parse_budgets("").budgets == ()


BAD_FILES = [
    # (file text, line, words the message must contain)
    ("budgets: []\nlimit: 5\n", 2, ["unknown key 'limit'", "budgets"]),
    ("budgets:\n  - user: a\n    dialy: 5\n", 3, ["unknown key 'dialy'", "daily"]),
    ("budgets:\n  - user: a\n    daily: -5\n", 3, ["daily", "positive", "-5"]),
    ("budgets:\n  - user: a\n    monthly: 0\n", 3, ["monthly", "positive"]),
    ("budgets:\n  - user: a\n    daily: fifty\n", 3, ["daily", "number", "'fifty'"]),
    ("budgets:\n  - user: a\n    daily: '50'\n", 3, ["daily", "number", "'50'"]),
    ("budgets:\n  - user: a\n    daily: true\n", 3, ["daily", "number"]),
    ("budgets:\n  - user: a\n    daily: .nan\n", 3, ["daily", "positive"]),
    ("budgets:\n  - user: a\n    daily: .inf\n", 3, ["daily", "positive"]),
    ("budgets:\n  - user: a\n    daily: [1, 2]\n", 3, ["daily", "single value"]),
    ("budgets:\n  - user: a\n    department: b\n    daily: 1\n", 2, ["exactly one of user or department", "both"]),
    ("budgets:\n  - daily: 1\n", 2, ["exactly one of user or department", "neither"]),
    ("budgets:\n  - user: a\n", 2, ["daily and/or monthly"]),
    ("budgets:\n  - user: a\n    daily: 1\n  - user: b\n    daily: 1\n  - user: a\n    monthly: 9\n", 6,
     ["second budget for user 'a'", "line 2"]),
    ("budgets:\n  - department: x\n    daily: 1\n    daily: 2\n", 4, ["daily given twice", "line 3"]),
    ("budgets:\n  - user: 42\n    daily: 1\n", 2, ["user must be a non-empty string", "quote"]),
    ("budgets:\n  - user: ''\n    daily: 1\n", 2, ["user must be a non-empty string"]),
    ("mode: strict\nbudgets: []\n", 1, ["mode must be observe or enforce", "'strict'"]),
    ("budgets: []\nmode: [enforce]\n", 2, ["mode must be a single value"]),
    ("budgets: {user: a}\n", 1, ["'budgets' must be a list"]),
    ("budgets:\n  - alice\n", 2, ["each budget must be a mapping"]),
    ("mode: enforce\n", 1, ["missing 'budgets'"]),
    ("- user: a\n", 1, ["expected a mapping"]),
    ("budgets:\n  - user: a\n    daily: 1\n   monthly: 2\n", 4, ["not valid YAML"]),
    ("budgets: []\nstate_file: ''\n", 2, ["state_file must be a non-empty string"]),
]


@pytest.mark.parametrize(("text", "line", "words"), BAD_FILES)
def test_bad_file_names_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(BudgetsFileError) as caught:
        load_budgets(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    for word in words:
        assert word in message, message
    assert isinstance(caught.value, ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(BudgetsFileError, match=r"absent\.yaml: cannot read budgets file"):
        load_budgets(tmp_path / "absent.yaml")


def test_config_checks_values_given_in_code():
    with pytest.raises(ValueError, match="positive"):
        Budget(USER, "a", daily=-1)
    with pytest.raises(ValueError, match="neither daily nor monthly"):
        Budget(USER, "a")
    with pytest.raises(ValueError, match="scope"):
        Budget("team", "a", daily=1)
    with pytest.raises(ValueError, match="two budgets"):
        BudgetsConfig((Budget(USER, "a", daily=1), Budget(USER, "a", monthly=1)))
    with pytest.raises(ValueError, match="mode"):
        BudgetsConfig(mode="strict")


def test_validate_budgets_env(tmp_path):
    assert budgets.validate_budgets_env({}) is None
    assert budgets.validate_budgets_env({budgets.AGENTMON_BUDGETS_FILE: "  "}) is None
    good = write(tmp_path, EXAMPLE)
    assert budgets.validate_budgets_env({budgets.AGENTMON_BUDGETS_FILE: good}).enforce
    bad = write(tmp_path, "budgets:\n  - user: a\n    daily: -1\n", "bad.yaml")
    with pytest.raises(otel_agentmon.ConfigurationError) as caught:
        budgets.validate_budgets_env({budgets.AGENTMON_BUDGETS_FILE: bad})
    assert str(caught.value).startswith(f"AGENTMON_BUDGETS_FILE: {bad}:3: daily must be a positive number")


def test_bad_env_file_is_reported_once_at_first_use(tmp_path, monkeypatch, caplog, global_budgets):
    bad = write(tmp_path, "budgets:\n  - user: alice@example.com\n    daily: lots\n")
    monkeypatch.setenv(budgets.AGENTMON_BUDGETS_FILE, bad)
    with caplog.at_level(logging.ERROR, logger="otel_agentmon"):
        for _ in range(3):
            budgets.check_budget(ALICE)  # never raises inside a request
            budgets.record_spend(ALICE, 100.0)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert f"{bad}:3: daily must be a number" in errors[0].getMessage()
    assert "budgets are off" in errors[0].getMessage()
    assert budgets.budget_status() == []


# --- observe and enforce --------------------------------------------------------------------


def test_observe_mode_alerts_but_never_refuses(make_tracker, telemetry, caplog):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5))
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        tracker.record(ALICE, 6.0)
    tracker.check(ALICE)  # observe: no error however far over
    assert [e[3] for e in telemetry.events()] == [WARNING, CRITICAL]
    assert "observe mode: model calls continue" in caplog.records[-1].getMessage()


def test_enforce_mode_refuses_at_100_percent(make_tracker):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5), mode=budgets.MODE_ENFORCE)
    tracker.check(ALICE)
    tracker.record(ALICE, 4.99)
    tracker.check(ALICE)  # 99.8%: still allowed
    tracker.record(ALICE, 0.01)  # exactly 100%
    with pytest.raises(BudgetExceededError) as caught:
        tracker.check(ALICE)
    error = caught.value
    assert (error.scope, error.owner, error.period, error.period_start) == (USER, "alice@example.com", DAILY,
                                                                             "2026-03-10")
    assert (error.spent_usd, error.limit_usd) == (5.0, 5.0)
    message = str(error)
    for words in ("user 'alice@example.com'", "daily budget", "2026-03-10", "spent $5.00 of $5.00", "not made"):
        assert words in message, message
    tracker.check(NOBODY)
    tracker.check(Attribution(user_id="someone-else"))


def test_department_budget_covers_its_users(make_tracker):
    tracker = make_tracker(Budget(DEPARTMENT, "research", monthly=10), mode=budgets.MODE_ENFORCE)
    tracker.record(BOB_RESEARCH, 7.5)
    tracker.record(Attribution(user_id="carol", department="research"), 2.5)
    with pytest.raises(BudgetExceededError, match=r"department 'research' has used up its monthly budget "
                                                  r"for 2026-03 \(UTC\): spent \$10.00 of \$10.00"):
        tracker.check(Attribution(user_id="dave", department="research"))
    tracker.check(Attribution(user_id="dave", department="sales"))


def test_error_is_categorized_and_picklable(make_tracker):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=1), mode=budgets.MODE_ENFORCE)
    tracker.record(ALICE, 2)
    with pytest.raises(BudgetExceededError) as caught:
        tracker.check(ALICE)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value) and copy.owner == "alice@example.com"
    assert not isinstance(caught.value, ValueError)
    assert categorize({ga.ERROR_TYPE: type(caught.value).__name__}, True) is ErrorCategory.BUDGET_EXCEEDED


# --- events ----------------------------------------------------------------------------------


def test_warning_and_critical_events_exactly_once(make_tracker, telemetry, caplog):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5))
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        tracker.record(ALICE, 3.9)  # 78%
        assert telemetry.events() == []
        tracker.record(ALICE, 0.1)  # 80%
        tracker.record(ALICE, 0.5)  # 90%
        tracker.sync()
        tracker.record(ALICE, 0.5)  # 100%
        tracker.record(ALICE, 1.0)  # 120%
        tracker.sync()
    assert telemetry.events() == [
        (USER, "alice@example.com", DAILY, WARNING, 4.0, 5.0, SeverityNumber.WARN),
        (USER, "alice@example.com", DAILY, CRITICAL, 5.0, 5.0, SeverityNumber.ERROR),
    ]
    records = telemetry.logs.get_finished_logs()
    assert [r.log_record.severity_text for r in records] == ["WARN", "ERROR"]
    assert "has spent $4.00 of its daily budget of $5.00 (80%) for 2026-03-10" in records[0].log_record.body
    assert telemetry.counts() == {(USER, DAILY, WARNING): 1, (USER, DAILY, CRITICAL): 1}
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in lines] == [logging.WARNING, logging.ERROR]
    assert "budget warning: user 'alice@example.com'" in lines[0][1]
    assert "budget critical" in lines[1][1]


def test_one_jump_past_both_levels_gives_both_events(make_tracker, telemetry):
    tracker = make_tracker(Budget(DEPARTMENT, "research", daily=50, monthly=1000))
    tracker.record(BOB_RESEARCH, 60)
    assert telemetry.events() == [
        (DEPARTMENT, "research", DAILY, WARNING, 60.0, 50.0, SeverityNumber.WARN),
        (DEPARTMENT, "research", DAILY, CRITICAL, 60.0, 50.0, SeverityNumber.ERROR),
    ]
    tracker.record(BOB_RESEARCH, 740)  # 800 of the monthly 1000
    assert telemetry.events()[2:] == [
        (DEPARTMENT, "research", MONTHLY, WARNING, 800.0, 1000.0, SeverityNumber.WARN),
    ]
    assert telemetry.counts() == {
        (DEPARTMENT, DAILY, WARNING): 1, (DEPARTMENT, DAILY, CRITICAL): 1, (DEPARTMENT, MONTHLY, WARNING): 1,
    }


def test_user_and_department_budgets_count_the_same_spend(make_tracker, telemetry):
    tracker = make_tracker(Budget(USER, "bob", daily=1), Budget(DEPARTMENT, "research", daily=100))
    tracker.record(BOB_RESEARCH, 0.9)
    status = {(s.scope, s.owner, s.period): s for s in tracker.status()}
    assert status[(USER, "bob", DAILY)].fraction == pytest.approx(0.9)
    assert status[(DEPARTMENT, "research", DAILY)].spent_usd == pytest.approx(0.9)
    assert [e[:4] for e in telemetry.events()] == [(USER, "bob", DAILY, WARNING)]


def test_unusable_amounts_are_ignored(make_tracker, caplog):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5))
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        for amount in (float("nan"), float("inf"), -1.0, "3", None, 0.0):
            tracker.record(ALICE, amount)  # type: ignore[arg-type]
    assert [s.spent_usd for s in tracker.status()] == [0.0]
    assert len([r for r in caplog.records if "budget spend" in r.getMessage()]) == 1


# --- periods ---------------------------------------------------------------------------------


def test_day_and_month_rollover(make_tracker, telemetry, clock):
    clock.set(utc(2026, 3, 31, 23, 59, 59))
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5, monthly=8), mode=budgets.MODE_ENFORCE)
    tracker.record(ALICE, 5)
    with pytest.raises(BudgetExceededError, match="daily budget for 2026-03-31"):
        tracker.check(ALICE)

    clock.set(utc(2026, 4, 1, 0, 0, 1))  # a new day and a new month
    tracker.check(ALICE)
    tracker.record(ALICE, 1, when=utc(2026, 3, 31, 23, 59, 59))  # late spend for an ended day: dropped
    tracker.record(ALICE, 4, when=utc(2026, 4, 1, 0, 0, 2))
    assert {(s.period, s.period_start): s.spent_usd for s in tracker.status()} == {
        (DAILY, "2026-04-01"): 4.0, (MONTHLY, "2026-04"): 4.0,
    }
    # the new day gets its own warning (the one of 2026-03-31 was already emitted)
    assert [(e[2], e[3], e[4]) for e in telemetry.events()] == [
        (DAILY, WARNING, 5.0), (DAILY, CRITICAL, 5.0), (DAILY, WARNING, 4.0),
    ]

    for day in (2, 3):  # the monthly budget outlasts the day
        clock.set(utc(2026, 4, day, 9))
        tracker.record(ALICE, 2)
    with pytest.raises(BudgetExceededError, match="monthly budget for 2026-04 .*spent \\$8.00 of \\$8.00"):
        tracker.check(ALICE)
    clock.set(utc(2026, 4, 30, 23, 59))
    with pytest.raises(BudgetExceededError, match="monthly"):
        tracker.check(ALICE)
    clock.set(utc(2026, 5, 1))
    tracker.check(ALICE)


def test_when_decides_the_period_and_naive_is_utc(make_tracker, clock):
    clock.set(utc(2026, 3, 10, 23, 30))
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=100))
    tracker.record(ALICE, 1, when=dt.datetime(2026, 3, 10, 23, 45))  # naive: UTC
    tracker.record(ALICE, 2, when=dt.datetime(2026, 3, 11, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=3))))
    tracker.record(ALICE, 4, when=utc(2026, 3, 11, 0, 30))  # tomorrow: kept until its day comes
    assert tracker.status()[0].spent_usd == 3.0
    clock.set(utc(2026, 3, 11, 8))
    assert tracker.status()[0].spent_usd == 4.0


def test_spend_stamped_tomorrow_does_not_lift_todays_block(make_tracker, clock):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5), mode=budgets.MODE_ENFORCE)
    tracker.record(ALICE, 5)
    tracker.record(ALICE, 6, when=utc(2026, 3, 11, 0, 0, 1))  # a clock a little ahead elsewhere
    with pytest.raises(BudgetExceededError, match="2026-03-10"):
        tracker.check(ALICE)
    clock.set(utc(2026, 3, 11, 0, 0, 2))
    with pytest.raises(BudgetExceededError, match="2026-03-11.*spent \\$6.00"):
        tracker.check(ALICE)


def test_old_periods_are_pruned_from_the_state_file(make_tracker, clock, tmp_path):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5, monthly=50))
    tracker.record(ALICE, 4.5)
    tracker.sync()
    stored = json.loads((tmp_path / "budgets.json").read_text())
    assert stored["format"] == 1
    assert sorted(row[3] for row in stored["totals"]) == ["2026-03", "2026-03-10"]
    assert stored["alerts"] == [[USER, "alice@example.com", DAILY, "2026-03-10", WARNING]]
    clock.set(utc(2026, 3, 11, 1))
    tracker.record(ALICE, 1)
    tracker.sync()
    stored = json.loads((tmp_path / "budgets.json").read_text())
    assert sorted((row[3], row[4]) for row in stored["totals"]) == [("2026-03", 5_500_000_000),
                                                                    ("2026-03-11", 1_000_000_000)]
    assert stored["alerts"] == []


# --- restart and sharing ---------------------------------------------------------------------


def test_totals_and_events_survive_a_restart(make_tracker, telemetry, tmp_path):
    alice = Budget(USER, "alice@example.com", daily=5)
    first = make_tracker(alice, mode=budgets.MODE_ENFORCE)
    first.record(ALICE, 4.5)
    first.close()  # at exit: pending spend is written
    assert len(telemetry.events()) == 1

    second = make_tracker(alice, mode=budgets.MODE_ENFORCE)
    assert second.status()[0].spent_usd == 4.5
    second.check(ALICE)
    second.record(ALICE, 0.5)
    with pytest.raises(BudgetExceededError):
        second.check(ALICE)
    # the warning was emitted before the restart: only the critical event is new
    assert [e[3] for e in telemetry.events()] == [WARNING, CRITICAL]

    third = make_tracker(alice, mode=budgets.MODE_ENFORCE)
    with pytest.raises(BudgetExceededError):  # blocked from the first check after start
        third.check(ALICE)


def test_other_processes_spend_blocks_here_after_a_refresh(make_tracker, tmp_path):
    alice = Budget(USER, "alice@example.com", daily=5)
    here = make_tracker(alice, mode=budgets.MODE_ENFORCE, flush_interval=0.02)
    elsewhere = make_tracker(alice, mode=budgets.MODE_ENFORCE, tel=Telemetry())
    here.check(ALICE)  # starts the refresh thread
    elsewhere.record(ALICE, 5)
    elsewhere.sync()
    deadline = dt.datetime.now() + dt.timedelta(seconds=5)
    while dt.datetime.now() < deadline:
        try:
            here.check(ALICE)
        except BudgetExceededError:
            break
        threading.Event().wait(0.01)
    else:
        pytest.fail("spend written by another tracker never reached this one")


def test_corrupt_state_file_starts_from_zero(make_tracker, tmp_path, caplog):
    (tmp_path / "budgets.json").write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        tracker = make_tracker(Budget(USER, "alice@example.com", daily=5))
    assert any("not valid JSON" in r.getMessage() for r in caplog.records)
    tracker.record(ALICE, 1)
    tracker.sync()
    assert json.loads((tmp_path / "budgets.json").read_text())["totals"]


def test_unwritable_state_keeps_totals_in_memory(make_tracker, tmp_path, caplog, telemetry):
    (tmp_path / "not-a-dir").write_text("", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="otel_agentmon"):
        tracker = make_tracker(Budget(USER, "alice@example.com", daily=5), mode=budgets.MODE_ENFORCE,
                               state_file=tmp_path / "not-a-dir" / "budgets.json")
        tracker.record(ALICE, 3)
        tracker.record(ALICE, 3)
        assert not tracker.sync()
    with pytest.raises(BudgetExceededError):
        tracker.check(ALICE)
    warnings = [r for r in caplog.records if "cannot update the budget state file" in r.getMessage()]
    assert len(warnings) == 1
    assert tracker.status()[0].spent_usd == 6.0
    tracker.sync()
    # the events still go out, once each
    assert [e[3] for e in telemetry.events()] == [WARNING, CRITICAL]


def test_events_emitted_while_the_store_failed_are_not_repeated(make_tracker, tmp_path, telemetry):
    blocker = tmp_path / "later"
    blocker.write_text("", encoding="utf-8")  # a file where the state directory should be
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5), state_file=blocker / "budgets.json")
    tracker.record(ALICE, 4.5)
    assert [e[3] for e in telemetry.events()] == [WARNING]
    blocker.unlink()  # the directory can be created now
    assert tracker.sync()
    tracker.record(ALICE, 0.5)
    assert [e[3] for e in telemetry.events()] == [WARNING, CRITICAL]
    stored = json.loads((blocker / "budgets.json").read_text())
    assert sorted(row[4] for row in stored["alerts"]) == [CRITICAL, WARNING]
    assert stored["totals"][0][4] == 5_000_000_000


def test_memory_only_tracker(make_tracker, telemetry, tmp_path):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=5), persist=False, mode=budgets.MODE_ENFORCE)
    tracker.record(ALICE, 5)
    with pytest.raises(BudgetExceededError):
        tracker.check(ALICE)
    assert [e[3] for e in telemetry.events()] == [WARNING, CRITICAL]
    assert not (tmp_path / "budgets.json").exists()


# --- concurrency -----------------------------------------------------------------------------


def test_many_threads_give_exact_totals_and_single_events(make_tracker, telemetry, tmp_path):
    tracker = make_tracker(Budget(USER, "alice@example.com", daily=3), Budget(DEPARTMENT, "research", daily=1000),
                           flush_interval=0.005)
    people = [Attribution(user_id="alice@example.com", department="research"), BOB_RESEARCH]
    start = threading.Barrier(64)

    def work(index: int) -> None:
        start.wait()
        for _ in range(100):
            tracker.record(people[index % 2], 0.001)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    status = {(s.scope, s.owner): s.spent_usd for s in tracker.status()}
    assert status == {(USER, "alice@example.com"): 3.2, (DEPARTMENT, "research"): 6.4}
    stored = {(row[0], row[1]): row[4] for row in json.loads((tmp_path / "budgets.json").read_text())["totals"]
              if row[2] == DAILY}
    assert stored == {(USER, "alice@example.com"): 3_200_000_000, (DEPARTMENT, "research"): 6_400_000_000}
    # alice crosses 80% (2.4) and 100% (3.0) while 64 threads record: one event each
    events = telemetry.events()
    assert [e[:4] for e in events] == [(USER, "alice@example.com", DAILY, WARNING),
                                       (USER, "alice@example.com", DAILY, CRITICAL)]
    assert events[0][4] >= 2.4 and events[1][4] >= 3.0
    assert telemetry.counts() == {(USER, DAILY, WARNING): 1, (USER, DAILY, CRITICAL): 1}


def test_two_trackers_share_one_state_file(make_tracker, tmp_path):
    """Separate open files of one lock file exclude each other like separate processes do."""
    alice = Budget(USER, "alice@example.com", monthly=1_000_000)
    trackers = [make_tracker(alice, flush_interval=0.002, tel=Telemetry()) for _ in range(2)]

    def work(tracker: BudgetTracker) -> None:
        for _ in range(2000):
            tracker.record(ALICE, 0.25)
            if _ % 100 == 0:
                tracker.sync()

    threads = [threading.Thread(target=work, args=(t,)) for t in trackers for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for tracker in trackers:
        tracker.close()
    reader = make_tracker(alice)
    assert reader.status()[0].spent_usd == 2 * 2 * 2000 * 0.25


PROCESS_SCRIPT = """
import sys
from otel_agentmon._attribution import Attribution
from otel_agentmon.budgets import Budget, BudgetsConfig, BudgetTracker

config = BudgetsConfig((Budget("user", "alice@example.com", monthly=1e9),), "observe", sys.argv[1])
tracker = BudgetTracker(config, flush_interval=0.001)
print("ready", flush=True)
sys.stdin.readline()  # start together
who = Attribution(user_id="alice@example.com")
for i in range(int(sys.argv[2])):
    tracker.record(who, 0.001)
    if i % 100 == 0:
        tracker.sync()  # many read-modify-writes, interleaved with the other process's
# no close(): the spend still pending is written at exit
"""


@pytest.mark.slow
def test_two_processes_add_to_one_total(tmp_path):
    state = tmp_path / "shared" / "budgets.json"
    calls = 20_000
    processes = [
        subprocess.Popen([sys.executable, "-c", PROCESS_SCRIPT, str(state), str(calls)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout.readline() == "ready\n", process.stderr.read()
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    config = BudgetsConfig((Budget(USER, "alice@example.com", monthly=1e9),), budgets.MODE_OBSERVE, str(state))
    reader = BudgetTracker(config)  # on the real clock, as the processes were
    try:
        assert reader.status()[0].spent_usd == 2 * calls * 0.001
    finally:
        reader.close()
    rows = json.loads(state.read_text())["totals"]
    assert [row[4] for row in rows if row[2] == MONTHLY] == [2 * calls * 1_000_000]


# --- the process-wide functions ---------------------------------------------------------------


def test_module_functions_with_attribution_context(tmp_path, monkeypatch, global_budgets):
    path = write(tmp_path, """\
        mode: enforce
        budgets:
          - user: alice@example.com
            daily: 5
          - department: research
            monthly: 100
    """)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv(budgets.AGENTMON_BUDGETS_FILE, path)
    with attribution(user_id="alice@example.com", department="research"):
        who = current_attribution()
        budgets.check_budget(who)  # reads AGENTMON_BUDGETS_FILE at first use
        budgets.record_spend(who, 5.0)
        with pytest.raises(BudgetExceededError, match="alice@example.com"):
            budgets.check_budget(current_attribution())
    budgets.check_budget(current_attribution())  # outside the block: nobody's budget
    report = {(s.scope, s.period): (s.spent_usd, s.limit_usd, s.fraction) for s in budgets.budget_status()}
    assert report == {(USER, DAILY): (5.0, 5.0, 1.0), (DEPARTMENT, MONTHLY): (5.0, 100.0, 0.05)}
    budgets.flush_budgets()
    assert (tmp_path / "state" / "otel-agentmon" / "budgets.json").is_file()

    # configure_budgets replaces the tracker: from a path, from a config, or off
    other = write(tmp_path, "budgets:\n  - user: alice@example.com\n    daily: 50\n", "other.yaml")
    tracker = budgets.configure_budgets(other)
    assert tracker is not None and not tracker.config.enforce
    budgets.check_budget(ALICE)
    assert budgets.configure_budgets(BudgetsConfig()) is None
    assert budgets.budget_status() == []
    with pytest.raises(BudgetsFileError):
        budgets.configure_budgets(write(tmp_path, "budgets: 5\n", "bad.yaml"))
    monkeypatch.setenv(budgets.AGENTMON_BUDGETS_FILE, str(tmp_path / "bad.yaml"))
    with pytest.raises(otel_agentmon.ConfigurationError, match="AGENTMON_BUDGETS_FILE: .*bad.yaml:1"):
        budgets.configure_budgets()


def test_check_without_budgets_is_a_no_op(global_budgets, monkeypatch):
    monkeypatch.delenv(budgets.AGENTMON_BUDGETS_FILE, raising=False)
    budgets.check_budget(ALICE)
    budgets.record_spend(ALICE, 1e6)
    assert budgets.budget_status() == []
