"""db.lint as JSON: render/lint.py's `lint_json`, registered for LintReport here (render/lint.py is also its text),
and render/lint_fix.py's `fix_json` for db.lint --fix's LintFixReport."""

from __future__ import annotations

from migrakit.core.reports.lint import LintFixReport, LintReport
from migrakit.render.json.shapes import serializes
from migrakit.render.lint import lint_json
from migrakit.render.lint_fix import fix_json

serializes(LintReport)(lint_json)
serializes(LintFixReport)(fix_json)
