"""Shared working-day clock: the installation calendar (official holidays and 调休, local days, the
Mon–Fri fallback), deadline arithmetic in working days/hours/minutes, warning levels, generic deadlines on
any object, and the periodic sweep with its hooks. Below every domain that has deadlines; imports no
domain app."""
