"""Redaction of captured content: recall and false positives on the labelled corpus, throughput.

Run: ``python bench/bench_redaction.py`` (``--markdown`` prints the table for docs/reliability.md).

1. Recall per detector: the fraction of labelled secrets in ``tests/redaction_corpus.yaml``
   (``positives``) that ``redact`` removes, with the corpus policy (its allow list).
2. False positives: the fraction of the corpus ``negatives`` that ``redact`` alters at all.
3. Known misses and known false positives: the documented cases, how many still occur.
4. Throughput: KB/s of text through ``redact`` for three kinds of text: plain chat prose
   (the common case: no trigger, returned as is), prose with numbers and addresses (every
   number and e-mail detector runs), and the corpus itself (dense with secrets).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from otel_agentmon.instrumentation._redaction import DETECTORS, RedactionPolicy, parse_redaction, redact

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "redaction_corpus.yaml"


def load_corpus(path: Path = CORPUS) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def corpus_policy(corpus: dict[str, Any]) -> RedactionPolicy:
    return parse_redaction({k: str(v) for k, v in (corpus.get("policy") or {}).items()})


def caught(sample: dict[str, Any], policy: RedactionPolicy) -> bool:
    out = redact(sample["text"], policy)
    return out is not None and not any(secret in out for secret in sample["secrets"])


def evaluate(corpus: dict[str, Any]) -> dict[str, Any]:
    policy = corpus_policy(corpus)
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed = []
    for sample in corpus["positives"]:
        counts = per[sample["detector"]]
        counts[1] += 1
        if caught(sample, policy):
            counts[0] += 1
        else:
            missed.append(sample)
    altered = [s for s in corpus["negatives"] if redact(s["text"], policy) != s["text"]]
    still_missed = [s for s in corpus.get("known_misses") or [] if not caught(s, policy)]
    known_fp = corpus.get("known_false_positives") or []
    still_fp = [s for s in known_fp if redact(s["text"], policy) != s["text"]]
    return {"known_fp": known_fp, "still_fp": still_fp, "per": dict(per), "missed": missed, "altered": altered, "negatives": len(corpus["negatives"]),
            "known_misses": corpus.get("known_misses") or [], "still_missed": still_missed}


_PROSE = (
    "The quarterly report shows steady growth in the northern region. Customers asked for faster "
    "delivery and clearer invoices; the team proposes a new dashboard and weekly summaries. "
)
_MIXED = (
    "Order 48213 shipped on 2024-03-02 to Jane (jane.doe@example.com), total $1,234.56, "
    "tracking 1Z999AA10123456784. Call +44 20 7946 0958 or see ticket INV-2024-000123. "
)


def throughput(text: str, policy: RedactionPolicy, seconds: float = 0.5) -> float:
    """KB/s of ``text`` through ``redact`` (one call per ~4 KB message)."""
    reps = max(1, 4096 // max(1, len(text)))
    message = text * reps
    size_kb = len(message.encode("utf-8")) / 1024
    calls = 0
    start = time.perf_counter()
    while True:
        for _ in range(20):
            redact(message + " ", policy)  # a new string each time: no cached fast path
        calls += 20
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * size_kb / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the figures as a Markdown table")
    args = parser.parse_args()
    corpus = load_corpus()
    policy = corpus_policy(corpus)
    result = evaluate(corpus)
    rows = []
    total_caught = total = 0
    for detector in DETECTORS:
        hit, count = result["per"].get(detector, (0, 0))
        total_caught += hit
        total += count
        rows.append((detector, f"{hit}/{count}", f"{hit / count:.0%}" if count else "-"))
    rows.append(("overall", f"{total_caught}/{total}", f"{total_caught / total:.0%}"))
    negatives = result["negatives"]
    fp = len(result["altered"])
    speeds = [
        ("plain prose", throughput(_PROSE, policy)),
        ("prose with numbers and e-mails", throughput(_MIXED, policy)),
        ("the corpus (dense with secrets)", throughput("\n".join(s["text"] for s in corpus["positives"]), policy)),
    ]
    if args.markdown:
        print("| Detector | Secrets caught | Recall |")
        print("|---|---|---|")
        for name, ratio, pct in rows:
            print(f"| {name} | {ratio} | {pct} |")
        print()
        print(f"False positives: {fp}/{negatives} hard negatives altered ({fp / negatives:.1%}).")
        print(f"Known misses: {len(result['still_missed'])}/{len(result['known_misses'])} still missed; "
              f"known false positives: {len(result['still_fp'])}/{len(result['known_fp'])} still altered.")
        print()
        print("| Text | Throughput |")
        print("|---|---|")
        for name, speed in speeds:
            print(f"| {name} | {speed:,.0f} KB/s |")
        return
    print(f"corpus: {CORPUS.name}: {total} positives, {negatives} negatives, {len(result['known_misses'])} known misses")
    print(f"{'detector':<14}{'caught':>10}{'recall':>9}")
    for name, ratio, pct in rows:
        print(f"{name:<14}{ratio:>10}{pct:>9}")
    print(f"false positives: {fp}/{negatives} ({fp / negatives:.1%})")
    print(f"known misses still missed: {len(result['still_missed'])}/{len(result['known_misses'])}")
    print(f"known false positives still altered: {len(result['still_fp'])}/{len(result['known_fp'])}")
    for sample in result["missed"]:
        print(f"  MISSED [{sample['detector']}] {sample['text']!r} -> {redact(sample['text'], policy)!r}")
    for sample in result["altered"]:
        print(f"  ALTERED [{sample['kind']}] {sample['text']!r} -> {redact(sample['text'], policy)!r}")
    for sample in corpus.get("known_misses") or []:
        if sample not in result["still_missed"]:
            print(f"  NOW CAUGHT (move to positives) [{sample['detector']}] {sample['text']!r}")
    for name, speed in speeds:
        print(f"throughput, {name}: {speed:,.0f} KB/s")


if __name__ == "__main__":
    main()
