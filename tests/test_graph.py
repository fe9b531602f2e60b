"""The op table: what the probe may emit, what the grader replays, and the validation of untrusted graphs."""

from __future__ import annotations

import pytest

from grader.evaluation.rebuild import REPLAY
from grader.recording.graph import OPS, GraphError, parse_graph

_GOOD = {"nodes": [{"id": 0, "op": "input", "in": [], "shape": [784]},
                   {"id": 1, "op": "linear", "in": [0], "shape": [10], "weight": "p0", "bias": None,
                    "layout": "out_in"}],
         "output": 1, "loss": "cross_entropy", "batch": 100, "tensors": {"p0": [10, 784]}}


def test_every_known_op_is_replayable_or_structural() -> None:
    """One table: each op the recording knows is executed by the replay (only input/unsupported are not)."""
    assert set(OPS) - set(REPLAY) == {"input", "unsupported"}
    assert set(REPLAY) <= set(OPS)


def test_valid_graph_parses() -> None:
    g = parse_graph(_GOOD)
    assert [n.op for n in g.nodes] == ["input", "linear"] and g.n_params() == 7840


@pytest.mark.parametrize("bad, reason", [
    ({**_GOOD, "nodes": [{"op": "exec", "in": []}]}, "unknown op 'exec'"),
    ({**_GOOD, "nodes": [_GOOD["nodes"][0], {**_GOOD["nodes"][1], "in": [5]}]}, "invalid inputs"),
    ({**_GOOD, "nodes": [_GOOD["nodes"][0], {**_GOOD["nodes"][1], "weight": "p9"}]}, "'p9' is not declared"),
    ({**_GOOD, "nodes": [_GOOD["nodes"][0], {**_GOOD["nodes"][1], "layout": 3}]}, "'layout' has an invalid value"),
    ({**_GOOD, "output": 7}, "output node 7 does not exist"),
    ({**_GOOD, "tensors": {"p0": "big"}}, "tensor table is malformed"),
    ({"nodes": []}, "no nodes"),
])
def test_malformed_graphs_are_refused_with_a_reason(bad: dict, reason: str) -> None:
    with pytest.raises(GraphError, match=reason):
        parse_graph(bad)
