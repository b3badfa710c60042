"""Veil's modules form layers without cycles: no module reaches itself through imports (function-level imports
included, since they only hide a cycle until the function runs), and no selector imports a write.
`python bench/import_graph.py` prints the graph's cycles and breaches."""

from __future__ import annotations

from bench.import_graph import cycles, edges, layer_breaches


def test_no_import_cycle_among_veils_modules():
    assert cycles(edges()) == []


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
