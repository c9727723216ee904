"""Shared test settings."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a shared 2-core machine
    OpenMP's spin-waiting made the tests ten times slower (measured: recovery tests
    150 s with 2 threads, 12 s with 1, while other work ran). Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
