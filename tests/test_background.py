import os
import sys
import threading

import pytest
import torch

from rlkit.background import IdleWorker


@pytest.mark.parametrize("threads", [1, 3])
def test_idle_worker_runs_at_idle_priority_with_its_own_torch_threads_and_leaves_the_callers(threads):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    worker = IdleWorker(threads)
    try:
        assert torch.get_num_threads() == 2
        got, tid = worker.submit(lambda: (torch.get_num_threads(), threading.get_native_id())).result()
        assert got == threads and tid != threading.get_native_id()
        if sys.platform.startswith("linux"):
            idle = os.sched_getscheduler(tid) == os.SCHED_IDLE
            assert idle or os.getpriority(os.PRIO_PROCESS, tid) == 19
        assert worker.submit(lambda x: x * 2, torch.ones(3)).result().tolist() == [2.0, 2.0, 2.0]
        assert torch.get_num_threads() == 2
    finally:
        worker.shutdown()
        torch.set_num_threads(before)
    with pytest.raises(RuntimeError):
        worker.submit(lambda: None)
