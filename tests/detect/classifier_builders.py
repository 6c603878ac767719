"""A stub detector of the documented ONNX contract (docs/classifier.md), built with ``onnx`` helpers.

Its one candidate box scores class ``NUDITY_TEST`` by the picture's mean red and ``FACE_TEST`` by its mean green,
so a generated red picture is "nudity", a green one "a person", a blue one nothing.  With ``crash_on_blue`` it
also reshapes its output by the mean blue, which onnxruntime refuses at run time for a mostly blue picture: a
model that fails on one picture.  With ``hang_on_blue`` a ``Loop`` runs 10^15 empty turns when a picture of the
batch is mostly blue (none otherwise): a model that never returns, inside onnxruntime's native code.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

LABELS = ["NUDITY_TEST", "FACE_TEST"]


def write_stub_model(path: Path, side: int = 64, crash_on_blue: bool = False, hang_on_blue: bool = False) -> Path:
    const = lambda name, values, kind=TensorProto.FLOAT, dims=None: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=helper.make_tensor(name + "_v", kind, dims or [len(values)], values))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["means"], axes=[2, 3], keepdims=0),  # N x 3, RGB 0-1
        const("starts", [0], TensorProto.INT64), const("ends", [2], TensorProto.INT64),
        const("axis1", [1], TensorProto.INT64),
        helper.make_node("Slice", ["means", "starts", "ends", "axis1"], ["scores"]),  # N x 2: red, green
        const("zero", [0.0]), const("box", [32.0, 32.0, 16.0, 16.0], dims=[1, 4]),
        helper.make_node("Mul", ["scores", "zero"], ["zeros"]),
        helper.make_node("Slice", ["zeros", "starts", "axis1", "axis1"], ["zero_column"]),  # N x 1
        helper.make_node("Add", ["zero_column", "box"], ["boxes"]),  # N x 4
        helper.make_node("Concat", ["boxes", "scores"], ["rows"], axis=1),  # N x 6
    ]
    if crash_on_blue or hang_on_blue:
        nodes += [
            const("blue_at", [2], TensorProto.INT64), const("blue_end", [3], TensorProto.INT64),
            helper.make_node("Slice", ["means", "blue_at", "blue_end", "axis1"], ["blue"]),
            helper.make_node("ReduceMax", ["blue"], ["most_blue"], keepdims=0),
            const("half", [1.5], dims=[]), const("one", [1.0], dims=[]),
            helper.make_node("Mul", ["most_blue", "half"], ["scaled"]),
            helper.make_node("Floor", ["scaled"], ["floored"]),  # 0, or 1 for a mostly blue picture
        ]
    if hang_on_blue:
        body = helper.make_graph(
            [helper.make_node("Identity", ["go"], ["go_on"]), helper.make_node("Identity", ["carried"], ["carried_on"])],
            "empty-turn",
            [helper.make_tensor_value_info("turn", TensorProto.INT64, []),
             helper.make_tensor_value_info("go", TensorProto.BOOL, []),
             helper.make_tensor_value_info("carried", TensorProto.FLOAT, [])],
            [helper.make_tensor_value_info("go_on", TensorProto.BOOL, []),
             helper.make_tensor_value_info("carried_on", TensorProto.FLOAT, [])],
        )
        scalar = lambda name, kind, value: helper.make_node(  # noqa: E731
            "Constant", [], [name], value=helper.make_tensor(name + "_v", kind, [], [value]))
        nodes += [
            const("forever", [1e15]),
            helper.make_node("Mul", ["floored", "forever"], ["turns_1"]),
            helper.make_node("ReduceMax", ["turns_1"], ["turns_f"], keepdims=0),  # a scalar, as Loop wants
            helper.make_node("Cast", ["turns_f"], ["turns"], to=TensorProto.INT64),
            scalar("true", TensorProto.BOOL, True), scalar("nothing", TensorProto.FLOAT, 0.0),
            helper.make_node("Loop", ["turns", "true", "nothing"], ["looped"], body=body),
            helper.make_node("Add", ["rows", "looped"], ["rows_after"]),  # the output waits for the loop
            const("axis2", [2], TensorProto.INT64), helper.make_node("Unsqueeze", ["rows_after", "axis2"], ["output0"]),
        ]
    elif crash_on_blue:
        nodes += [
            helper.make_node("Add", ["floored", "one"], ["anchors_f"]),  # 1, or 2 for a mostly blue picture
            helper.make_node("Cast", ["anchors_f"], ["anchors"], to=TensorProto.INT64),
            const("one_long", [1], TensorProto.INT64),
            helper.make_node("Reshape", ["anchors", "one_long"], ["anchors_1"]),
            const("lead", [-1, 6], TensorProto.INT64),
            helper.make_node("Concat", ["lead", "anchors_1"], ["shape"], axis=0),
            helper.make_node("Reshape", ["rows", "shape"], ["output0"]),  # 6 values cannot be -1 x 6 x 2
        ]
    else:
        nodes += [const("axis2", [2], TensorProto.INT64), helper.make_node("Unsqueeze", ["rows", "axis2"], ["output0"])]
    graph = helper.make_graph(
        nodes, "fieldlab-stub-detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, side, side])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 6, "anchors"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in {"names": json.dumps(LABELS), "fieldlab_nudity": json.dumps(["NUDITY_TEST"]),
                       "fieldlab_channels": "RGB", "license": "test stub, no licence needed"}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
