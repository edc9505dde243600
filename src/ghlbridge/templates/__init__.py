"""Ready flow templates for the seeds' connection setups (``ghlbridge templates ...``), and
the demo's installation of them against the sandbox and the demo partner app."""

from ghlbridge.templates.library import (
    Param,
    Scopes,
    Template,
    TemplateError,
    TemplateInfo,
    describe,
    get_template,
    install,
    load_templates,
    parse_sets,
    required_scopes,
)

__all__ = [
    "Param",
    "Scopes",
    "Template",
    "TemplateError",
    "TemplateInfo",
    "describe",
    "get_template",
    "install",
    "load_templates",
    "parse_sets",
    "required_scopes",
]
