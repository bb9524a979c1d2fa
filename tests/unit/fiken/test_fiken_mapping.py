"""Fiken mapping rules that the chaos run showed need to be exact."""

from __future__ import annotations

from momentsync.connectors.fiken.mapping import is_credit_note_text_of


def test_a_credit_note_text_names_exactly_one_moment_credit_note() -> None:
    assert is_credit_note_text_of("Moment-kreditnota 2", 2)
    assert not is_credit_note_text_of("Moment-kreditnota 23", 2)
    assert not is_credit_note_text_of(None, 2)
