"""Send the trainer's model passes the tensor fields of each rollout, not every non-tensor field stored with it.

verl's agent loop stores each rollout with every field of its prompt and its loop (``raw_prompt``,
``reward_model``, ``extra_info``, ``metrics``, ``extra_fields``, ``uid``, ...). A model pass (old-policy log-probs,
reference log-probs, actor update) names no fields, so its worker fetches all of them, and each non-tensor value
costs a Python object per row twice: TransferQueue packs it (``NonTensorStack``) and the engine's
``micro_batch.to(device)`` rebuilds it. The engine reads tensors and, of the per-row non-tensor fields, only
``multi_modal_inputs`` (``FSDPEngineWithLMHead.prepare_model_inputs``); on two CPU cores the rest was about a
third of the FSDP worker's busy time in a 36-prompt x 8 step (py-spy, BENCHMARKS.md 8).

``platform.pass_non_tensor_fields`` (recipe/conf/platform/cpu.yaml) lists the non-tensor fields a pass still
receives; every tensor field always goes. null (the GPU platform): every stored field, as verl does. The fields
are read from TransferQueue's schema at each pass, so fields an earlier pass added (``old_log_probs``,
``ref_log_prob``, ``advantages``) go too. A batch that already names its fields is narrowed the same way: verl's
passes after the first get the batch ``kv_batch_put`` returned, which names every persisted field, so leaving a
named list alone sent the reference pass and the update every field again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any


def pass_fields(
    field_schema: Mapping[str, Mapping[str, Any]], non_tensor_fields: list[str], named: list[str] | None = None
) -> list[str]:
    """The stored fields a model pass receives: every tensor field, and the listed non-tensor ones present.

    ``named``: the fields the batch already names (verl's choice); only those, minus unlisted non-tensor ones. A
    named field the schema does not know is kept, so TransferQueue reports it as it would have.
    """
    keep = set(non_tensor_fields)
    candidates = sorted(field_schema) if named is None else named
    return [name for name in candidates if not field_schema.get(name, {}).get("is_non_tensor") or name in keep]


def check_non_tensor_fields(value: Any) -> list[str] | None:
    """``platform.pass_non_tensor_fields``: null, or a list of field names."""
    if value is None:
        return None
    if isinstance(value, str) or not all(isinstance(name, str) and name for name in value):
        raise ValueError(
            f"platform.pass_non_tensor_fields={value!r}: give a list of field names "
            "(e.g. [multi_modal_inputs]) or null for every stored field."
        )
    return list(value)


@contextlib.contextmanager
def narrowed(batch, non_tensor_fields: list[str] | None, retrieve_schema) -> Iterator[None]:
    """Within the block, ``batch.fields`` names what the pass should fetch (of the fields it named, if it named
    any); restored after, so the rest of the step sees the batch as verl made it. ``retrieve_schema(batch)`` returns
    TransferQueue's field schema."""
    if non_tensor_fields is None:
        yield
        return
    named = batch.fields
    batch.fields = pass_fields(retrieve_schema(batch), non_tensor_fields, named)
    try:
        yield
    finally:
        batch.fields = named


def transfer_queue_schema(batch) -> dict[str, dict[str, Any]]:
    """The field schema TransferQueue holds for the batch's keys (one controller round trip)."""
    import transfer_queue as tq

    return tq.get_client().kv_retrieve_meta(keys=batch.keys, partition_id=batch.partition_id).field_schema
