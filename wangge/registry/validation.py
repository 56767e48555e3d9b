"""Validation of resident ID numbers (GB 11643) and phone numbers, with values derived from them.

The check character and birth date come from python-stdnum (`stdnum.cn.ric`); landlines from
phonenumbers. Mobile numbers take a regex fast path: phonenumbers costs ~30 µs a number, which alone
would eat a third of the import budget (10,000 rows/s) for a check a pattern does as well.
"""

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import phonenumbers
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from wangge.core.errors import InvalidInput

# GB/T 2260 province-level codes (first two digits of a resident ID number).
PROVINCES = {
    "11",
    "12",
    "13",
    "14",
    "15",
    "21",
    "22",
    "23",
    "31",
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "41",
    "42",
    "43",
    "44",
    "45",
    "46",
    "50",
    "51",
    "52",
    "53",
    "54",
    "61",
    "62",
    "63",
    "64",
    "65",
    "71",
    "81",
    "82",
    "83",
    "91",
}
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_ID = re.compile(r"^\d{17}[\dX]$")


@dataclass(frozen=True)
class IdInfo:
    number: str
    birth_date: date
    sex: str  # "M" / "F"


def parse_id_number(value: str, *, today: date | None = None) -> IdInfo:
    """Validate an 18-character resident ID number; return it normalised with birth date and sex.

    Raises InvalidInput with a Chinese message that never repeats the number itself.
    """
    number = (value or "").strip().replace(" ", "").upper()
    if len(number) != 18:
        raise InvalidInput("身份证号码应为18位", code="invalid_id_length")
    if not _ID.match(number):
        raise InvalidInput("身份证号码格式错误（前17位应为数字，末位为数字或X）", code="invalid_id_format")
    if number[:2] not in PROVINCES:
        raise InvalidInput("身份证号码的地区码无效", code="invalid_id_region")
    if ric.calc_check_digit(number) != number[-1]:
        raise InvalidInput("身份证号码校验位错误", code="invalid_id_checksum")
    try:
        birth = ric.get_birth_date(number)
    except StdnumError:
        raise InvalidInput("身份证号码中的出生日期无效", code="invalid_id_birth_date")
    if birth.year < 1900 or birth > (today or date.today()):
        raise InvalidInput("身份证号码中的出生日期不合理", code="invalid_id_birth_date")
    return IdInfo(number=number, birth_date=birth, sex="M" if int(number[16]) % 2 else "F")


def normalise_phone(value: str) -> str:
    """A valid Chinese mobile or landline number, digits only (landline: area code + number)."""
    raw = (value or "").strip()
    digits = re.sub(r"[\s\-()（）]", "", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if _MOBILE.match(digits):
        return digits
    if not digits.isdigit():
        raise InvalidInput("电话号码只能包含数字", code="invalid_phone")
    if _landline_ok(digits):
        return digits
    raise InvalidInput("电话号码无效（手机号应为11位，固话需带区号）", code="invalid_phone")


@lru_cache(maxsize=4096)
def _landline_ok(digits: str) -> bool:
    try:
        parsed = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.MOBILE,
    )


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def birth_date_bounds(
    min_age: int | None, max_age: int | None, today: date
) -> tuple[date | None, date | None]:
    """Birth-date range [earliest, latest] of people whose age on `today` is within [min_age, max_age]."""
    latest = _years_before(today, min_age) if min_age is not None else None
    earliest = None
    if max_age is not None:
        # Aged <= max_age  <=>  born after (today - (max_age + 1) years).
        edge = _years_before(today, max_age + 1)
        earliest = date.fromordinal(edge.toordinal() + 1)
    return earliest, latest


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def normalise_credit_code(value: str) -> str:
    """A valid 18-character unified social credit code (统一社会信用代码, GB 32100), upper case."""
    from stdnum.cn import uscc

    code = (value or "").strip().replace(" ", "").upper()
    if len(code) != 18:
        raise InvalidInput("统一社会信用代码应为18位", code="invalid_credit_code")
    if not uscc.is_valid(code):
        raise InvalidInput("统一社会信用代码无效（格式或校验位错误）", code="invalid_credit_code")
    return code
