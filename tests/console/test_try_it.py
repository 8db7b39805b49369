"""The Try it page: a form from the version's input schema, a batch of one
SMILES a line, the API's INVALID_ARGUMENT at the line or record it names, the
job live from QUEUED (with its no-worker warning) to its end, the results per
record and their CSV download, on the built-in worker's rdkit.logp."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway.execution.conftest import add_version, register_backend
from tests.harness import unique_name

from .conftest import NARROW, WIDE, Console, Tab

pytestmark = pytest.mark.usefixtures("builtin_worker")
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
RICH = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "minimum": 1, "maximum": 5},
        "scale": {"type": "number", "multipleOf": 0.5},
        "fast": {"type": "boolean"},
        "mode": {"enum": ["a", "b"]},
        "weights": {"type": "array", "items": {"type": "number"}},
    },
    "required": ["name", "count"],
}
SMILES_ONLY = {"type": "object", "properties": {"smiles": {"type": "string"}}, "required": ["smiles"]}


def _try(console: Console, model: str = "rdkit.logp", viewport: dict[str, int] = WIDE) -> Tab:
    tab = console.open(unique_name("try"), viewport=viewport)
    tab.go(f"#/models/{model}/try")
    tab.page.get_by_role("button", name="Run").wait_for()
    return tab


def _results(tab: Tab, count: int) -> list[str]:
    tab.page.locator(".status", has_text="SUCCEEDED").wait_for()
    rows = tab.page.locator("table.results tbody tr")
    assert rows.count() == count
    return rows.all_inner_texts()


def test_the_form_runs_rdkit_logp_on_caffeine(console: Console) -> None:
    tab = _try(console)
    page = tab.page
    assert page.get_by_label("Version").input_value() == "1.0.0"
    smiles = page.get_by_label("smiles", exact=True)
    assert smiles.get_attribute("maxlength") == "2000"  # from the schema's maxLength
    smiles.fill(CAFFEINE)
    page.get_by_role("button", name="Run").click()
    [row] = _results(tab, 1)
    assert CAFFEINE in row and "-1.029" in row
    page.locator("table.results th", has_text="logp").wait_for()
    tab.assert_no_console_errors()


def test_a_batch_shows_a_bad_smiles_on_its_own_row_and_downloads_as_csv(console: Console) -> None:
    tab = _try(console)
    page = tab.page
    page.get_by_label("One record a line", exact=True).check()
    page.get_by_label("smiles, one record a line").fill(f"{CAFFEINE}\n\nnot-a-smiles\nCCO\n")
    page.get_by_role("button", name="Run").click()
    first, bad, ethanol = _results(tab, 3)
    assert "-1.029" in first and "invalid SMILES" not in first
    assert "not-a-smiles" in bad and "invalid SMILES" in bad
    assert "CCO" in ethanol and "invalid SMILES" not in ethanol
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "record,input.smiles,logp,error"
    assert lines[1].startswith(f"1,{CAFFEINE},-1.029") and lines[1].endswith(",")
    assert lines[2].startswith("2,not-a-smiles,,") and "invalid SMILES" in lines[2]
    assert lines[3].startswith("3,CCO,") and len(lines) == 4
    tab.assert_no_console_errors()


def test_required_fields_and_the_apis_refusals_show_where_they_belong(console: Console) -> None:
    tab = _try(console)
    page = tab.page
    page.get_by_role("button", name="Run").click()  # the form's smiles left empty
    page.locator(".field-error", has_text="Required.").wait_for()
    page.get_by_label("One record a line", exact=True).check()
    # The schema's maxLength is 2000: the API names records[1]/smiles, the third line.
    page.get_by_label("smiles, one record a line").fill("CCO\n\n" + "C" * 2001)
    page.get_by_role("button", name="Run").click()
    page.locator(".field-error", has_text="Line 3:").wait_for()
    page.get_by_label("JSON records", exact=True).check()
    page.get_by_label("Records (JSON)").fill('[{"smiles": "CCO"}, {"smiles": 5}]')
    page.get_by_role("button", name="Run").click()
    page.locator(".field-error", has_text="Record 2 (/smiles):").wait_for()
    assert page.locator(".job-id").count() == 0  # nothing was submitted
    # Chromium logs each refused call (the two 400s): nothing else went wrong.
    assert [e for e in tab.errors if "status of 400" not in e] == []


def test_a_job_no_worker_serves_waits_queued_with_a_warning_and_cancels(console: Console) -> None:
    name = unique_name("unserved")
    register_backend(console.edge.mesh, name, "python", {"callable": "workers.builtin.demo:echo"})
    tab = _try(console, name)
    page = tab.page
    assert page.get_by_label("Form", exact=True).count() == 0  # {"type": "object"}: raw JSON only
    page.get_by_label("Records (JSON)").fill('[{"x": 1}]')
    page.get_by_role("button", name="Run").click()
    page.locator(".status", has_text="QUEUED").wait_for()
    page.locator(".place", has_text="next in its queue").wait_for()
    page.locator(".warn").wait_for()  # the mesh warns after 2 s without a worker
    page.get_by_role("button", name="Cancel job").click()
    page.locator(".status", has_text="CANCELLED").wait_for()
    tab.assert_no_console_errors()


def test_try_it_fits_a_phone(console: Console) -> None:
    tab = _try(console, viewport=NARROW)
    page = tab.page
    page.get_by_label("smiles", exact=True).fill(CAFFEINE)
    page.get_by_role("button", name="Run").click()
    _results(tab, 1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], width
    tab.assert_no_console_errors()


def test_the_form_follows_the_chosen_versions_schema(console: Console) -> None:
    name = unique_name("rich")
    register_backend(console.edge.mesh, name, "python", {"callable": "workers.builtin.demo:echo"}, RICH)
    add_version(console.edge.mesh, name, "2.0.0", "python", {"callable": "workers.builtin.demo:echo"}, SMILES_ONLY)
    tab = _try(console, name)
    page = tab.page
    assert page.get_by_label("Version").input_value() == "2.0.0"  # the latest runs by default
    page.get_by_label("smiles", exact=True).wait_for()
    page.get_by_label("Version").select_option("1.0.0")
    text = page.get_by_label("name", exact=True)
    text.wait_for()
    assert page.get_by_label("smiles", exact=True).count() == 0
    assert [text.get_attribute(a) for a in ("minlength", "maxlength", "pattern")] == ["2", "8", "^[a-z]+$"]
    count = page.get_by_label("count", exact=True)
    assert [count.get_attribute(a) for a in ("type", "min", "max", "step")] == ["number", "1", "5", "1"]
    assert page.get_by_label("scale", exact=True).get_attribute("step") == "0.5"
    assert page.get_by_label("One record a line", exact=True).count() == 0  # two required fields
    text.fill("abc")
    count.fill("3")
    page.get_by_label("fast", exact=True).select_option(label="false")
    page.get_by_label("mode", exact=True).select_option(label="b")
    page.get_by_label("weights", exact=True).fill("1, 2.5")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/v1/jobs")) as sent:
        page.get_by_role("button", name="Run").click()
    assert sent.value.post_data_json == {
        "model": name,
        "version": "1.0.0",
        "records": [{"name": "abc", "count": 3, "fast": False, "mode": "b", "weights": [1, 2.5]}],
    }
    page.locator(".status", has_text="QUEUED").wait_for()  # no worker serves it
    tab.assert_no_console_errors()
