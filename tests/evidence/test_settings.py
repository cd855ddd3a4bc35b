"""The evidence settings, read from the environment as an operator writes them."""

import pytest
from pydantic import ValidationError

from app.config import Settings


@pytest.mark.parametrize(
    ("written", "days"),
    [("1,7,30,90", [1, 7, 30, 90]), (" 2, 14 ", [2, 14]), ("[3, 60]", [3, 60]), ("5", [5])],
)
def test_recheck_days_are_read_from_a_list_or_json(
    monkeypatch: pytest.MonkeyPatch, written: str, days: list[int]
) -> None:
    monkeypatch.setenv("TRACER_RECHECK_DAYS", written)

    assert Settings().recheck_days == days


@pytest.mark.parametrize("written", ["", "0,7", "1,-7", "a,b", "[1,", "1.5"])
def test_recheck_days_that_are_not_whole_days_are_refused(
    monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    monkeypatch.setenv("TRACER_RECHECK_DAYS", written)

    with pytest.raises(ValidationError, match="recheck_days"):
        Settings()


def test_the_defaults_match_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "EVIDENCE_STORE",
        "FETCH_ALLOW_PRIVATE",
        "FETCH_USER_AGENT",
        "RECHECK_DAYS",
        "CAPTURE",
    ):
        monkeypatch.delenv(f"TRACER_{name}", raising=False)

    settings = Settings()

    assert settings.evidence_store == "./evidence"
    assert settings.fetch_allow_private is False
    assert settings.recheck_days == [1, 7, 30, 90]
    assert settings.capture is True
    assert settings.fetch_user_agent.startswith("Tracer/")
    assert "(+https://" in settings.fetch_user_agent
    assert (settings.fetch_timeout_seconds, settings.fetch_max_bytes) == (15, 20 * 2**20)
    assert (settings.fetch_max_redirects, settings.fetch_per_host) == (5, 2)
