"""Writes tensorboard_golden.tfevents with TensorBoard's own protos and record writer (no
TensorFlow needed): the events dpohost's TensorBoardLog writes for the same values, which
ReportingTests compares byte for byte (framing, masked CRC-32C and protobuf encoding).

    python3 make_tensorboard_golden.py   # with `pip install tensorboard`
"""
import os

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.hparams import api_pb2, metadata as hparams_metadata, plugin_data_pb2
from tensorboard.summary.writer.record_writer import RecordWriter
from google.protobuf import struct_pb2

here = os.path.dirname(os.path.abspath(__file__))
events = [
    event_pb2.Event(wall_time=1700000000.5, file_version="brain.Event:2"),
    event_pb2.Event(wall_time=1700000001.25, step=4, summary=summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(tag="loss/train", simple_value=0.69),
        summary_pb2.Summary.Value(tag="rewards_train/accuracies", simple_value=0.5),
    ])),
    event_pb2.Event(wall_time=1700000002.0, step=8, summary=summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(
            tag="samples/policy",
            tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                          string_val=[b"**prompt**\n\nHi"]),
            metadata=summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))),
    ])),
    event_pb2.Event(wall_time=1700000003.0, summary=summary_pb2.Summary(value=[
        summary_pb2.Summary.Value(
            tag=hparams_metadata.SESSION_START_INFO_TAG,
            tensor=tensor_pb2.TensorProto.FromString(hparams_metadata.NULL_TENSOR.SerializeToString()),
            metadata=summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name=hparams_metadata.PLUGIN_NAME,
                content=plugin_data_pb2.HParamsPluginData(session_start_info=plugin_data_pb2.SessionStartInfo(
                    hparams={"loss.beta": struct_pb2.Value(number_value=0.1)},
                    start_time_secs=1700000003.0)).SerializeToString()))),
    ])),
]
with open(os.path.join(here, "tensorboard_golden.tfevents"), "wb") as f:
    writer = RecordWriter(f)
    for event in events:
        writer.write(event.SerializeToString())
    writer.flush()
