"""The C signatures of every function of include/fi.h, as ctypes types.

Pointers to data are declared c_void_p (addresses are passed as ints, so that numpy arrays,
torch tensors and buffers are read in place); handles out-parameters are POINTER(c_void_p);
structs are POINTER(the ctypes Structure). tests/python/test_signatures.py parses fi.h and
checks this table entry by entry (restype, argtypes, struct fields), so the two cannot drift:
a function added to fi.h must be added here too.
"""

import ctypes
from typing import Dict, List, Optional, Tuple

from .blocks import Blocks, _CIndexBlocks

I, D, S, U = ctypes.c_int, ctypes.c_double, ctypes.c_size_t, ctypes.c_uint
_i64 = ctypes.c_int64
_u64 = ctypes.c_uint64
_vp = ctypes.c_void_p
_str = ctypes.c_char_p
_P = ctypes.POINTER
_vpp = _P(_vp)
_bl = _P(Blocks)
_ib = _P(_CIndexBlocks)
_i64p = _P(_i64)
_dp = _P(D)

# fi_alloc_fn and fi_free_fn, for fi_context_set_allocator.
ALLOC_FN = ctypes.CFUNCTYPE(_vp, _vp, S)
FREE_FN = ctypes.CFUNCTYPE(None, _vp, _vp)

Proto = Tuple[Optional[type], List[type]]

PROTOS: Dict[str, Proto] = {
    "fi_version_number": (U, []),
    "fi_version_string": (_str, []),
    "fi_constant": (I, [_str, _i64p]),
    "fi_dtype_size": (S, [I]),
    "fi_context_create": (I, [_vpp]),
    "fi_context_free": (None, [_vp]),
    "fi_strerror": (_str, [I]),
    "fi_context_error": (_str, [_vp]),
    "fi_context_set": (I, [_vp, I, D]),
    "fi_context_get": (I, [_vp, I, _dp]),
    "fi_context_set_allocator": (I, [_vp, ALLOC_FN, FREE_FN, _vp]),
    "fi_metric_from_scores": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, _bl, _vpp]),
    "fi_metric_from_scores_indexed": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, _ib, _vpp]),
    "fi_compute": (I, [_vp, _vp, I, _vp, _vp, U]),
    "fi_metric_free": (None, [_vp]),
    "fi_direct": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, _bl, _vp, _i64, _vp, U]),
    "fi_direct_indexed": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, _ib, _vp, _i64, _vp, U]),
    "fi_metric_count": (_i64, [_vp]),
    "fi_metric_classes": (_i64, [_vp]),
    "fi_metric_ranks": (I, [_vp, _vp, _vp]),
    "fi_residual": (I, [_vp, _vp, I, _vp, _vp]),
    "fi_class_bound": (I, [_vp, _vp, _i64, _dp]),
    "fi_normalize_class": (I, [_vp, _vp, _i64, _vp, _vp, _vp]),
    "fi_perturbation": (I, [_vp, _i64, _vp, I, _vp, _i64, _i64, _bl, _vp, _i64, _vp, _vp,
                            _vp]),
    "fi_reduce": (I, [_vp, _vp, _i64, _bl, I, _vp]),
    "fi_fraction_count": (_i64, [_i64, D]),
    "fi_select_top": (I, [_vp, _vp, _i64, _i64, _vp]),
    "fi_select_random_low": (I, [_vp, _vp, _i64, _i64, _i64, _u64, _vp]),
    "fi_select_complement": (I, [_vp, _i64, _vp, _i64, _vp]),
    "fi_indices_to_mask": (I, [_vp, _i64, _vp, _i64, _vp]),
    "fi_accumulator_create": (I, [_vp, _i64, _vpp]),
    "fi_accumulator_free": (None, [_vp]),
    "fi_accumulator_add": (I, [_vp, _vp, _vp, D]),
    "fi_accumulator_merge": (I, [_vp, _vp, _vp]),
    "fi_accumulator_result": (I, [_vp, _vp, _vp, _vp]),
    "fi_accumulator_info": (I, [_vp, _i64p, _i64p, _dp]),
    "fi_accumulator_serialized_size": (S, [_vp]),
    "fi_accumulator_serialize": (I, [_vp, _vp, _vp, S]),
    "fi_accumulator_deserialize": (I, [_vp, _vp, S, _vpp]),
    # 1.2.0, the workflow at scale (fi_mean_*, fi_threshold_*, fi_class_stream_*): wrapped by
    # mean.py, threshold.py and class_stream.py.
    "fi_mean_create": (I, [_vp, _i64, _vpp]),
    "fi_mean_free": (None, [_vp]),
    "fi_mean_add": (I, [_vp, _vp, _vp, D]),
    "fi_mean_add_direct": (I, [_vp, _vp, D, _i64, _vp, I, _vp, _i64, _i64, _bl, _vp, _i64, U]),
    "fi_mean_merge": (I, [_vp, _vp, _vp]),
    "fi_mean_result": (I, [_vp, _vp, _vp, _vp]),
    "fi_mean_info": (I, [_vp, _i64p, _i64p, _dp]),
    "fi_mean_serialized_size": (S, [_vp]),
    "fi_mean_serialize": (I, [_vp, _vp, _vp, S]),
    "fi_mean_deserialize": (I, [_vp, _vp, S, _vpp]),
    "fi_threshold_create": (I, [_vp, _vpp]),
    "fi_threshold_create_random": (I, [_vp, _u64, _vpp]),
    "fi_threshold_free": (None, [_vp]),
    "fi_threshold_add": (I, [_vp, _vp, _vp, _i64]),
    "fi_threshold_add_random": (I, [_vp, _vp, _i64, _i64, _vp]),
    "fi_threshold_merge": (I, [_vp, _vp, _vp]),
    "fi_threshold_narrow": (I, [_vp, _vp, _i64, _P(I)]),
    "fi_threshold_result": (I, [_vp, _vp, _dp, _i64p, _i64p]),
    "fi_threshold_mask": (I, [_vp, _vp, _vp, _i64, _i64p, _vp]),
    "fi_threshold_mask_random": (I, [_vp, _vp, _i64, _i64, _vp, _i64p, _vp]),
    "fi_threshold_serialized_size": (S, [_vp]),
    "fi_threshold_serialize": (I, [_vp, _vp, _vp, S]),
    "fi_threshold_deserialize": (I, [_vp, _vp, S, _vpp]),
    "fi_class_stream_create": (I, [_vp, _i64, _bl, _i64, _vpp]),
    "fi_class_stream_free": (None, [_vp]),
    "fi_class_stream_add": (I, [_vp, _vp, D, I, _vp]),
    "fi_class_stream_finish": (I, [_vp, _vp, I, _vp, _vp, U]),
    "fi_class_stream_info": (I, [_vp, _i64p, _dp, _vp]),
}

# Names of the status codes; their values are read from the library, never from the header.
STATUS_NAMES = (
    "FI_OK", "FI_ERR_NULL", "FI_ERR_DIMENSION", "FI_ERR_PROBABILITY", "FI_ERR_NONFINITE",
    "FI_ERR_NOMEM", "FI_ERR_LAPACK", "FI_ERR_OPTION", "FI_ERR_FLAG", "FI_ERR_DTYPE",
    "FI_ERR_CLASS", "FI_ERR_MISMATCH", "FI_ERR_FORMAT", "FI_ERR_THREAD", "FI_ERR_NAME",
)
