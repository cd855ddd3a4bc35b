"""The vendored browser files are exactly the ones the manifest names, each with its licence."""

import hashlib
import json

from app.ui.pages import VENDOR, vendor_url


def test_every_vendored_file_matches_its_manifest_hash() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text("utf-8"))
    listed = set()
    for package in manifest["packages"]:
        folder = VENDOR / package["folder"]
        assert package["folder"].endswith("-" + package["version"])
        assert "LICENSE" in package["files"], f"{package['npm']} ships without its licence"
        for name, entry in package["files"].items():
            digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
            assert digest == entry["sha256"], f"{package['folder']}/{name} changed"
            listed.add(folder / name)
    on_disk = {p for p in VENDOR.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert on_disk == listed, "files in vendor/ that the manifest does not list, or the reverse"


def test_pages_load_htmx_2_and_the_graph_libraries_from_the_manifest() -> None:
    assert vendor_url("htmx.org", "htmx.min.js").startswith("/ui/static/vendor/htmx-2.")
    assert vendor_url("cytoscape", "cytoscape.min.js").endswith("cytoscape.min.js")
    assert vendor_url("cytoscape-dagre", "cytoscape-dagre.min.js")
