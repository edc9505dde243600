"""The JSON Schema of a recipe, generated from the model in `recipe.py` (one source of truth).

`ghlbridge flows schema` prints it; editors can use it for completion and checking. Rules a
schema cannot express (actions exist, templates parse, steps read only earlier steps) are
checked by `ghlbridge flows validate`.
"""

from __future__ import annotations

from typing import Any

from ghlbridge.flows.recipe import Recipe

SCHEMA_ID = "https://ghlbridge.dev/schemas/flow-recipe.json"


def recipe_schema() -> dict[str, Any]:
    schema = Recipe.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "ghlbridge flow recipe",
    }


__all__ = ["recipe_schema"]
