"""Audit the installed dependencies for known vulnerabilities (pip-audit, PyPI's advisory data).

Fails (exit 1) on any known vulnerability. When the advisory service cannot be reached — this
build network offers PyPI's package index but not its JSON API or OSV — pip-audit skips every
package and still says "No known vulnerabilities found"; this script says instead how many
packages could not be audited, so a skipped audit never reads as a clean one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig


def main() -> int:
    site = sysconfig.get_paths()["purelib"]
    run = subprocess.run([sys.executable, "-m", "pip_audit", "-s", "pypi", "--skip-editable",
                          "--path", site, "-f", "json", "--progress-spinner", "off"],
                         capture_output=True, text=True, timeout=600, check=False)
    try:
        deps = json.loads(run.stdout)["dependencies"]
    except (ValueError, KeyError):
        print(f"pip-audit gave no report (exit {run.returncode}): {run.stderr.strip()[-500:]}")
        return 1
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if "skip_reason" in d]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"VULNERABLE {dep['name']} {dep['version']}: {ids}")
    audited = len(deps) - len(skipped)
    print(f"pip-audit: {audited} of {len(deps)} packages audited, {len(vulnerable)} vulnerable"
          + (f"; {len(skipped)} NOT audited (advisory data unreachable: "
             f"{skipped[0]['skip_reason']})" if skipped else ""))
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
