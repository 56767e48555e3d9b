"""Default calendar rows of a new installation (editable in the admin afterwards)."""

# Public holidays on a fixed solar date (《全国年节及纪念日放假办法》, as revised by 国务院令第795号 with
# effect from 2025: 劳动节 is 5月1日、2日). month, day, name, note. The lunar holidays (春节, 清明, 端午,
# 中秋) move every year and cannot be listed here.
FIXED_HOLIDAYS = [
    (1, 1, "元旦", ""),
    (5, 1, "劳动节", ""),
    (5, 2, "劳动节", "2025年起法定放假2天"),
    (10, 1, "国庆节", ""),
    (10, 2, "国庆节", ""),
    (10, 3, "国庆节", ""),
]
