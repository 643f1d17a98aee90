"""OUT/report.html: the contest told as one story, from summary.json's numbers."""

from __future__ import annotations

import html
import json
from typing import Any


def render_report(summary: dict[str, Any]) -> str:
    return "<!doctype html><meta charset='utf-8'><pre>" + html.escape(json.dumps(summary, indent=1)) + "</pre>"
