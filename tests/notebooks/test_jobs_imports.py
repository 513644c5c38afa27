"""`privacyops.jobs` loads its job modules on first use: a report notebook's kernel (`privacyops.jobs.report_jobs`)
and `privacyops report`'s own process (`privacyops.jobs.report_runs`) never load the panels (ipywidgets) or the other
notebooks' jobs. Each check runs in a fresh interpreter (this one has imported everything already)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import privacyops.jobs as jobs


def loaded_after(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


@pytest.mark.parametrize("module", ["privacyops.jobs.report_jobs", "privacyops.jobs.report_runs"])
def test_a_report_path_loads_no_panel_and_no_other_job(module: str) -> None:
    loaded = loaded_after(module)
    assert module in loaded
    unwanted = {"privacyops.ui", "privacyops.jobs.erasure_job", "privacyops.jobs.lookup_job",
                "privacyops.jobs.export_job", "ipywidgets"}
    assert not unwanted & loaded, sorted(unwanted & loaded)


def test_every_public_name_resolves_to_its_module() -> None:
    for name in jobs.__all__:
        value = getattr(jobs, name)
        assert getattr(value, "__module__", jobs._WHERE[name]).endswith(jobs._WHERE[name]) or not callable(value)
    assert "run_report" in dir(jobs)
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        jobs.nonesuch  # noqa: B018
