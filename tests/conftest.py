"""Shared test settings, and the float32 arithmetic that the tests' tolerances come from.

Two code paths that compute the same float32 function round differently: the folded,
channels-last generator that ``recover`` runs against the plain module, a batch of 4 rows
against a batch of 1 (kernels are chosen per shape), the vector width of another CPU (x86-64
or ARM). A comparison across such paths gets a tolerance from the arithmetic below, never
from what one machine produced. One path against itself (the same call twice with the same
seed, a copy, bit-identical weights through the same module at the same batch size) runs the
same kernels on the same numbers and is compared exactly.

* ``U32`` = 2^-24 ~ 6.0e-8, float32's unit roundoff: one rounding moves x by at most U32 |x|.
* A K-term dot product summed in another order differs by at most about K U32 sum|terms|,
  and typically by about sqrt(K) U32 of its size (the rounding errors have random signs).
* The tests' tiny DCGAN (ngf=8) sums K = 100, 256, 128, 64 and 32 terms per output in its
  five layers: sqrt(580) U32 ~ 1.5e-6 of the pre-tanh values, which are O(1) (rms 0.75 for
  test_recovery's He-initialised generator), and tanh' <= 1: of order 1e-6 per pixel (the
  1.49e-6 of the failure reported on an AMD EPYC). ``IMAGE_ATOL`` = 1e-5 is several times
  that and 1/800 of one grey level (2/255 ~ 7.8e-3 on the [-1, 1] scale); images within it
  of G(z) are still G(z): a latent 1e-3 away (per component) moves the pixels by ~1e-3.
* Gradients through the same layers (the backward pass sums K = 12 ... 1024 terms per layer,
  sum K ~ 1300): about sqrt(1300) U32 ~ 2e-6 of their size.
"""
import pytest
import torch

#: float32 unit roundoff, 2^-24.
U32 = 2.0 ** -24
#: Two float32 code paths for one pass of the tests' tiny generator, in [-1, 1] pixel units.
IMAGE_ATOL = 1e-5


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a shared 2-core machine
    OpenMP's spin-waiting made the tests ten times slower (measured: recovery tests
    150 s with 2 threads, 12 s with 1, while other work ran). Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
