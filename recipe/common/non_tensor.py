"""Values read back from verl's TensorDict batches."""

from tensordict import NonTensorData


def unwrap_non_tensor(value):
    """The Python value inside tensordict's NonTensorData; anything else as it is.

    Not ``getattr(value, "data", value)``: a numpy scalar's ``.data`` is its raw buffer.
    """
    return value.data if isinstance(value, NonTensorData) else value
