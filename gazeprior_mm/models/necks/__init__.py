from .ggam import GGAM  # noqa: F401
from .pooled_batchnorm import PooledBatchNormNeck  # noqa: F401
