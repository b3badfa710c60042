"""Veil's modules form layers without cycles: no module reaches itself through imports (function-level imports
included, since they only hide a cycle until the function runs), no selector imports a write, and the core
(reviewer/, api/) reads crowd data only through crowd.interface. `python bench/import_graph.py` prints the graph's
cycles and breaches."""

from __future__ import annotations

from bench.import_graph import cycles, edges, layer_breaches


def test_no_import_cycle_among_veils_modules():
    graph = edges()
    assert {"reviewer.policies", "crowd.interface", "crowd.services.onboarding", "api.urls"} <= set(graph)
    assert cycles(graph) == []


def test_no_selector_imports_a_service_and_pure_imaging_imports_no_django_side_code():
    assert layer_breaches(edges()) == []


def test_the_graph_sees_function_level_imports(tmp_path):
    package = tmp_path / "reviewer"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from reviewer.b import g\n")
    (package / "b.py").write_text("from reviewer import a\n")
    graph = edges(tmp_path)
    assert graph["reviewer.a"] == {"reviewer.b"}
    assert cycles(graph) == [["reviewer.a", "reviewer.b"]]


def test_the_core_imports_no_crowd_module_but_the_interface(tmp_path):
    for package in ("reviewer", "crowd"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "crowd" / "interface.py").write_text("from crowd.models import Invite\n")
    (tmp_path / "crowd" / "models.py").write_text("from reviewer.base import Box\n")
    (tmp_path / "reviewer" / "base.py").write_text("")
    (tmp_path / "reviewer" / "policies.py").write_text("from crowd import interface\n")
    (tmp_path / "reviewer" / "lease.py").write_text("def f():\n    from crowd.models import Invite\n")
    breaches = layer_breaches(edges(tmp_path))
    assert breaches == ["reviewer.lease -> crowd.models (the core reads crowd data only through crowd.interface)"]
