"""The operation-id rule of DESIGN.md, in one place, so ids never drift between parts."""

import re

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def snake(text: str) -> str:
    """`getTagsByIds` / `get-tags-by-ids` / `social-media-posting` -> snake_case."""
    text = _CAMEL_BOUNDARY.sub("_", text)
    text = _NON_ALNUM.sub("_", text)
    return text.strip("_").lower()


def operation_id(app_stem: str, spec_operation_id: str) -> str:
    """`<app>.<operation>` from a spec file stem and an operationId."""
    return f"{snake(app_stem)}.{snake(spec_operation_id)}"
