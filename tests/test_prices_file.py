"""A bad prices file is reported at load with its path and line."""

from __future__ import annotations

import pytest

from otel_agentmon.processors import PricesFileError, load_prices_file, parse_prices


def test_valid_file_loads(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("prices:\n  - model: a\n    input_mtok: 1\n    output_mtok: 2.5\n")
    (price,) = load_prices_file(path)
    assert price.model == "a"
    assert price.rates.output.base == pytest.approx(2.5e-6)


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("prices:\n  - model: a\n    input_mtok: [1\n", 4, "not valid YAML"),
        ("prices:\n  - model: a\n    input_mtok: -1\n    output_mtok: 1\n", 3, "non-negative"),
        ("prices:\n  - model: a\n    input_mtok: 1\n    output_mtok: cheap\n", 4, "must be a number"),
        ("prices:\n  - model: a\n    input_mtok: 1\n    output_mtok: '1.0'\n", 4, "must be a number"),
        ("prices:\n  - model: a\n    input_mtok: .nan\n    output_mtok: 1\n", 3, "finite"),
        ("prices:\n  - model: a\n    input_mtok: 1\n    output_mtok: 1\n    imput_mtok: 1\n", 5, "unknown key 'imput_mtok'"),
        ("prices:\n  - model: a\n    input_mtok: 1\n", 2, "missing output_mtok"),
        ("prices:\n  - input_mtok: 1\n    output_mtok: 1\n", 2, "exactly one of model or model_prefix"),
        ("models:\n  - model: a\n", 1, "unknown key 'models'"),
        ("prices: 3\n", 1, "must be a list"),
        ("- a\n", 1, "expected a mapping"),
    ],
)
def test_bad_file_names_file_and_line(tmp_path, text, line, fragment):
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(PricesFileError) as info:
        load_prices_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}"), message
    assert fragment in message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(PricesFileError, match="nope.yaml: cannot read prices file"):
        load_prices_file(tmp_path / "nope.yaml")


def test_empty_file_means_no_custom_prices():
    assert parse_prices("") == ()
    assert parse_prices("prices:\n") == ()
