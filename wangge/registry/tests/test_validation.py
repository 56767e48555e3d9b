from datetime import date

import pytest

from wangge.core.errors import InvalidInput
from wangge.registry.validation import age_on, birth_date_bounds, normalise_phone, parse_id_number


def test_valid_id_with_x_check_character():
    info = parse_id_number("11010519491231002x")
    assert info.number == "11010519491231002X"
    assert info.birth_date == date(1949, 12, 31)
    assert info.sex == "F"  # 17th digit 2 is even


@pytest.mark.parametrize(
    "value,code",
    [
        ("110105194912310021", "invalid_id_checksum"),
        ("1101051949123100", "invalid_id_length"),
        ("11010519491231002A", "invalid_id_format"),
        ("991051194912310023", "invalid_id_region"),
    ],
)
def test_invalid_ids(value, code):
    with pytest.raises(InvalidInput) as err:
        parse_id_number(value)
    assert err.value.code == code
    assert value not in err.value.message


def test_impossible_birth_date_rejected():
    from stdnum.cn import ric

    body = "11010519491331002"  # month 13
    with pytest.raises(InvalidInput) as err:
        parse_id_number(body + ric.calc_check_digit(body + "0"))
    assert err.value.code == "invalid_id_birth_date"


def test_future_birth_date_rejected():
    # Valid checksum, birth date 2030-01-01.
    from stdnum.cn import ric

    body = "11010520300101001"
    number = body + ric.calc_check_digit(body + "0")
    with pytest.raises(InvalidInput):
        parse_id_number(number, today=date(2026, 1, 1))


def test_phones():
    assert normalise_phone("138-1234-5678") == "13812345678"
    assert normalise_phone("+86 13812345678") == "13812345678"
    assert normalise_phone("027-85551234") == "02785551234"
    for bad in ["12345678901", "1381234567", "abc", "", "0000"]:
        with pytest.raises(InvalidInput):
            normalise_phone(bad)


def test_age_and_bounds():
    today = date(2026, 11, 23)
    assert age_on(date(1966, 11, 23), today) == 60
    assert age_on(date(1966, 11, 24), today) == 59
    earliest, latest = birth_date_bounds(60, None, today)
    assert earliest is None and latest == date(1966, 11, 23)
    earliest, latest = birth_date_bounds(0, 2, today)  # 0-3 years old (under 3)
    assert earliest == date(2023, 11, 24) and latest == today
    assert age_on(earliest, today) == 2
