"""A gateway in front of an upstream server loads no model stack: it starts in about a second and stays
small (before this was kept apart, `--upstream` imported torch and transformers: 8 s and 420 MB)."""

import subprocess
import sys


def test_upstream_gateway_imports_no_model_stack():
    code = (
        "import sys\n"
        "import distillab.cli.serve, distillab.gateway.app, distillab.db.store, distillab.gateway.relay\n"
        "print(sorted(m for m in ('torch', 'transformers', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_cli_imports_no_model_stack_until_a_command_runs():
    # Every `distillab ... --help` and every bad-flag error pays for what the CLI imports up front.
    code = (
        "import sys\n"
        "import distillab.cli.main\n"
        "print(sorted(m for m in ('torch', 'transformers', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
