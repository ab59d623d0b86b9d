from .mcgip import GazeNeighbourPositives  # noqa: F401
from .mcgip_moco import McGIPMoCo  # noqa: F401
from .mcgip_simclr import McGIPSimCLR  # noqa: F401
from .gazeprior import GazePrior  # noqa: F401
