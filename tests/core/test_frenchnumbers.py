"""Figures as French readers write them: thousands, plural agreement, small shares that never
read « 0 % », with their raw numbers; the map's legend built on the same helpers."""

from __future__ import annotations

from campaign.core.frenchnumbers import NBSP, NNBSP, count_of, number, percent, plural, share_of
from campaign.territories.map import ColorClass, class_label, color_classes, french_percent


def test_thousands_take_a_narrow_no_break_space() -> None:
    assert number(0) == "0"
    assert number(985) == "985"
    assert number(3985) == f"3{NNBSP}985"
    assert number(1234567) == f"1{NNBSP}234{NNBSP}567"


def test_nouns_agree_with_their_count() -> None:
    assert count_of(0, "élu signataire") == "0 élu signataire"
    assert count_of(1, "élu signataire") == "1 élu signataire"
    assert count_of(2, "élu signataire") == "2 élus signataires"
    assert count_of(3985, "commune") == f"3{NNBSP}985 communes"
    assert plural(2, "a", "ont") == "ont"
    assert plural(1, "a", "ont") == "a"


def test_small_shares_never_read_zero() -> None:
    assert percent(None) == "—"
    assert percent(0) == f"0{NBSP}%"
    assert percent(0.125) == f"12,5{NBSP}%"
    assert percent(1) == f"100{NBSP}%"
    assert percent(0.01) == f"1{NBSP}%"
    assert percent(1 / 3985) == f"0,3{NBSP}‰"
    assert percent(0.005) == f"5{NBSP}‰"
    assert percent(1 / 35000) == f"moins de 0,1{NBSP}‰"
    assert percent(0.9999) == f"plus de 99,9{NBSP}%"
    assert french_percent(1 / 3985) == f"0,3{NNBSP}‰"


def test_a_share_comes_with_its_raw_numbers() -> None:
    assert share_of(1, 3985, "commune") == f"0,3{NBSP}‰ (1 commune sur 3{NNBSP}985)"
    assert share_of(5, 40, "commune") == f"12,5{NBSP}% (5 communes sur 40)"
    assert share_of(0, 0, "commune") == "—"


def test_a_legend_of_small_shares_reads_meaningfully() -> None:
    one = color_classes([1 / 3985])
    assert class_label(0, one, french_percent) == f"0,3{NNBSP}‰ et plus"
    tiny = [ColorClass(1 / 40000, 1 / 30000, "#000")]
    assert class_label(0, tiny, french_percent) == f"moins de 0,1{NNBSP}‰"
    several = color_classes([0.0002, 0.001, 0.004, 0.02, 0.05, 0.2])
    labels = [class_label(i, several, french_percent) for i in range(len(several))]
    assert not any(label.startswith("0" + NNBSP) or "moins de moins" in label for label in labels)
    assert labels[-1].endswith("et plus")
