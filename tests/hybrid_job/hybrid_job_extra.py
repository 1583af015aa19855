"""A module a hybrid job gets only through ``include_modules``."""

EXTRA = 7
