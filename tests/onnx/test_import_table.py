"""The committed table of supported ONNX operators is the one the code generates."""

from pathlib import Path

from axon.model._onnx.importer import support_table

PAGE = Path(__file__).parents[2] / "docs" / "reference" / "onnx-import-ops.md"


def test_docs_table_equals_the_generated_one():
    assert PAGE.read_text() == support_table(), (
        "docs/reference/onnx-import-ops.md is stale: regenerate it with "
        "python -c 'from axon.model._onnx.importer import support_table; "
        'print(support_table(), end="")\' > docs/reference/onnx-import-ops.md'
    )


def test_table_lists_what_real_exporters_emit():
    table = support_table()
    for op in ("Erf", "LayerNormalization", "GatherElements", "IsNaN", "LSTM", "GRU", "Resize"):
        assert f"| `{op}` |" in table
