"""How the diagnosis states numbers."""

from __future__ import annotations

import pytest

from losswatch.monitor.diagnostics.wording import pct


@pytest.mark.parametrize(
    ("fraction", "signed", "said"),
    [
        pytest.param(6.3e-16, False, "0%", id="float-residue-is-0"),
        pytest.param(-6.3e-16, True, "0%", id="negative-residue-has-no-sign"),
        pytest.param(2e-9, False, "2e-07%", id="a-tiny-share-is-kept"),
        pytest.param(0.0074, False, "0.74%", id="two-digits-below-1pct"),
        pytest.param(-0.035, True, "−3.5%", id="signed"),
        pytest.param(None, True, "?", id="unknown"),
    ],
)
def test_pct_states_a_share(fraction: float | None, signed: bool, said: str) -> None:
    assert pct(fraction, signed=signed) == said
