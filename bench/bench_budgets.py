"""Cost of ``check_budget`` on the request thread (before each model call), and of
``record_spend`` on the recording thread, per call.

Run: ``python bench/bench_budgets.py``. Prints µs per call (median of several repeats) for:
no budgets configured; observe mode; enforce mode with nothing over budget; enforce mode with
other users and departments over budget (the dict lookups); a refused call (building and
raising BudgetExceededError); and record_spend. Goal for check_budget: a few µs at most.
Totals are kept in memory here (no state file), as between two syncs.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from typing import Callable

from otel_agentmon import budgets
from otel_agentmon._attribution import Attribution
from otel_agentmon.budgets import Budget, BudgetExceededError, BudgetsConfig, BudgetTracker
from otel_agentmon.semconv import agentmon as am


def per_call_us(call: Callable[[], object], number: int, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            call()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def tracker(mode: str, over: int) -> BudgetTracker:
    """1000 user and 50 department budgets; ``over`` of the users already at 100% today."""
    entries = [Budget(am.BudgetScope.USER, f"user-{i}", daily=5, monthly=100) for i in range(1000)]
    entries += [Budget(am.BudgetScope.DEPARTMENT, f"dept-{i}", monthly=1000) for i in range(50)]
    result = BudgetTracker(BudgetsConfig(tuple(entries), mode), persist=False, flush_interval=3600)
    for i in range(over):
        result.record(Attribution(user_id=f"user-{i}"), 5.0)
    return result


def refused(check: Callable[[Attribution], None], who: Attribution) -> Callable[[], None]:
    def call() -> None:
        try:
            check(who)
        except BudgetExceededError:
            pass
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    n, r = args.number, args.repeat
    logging.getLogger("otel_agentmon").disabled = True  # the setup's threshold events
    who = Attribution(user_id="user-999", department="dept-7", application="bench")

    budgets.configure_budgets(BudgetsConfig())  # no budgets
    rows = [("check_budget, no budgets configured", per_call_us(lambda: budgets.check_budget(who), n, r))]
    observe = tracker(budgets.MODE_OBSERVE, over=10)
    rows.append(("check, observe mode", per_call_us(lambda: observe.check(who), n, r)))
    quiet = tracker(budgets.MODE_ENFORCE, over=0)
    rows.append(("check, enforce, nothing over budget", per_call_us(lambda: quiet.check(who), n, r)))
    busy = tracker(budgets.MODE_ENFORCE, over=100)
    rows.append(("check, enforce, 100 others over budget", per_call_us(lambda: busy.check(who), n, r)))
    blocked = Attribution(user_id="user-1", department="dept-7")
    rows.append(("check, enforce, call refused (raises)", per_call_us(refused(busy.check, blocked), n // 4, r)))
    spender = tracker(budgets.MODE_ENFORCE, over=0)
    tiny = Attribution(user_id="user-500", department="dept-3")
    rows.append(("record_spend (recording thread)", per_call_us(lambda: spender.record(tiny, 1e-9), n // 4, r)))

    width = max(len(name) for name, _ in rows)
    for name, micros in rows:
        print(f"{name:<{width}}  {micros:8.3f} µs/call")
    for each in (observe, quiet, busy, spender):
        each.close()


if __name__ == "__main__":
    main()
