import subprocess
import sys

from webhook import __version__


def test_the_command_reports_its_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "webhook", "--version"], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"inferencepool-webhook {__version__}\n",
        "",
    )
