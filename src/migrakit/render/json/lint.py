"""db.lint as JSON: render/lint.py's `lint_json`, registered for LintReport here (render/lint.py is also its text)."""

from __future__ import annotations

from migrakit.render.json.shapes import serializes
from migrakit.render.lint import lint_json
from migrakit.workflows.lint import LintReport

serializes(LintReport)(lint_json)
