"""One knob for the compute threads of a process: PyTorch's intra-op pool and the BLAS pools.

Why both: the model code mixes torch with scipy's L-BFGS-B (GP hyperparameters, acquisition
search), and scipy's L-BFGS-B calls the BLAS bundled with numpy/scipy (OpenBLAS) on vectors of a
few dozen entries. With OpenBLAS's default of one thread per core, each of those calls wakes a
thread pool that competes with torch's: measured on 2 cores, the L-BFGS-B kernel (``setulb``) took
1.5 ms per iteration instead of ~10 us, and a GP suggest at n = 20 spent more time there than in
the model. ``threadpoolctl`` (the library scikit-learn uses for this) sets the BLAS pools of the
running process (only libraries already loaded, hence the import of ``scipy.optimize`` here);
``torch.set_num_threads`` sets torch's.
"""

from __future__ import annotations

import scipy.optimize  # noqa: F401 - loads the BLAS that L-BFGS-B uses, so that the limit reaches it
import torch
from threadpoolctl import threadpool_limits


def limit_compute_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads in torch and in every loaded BLAS library of this process."""
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads, user_api="blas")
