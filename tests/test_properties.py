"""Property-based: any flow, space or folding file either loads or fails with one HyqError line.

Most examples call the loaders directly (fast); a few go through the real command line
and must exit 2 with one line, never 1 ("internal error") or a traceback.
"""

import json
import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper

from hyq import config
from hyq.dataflow import folding_check
from hyq.errors import HyqError
from hyq.explore.space import load_space
from tests.conftest import hyq
from tests.test_cli import _one_line_error

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_names = st.text(string.ascii_letters + "_.", min_size=1, max_size=12)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**20), st.floats(allow_nan=True),
                     st.text(max_size=12))
_values = st.recursive(_scalars, lambda v: st.one_of(st.lists(v, max_size=3),
                                                     st.dictionaries(_names, v, max_size=3)), max_leaves=6)
_BASE = yaml.safe_load(config.DEFAULT_FLOW.read_text())
_FIELDS = {s: [f.name for f in __import__("dataclasses").fields(c)] for s, c in config._SECTIONS.items()}


@st.composite
def _flows(draw):
    """The default flow with a few keys changed to arbitrary values (or sections replaced)."""
    flow = json.loads(json.dumps(_BASE))
    for _ in range(draw(st.integers(1, 3))):
        section = draw(st.sampled_from([*_FIELDS, "name", "bogus"]))
        if section in ("name", "bogus") or draw(st.integers(0, 9)) == 0:
            flow[section] = draw(_values)
            continue
        if not isinstance(flow.get(section), dict):
            flow[section] = {}
        key = draw(st.sampled_from([*_FIELDS[section], "bogus"]))
        flow[section][key] = draw(_values)
    return flow


def _loads_or_hyq_error(fn, *args):
    try:
        fn(*args)
    except HyqError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg, repr(msg)


@SETTINGS
@given(flow=_flows())
def test_generated_flow_files_load_or_fail_with_one_line(flow, tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(flow))
    _loads_or_hyq_error(config.load, path)


@SETTINGS
@given(text=st.text(max_size=80))
def test_arbitrary_text_as_a_flow_file(text, tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(text)
    _loads_or_hyq_error(config.load, path)


@st.composite
def _spaces(draw):
    keys = st.one_of(st.sampled_from(["quant.weight_bits", "quant.act_bits", "hardware.target_fps",
                                      "train.epochs", "model.options.expand", "hardware.folding"]), _names)
    space = {"name": draw(_values), "flow": str(config.DEFAULT_FLOW),
             "axes": draw(st.dictionaries(keys, st.one_of(st.lists(_scalars, max_size=3), _values), max_size=2)),
             "objectives": draw(st.dictionaries(st.sampled_from(["accuracy", "LUT", "fps", "bogus"]),
                                                st.sampled_from(["min", "max", "up", 1]), max_size=2))}
    for k in draw(st.lists(st.sampled_from(["fixed", "points", "flow", "name", "extra"]), max_size=2)):
        space[k] = draw(st.one_of(_values, st.dictionaries(keys, _scalars, max_size=2)))
    return space


@SETTINGS
@given(space=_spaces())
def test_generated_space_files_load_or_fail_with_one_line(space, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(space))
    _loads_or_hyq_error(load_space, path)


def _hw_model() -> ModelWrapper:
    """Two hardware layers as FINN names them: an MVAU (MW 64, MH 32) and a Thresholding (32 channels)."""
    nodes = [helper.make_node("MVAU_rtl", ["x", "w"], ["y"], domain="finn.custom_op.fpgadataflow.rtl",
                              MW=64, MH=32, PE=1, SIMD=1),
             helper.make_node("Thresholding_rtl", ["y", "t"], ["z"], domain="finn.custom_op.fpgadataflow.rtl",
                              NumChannels=32, PE=1)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 32])])
    return ModelWrapper(helper.make_model(g))


_folding_attrs = st.dictionaries(st.sampled_from(["PE", "SIMD", "ram_style", "depth", "bogus"]),
                                 st.one_of(st.integers(-2, 70), _scalars), max_size=3)
_foldings = st.one_of(
    _values,
    st.dictionaries(st.one_of(st.sampled_from(["MVAU_rtl_0", "Thresholding_rtl_0", "Defaults", "MVAU_hls_0"]),
                              _names), st.one_of(_folding_attrs, _values), max_size=3))


@SETTINGS
@given(fold=_foldings)
def test_generated_folding_files_load_or_fail_with_one_line(fold, tmp_path):
    path = tmp_path / "fold.json"
    path.write_text(json.dumps(fold))
    model = _hw_model()
    try:
        folding_check.check_names(path, model)
    except HyqError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
        return
    # accepted: every named layer exists and its PE/SIMD divide its dimensions
    for name, attrs in fold.items():
        if name != "Defaults":
            assert name in ("MVAU_rtl_0", "Thresholding_rtl_0")
            assert 32 % attrs.get("PE", 1) == 0 and 64 % attrs.get("SIMD", 1) == 0
            # and FINN takes it: its own ApplyConfig sets every attribute without an error
    from finn.transformation.general import ApplyConfig

    model.transform(ApplyConfig(fold))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=_flows().filter(lambda f: not _loads(f)))
def test_bad_generated_flow_files_through_the_cli(flow, tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(flow))
    _one_line_error(hyq("run", "--config", str(path), "--out", str(tmp_path / "o")))


def _loads(flow) -> bool:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.yaml"
        p.write_text(yaml.safe_dump(flow))
        try:
            config.load(p)
            return True
        except HyqError:
            return False
