"""How latent recovery runs: one frozen dataclass, ``LVRSettings``, and the one place where
its defaults are filled in for a given generator (``LVRSettings.resolve``).

A value of it names a way of running LVR: recover()'s default, a profile's, the paper's
optimiser, a benchmark's candidate (each with an ``id``). ``asdict()`` of the resolved
settings is what a ``RecoveryResult`` records and what the result cache keys on.

Defaults (``DEFAULTS``). Projected L-BFGS per image (``updates.LBFGS``), run until the
image's loss has stopped falling (by less than ``DEFAULT_TOL`` relative over
``DEFAULT_PATIENCE`` steps), within a budget that rarely binds: from an encoder's start
(the shipped generator has one) in whitened coordinates, at most 200 steps; from a random
start (no encoder) 8 starts per image from the prior, the best kept after 50 steps, at
most 300 steps. Chosen with ``python benchmarks/lvr_converge.py`` (gap to the projection
started at the true latents, against seconds, at sigma 10 to 100): at the same cost, 50
whitened Adam steps (the previous default) stopped 2 dB short of that projection at sigma
25 and 6.8 dB at sigma 10, L-BFGS 0.2 and 0.5 dB. Adam (``optimizer="adam"``) and
gradient descent keep the fixed budgets they had.

The prior: "uniform" (the paper's box, projected by default) or "normal" (no box), from
the generator's ``config.prior`` or the ``prior`` field.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, replace

__all__ = ["LVRSettings", "INITS", "PRIORS", "PRIOR_STRATEGY", "prior_of", "STRATEGIES",
           "OPTIMIZERS", "LR_SCHEDULES", "DEFAULTS", "DEFAULT_OPTIMIZER", "DEFAULT_TOL",
           "DEFAULT_PATIENCE", "DEFAULT_STEPS", "ENCODER_STEPS", "PLATEAU_FACTOR",
           "PLATEAU_CUTS", "PAPER_OPTIMISER", "PAPER_REGIME", "PAPER_TOL", "PAPER_PATIENCE",
           "STOCHASTIC_REFUSED"]

STRATEGIES = ("none", "project", "stochastic")   # box treatments (lvrlib.updates)
PRIORS = ("uniform", "normal")                   # latent priors: the paper's box, or N(0, I)
#: The box treatment a prior gets by default: projected gradient in the uniform prior's
#: box; none for a Gaussian prior, which has no box.
PRIOR_STRATEGY = {"uniform": "project", "normal": "none"}
OPTIMIZERS = ("adam", "sgd", "lbfgs")            # update rules (lvrlib.updates)
LR_SCHEDULES = ("constant", "cosine", "step", "plateau")   # step-size schedules (updates.lr_schedule)
#: The "plateau" schedule: an image's step size is multiplied by PLATEAU_FACTOR each time
#: its loss stops falling (LVRSettings.tol over .patience steps), and the image stops
#: after PLATEAU_CUTS cuts.
PLATEAU_FACTOR = 0.5
PLATEAU_CUTS = 3
DEFAULT_OPTIMIZER = "lbfgs"
DEFAULT_TOL = 1e-5
DEFAULT_PATIENCE = 10
#: recover()'s defaults by start ("encoder", or "random" for a random or given start) and
#: update rule, chosen with ``python benchmarks/lvr_converge.py`` (gap to the projection
#: started at the true latents, at sigma 10..100, against seconds). L-BFGS runs until each
#: image's loss has stopped falling (``tol`` over ``patience`` steps) within a budget
#: that rarely binds; from a random start it runs 8 starts per image and keeps the best
#: after 50 steps (after 20, on the gan-face-generate DCGAN without an encoder, the start
#: kept was often not the one that ends best: 32 of its samples at sigma 50 ended 2.14 dB
#: from the projection started at the true latent on average, against 1.37 dB after 50,
#: at 1.5 times the seconds). Adam and gradient descent keep the fixed budgets they had.
DEFAULTS = {
    ("encoder", "lbfgs"): dict(steps=200, lr=1.0, schedule="constant", tol=DEFAULT_TOL,
                               restarts=1),
    ("random", "lbfgs"): dict(steps=300, lr=1.0, schedule="constant", tol=DEFAULT_TOL,
                              restarts=8, prune_after=50),
    ("encoder", "adam"): dict(steps=50, lr=0.1, schedule="constant", restarts=1),
    ("random", "adam"): dict(steps=200, lr=0.1, schedule="cosine", restarts=1),
    ("encoder", "sgd"): dict(steps=200, lr=0.1, schedule="constant", restarts=1),
    ("random", "sgd"): dict(steps=200, lr=0.1, schedule="constant", restarts=1),
}
#: Update rules stochastic clipping is refused under, and why: it is a rule for small
#: gradient steps (the paper's plain gradient descent), under which a component rarely
#: crosses the box's boundary. Measured on 16 noiseless generated images from the
#: encoder's start (shipped generator): projected L-BFGS 113.6 dB; stochastic clipping
#: under Adam 21.1 dB after 50 steps at lr 0.1 and 33.6 dB after 300 with a cosine decay
#: from 0.03 (projected: 44.0 and 53.0 dB), and 23.3 and 23.8 dB with the moments of a
#: redrawn component restarted; under L-BFGS it ends at a latent error of about that of
#: a random point of the box.
_REDRAWS = ("stochastic clipping redraws every component that leaves the box; {why}, so "
            "it would end near a random point of the box. Use strategy='project' (the "
            "default) for the projection, or optimizer='sgd' (plain gradient descent, the "
            "paper's optimiser: lvrlib.settings.PAPER_REGIME) for stochastic clipping.")
STOCHASTIC_REFUSED = {
    "lbfgs": "strategy='stochastic' with optimizer='lbfgs' (recover()'s default): "
             + _REDRAWS.format(why="each redraw breaks the curvature pairs L-BFGS steps from"),
    "adam": "strategy='stochastic' with optimizer='adam': " + _REDRAWS.format(
        why="Adam's steps are about lr per component whatever the gradient, and "
            "components at the boundary keep crossing it (restarting their moments does not help)"),
}
ENCODER_STEPS = DEFAULTS[("encoder", DEFAULT_OPTIMIZER)]["steps"]
DEFAULT_STEPS = DEFAULTS[("random", DEFAULT_OPTIMIZER)]["steps"]
INITS = ("auto", "encoder", "random")


@dataclass(frozen=True)
class LVRSettings:
    """How ``recover`` runs. None means "recover()'s default for the start it uses".

    strategy: box treatment, "none", "project" or "stochastic"; None: the prior's
    (``PRIOR_STRATEGY``: "project" for the uniform prior, "none" for a normal one, which
    has no box and refuses the other two).
    prior: the generator's latent prior, "uniform" (the paper's box [-1, 1]^nz) or
    "normal" (N(0, I)); None: ``generator.config.prior`` when the generator has one, else
    "uniform". Random starts are drawn from it.
    optimizer: "lbfgs" (default: limited-memory BFGS per image, ``updates.LBFGS``), "adam"
    (per-image, per-component Adam) or "sgd" (plain gradient descent on the per-image
    mean squared error, as the paper).
    steps: gradient steps per image (at most, with ``tol``). lr: (initial) step size (for
    L-BFGS the longest step, as a fraction of the quasi-Newton step).
    schedule: how the step size changes over the steps (``updates.lr_schedule``).
    restarts: starts per image; the start with the lowest final loss is kept.
    None (this and every other None): ``DEFAULTS`` for the start and optimizer.
    prune_after: with restarts, the step after which each image goes on from its best
    start only (the loss so far decides; the others stop and cost nothing more); None:
    every start runs to the end.
    init: "encoder" (the latent an encoder predicts from y), "random" (a draw from the
    prior) or "auto" (the encoder when there is one, else random); with restarts > 1 the
    first start is the encoder's and the others random. Resolved: "given" when the caller
    passed the starting latents.
    precondition: steps in whitened coordinates (``encoder.whitening``); None: when the
    encoder in use carries the generator's curvature; True: always; False: never.
    tol, patience: an image stops when its loss fell by less than a relative ``tol`` over
    the last ``patience`` steps (``RecoveryResult.converged``); tol None: the default
    (L-BFGS: ``DEFAULT_TOL``; Adam and gradient descent run every step).
    id: a name for this way of running LVR (tables, benchmarks); not used by recover.
    """

    strategy: str | None = None
    prior: str | None = None
    optimizer: str | None = None
    steps: int | None = None
    lr: float | None = None
    schedule: str | None = None
    restarts: int | None = None
    prune_after: int | None = None
    init: str = "auto"
    precondition: bool | None = None
    tol: float | None = None
    patience: int = DEFAULT_PATIENCE
    id: str = ""

    def __post_init__(self):
        if not isinstance(self.precondition, (bool, type(None))):
            raise ValueError("precondition must be True, False or None; pass a curvature "
                             "matrix to recover() as curvature=.")
        for name in ("steps", "restarts", "patience", "prune_after"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
                raise ValueError(f"{name}={v!r}; expected a whole number.")
            if v is not None:
                object.__setattr__(self, name, int(v))   # numpy integers as Python ints
        if self.prune_after is not None and self.prune_after < 1:
            raise ValueError(f"prune_after={self.prune_after}; expected >= 1 steps or None.")
        if self.patience < 1:
            raise ValueError(f"patience={self.patience}; expected >= 1 steps.")
        if self.strategy is not None and self.strategy not in STRATEGIES:
            raise ValueError(f"strategy={self.strategy!r}; expected one of {STRATEGIES}.")
        if self.prior is not None and self.prior not in PRIORS:
            raise ValueError(f"prior={self.prior!r}; expected one of {PRIORS}.")
        if self.prior == "normal" and self.strategy not in (None, "none"):
            raise ValueError(f"strategy={self.strategy!r} with prior='normal': a Gaussian prior "
                             "has no box to project onto or to redraw from; use "
                             "strategy='none' (the default for it).")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r}; expected one of {OPTIMIZERS}.")
        if (self.steps is not None and self.steps < 1) or (self.restarts is not None
                                                            and self.restarts < 1):
            raise ValueError(f"steps={self.steps}, restarts={self.restarts}; both must be >= 1.")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr={self.lr}; expected a positive step size.")
        if self.tol is not None and not self.tol >= 0:
            raise ValueError(f"tol={self.tol}; expected a non-negative relative tolerance or None.")
        if self.schedule is not None and self.schedule not in LR_SCHEDULES:
            raise ValueError(f"schedule={self.schedule!r}; expected one of {LR_SCHEDULES}.")
        if self.init not in (*INITS, "given"):
            raise ValueError(f"init={self.init!r}; expected one of {INITS}.")

    def replace(self, **fields) -> "LVRSettings":
        """A copy with ``fields`` changed (checked like a new value)."""
        return replace(self, **fields)

    def asdict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """How these settings (resolved: ``resolve``) run LVR, in words: the start, the
        steps and the step size."""
        if self.steps is None or self.lr is None or self.schedule is None:
            raise ValueError("describe() needs resolved settings: settings.resolve(G)[0].")
        where = {"encoder": "the encoder's latent", "random": "a random latent",
                 "given": "the given latents"}.get(self.init, f"init={self.init}")
        more = f", best of {self.restarts} starts" if self.restarts > 1 else ""
        if self.restarts > 1 and self.prune_after is not None:
            more += f" (the best kept after {self.prune_after} steps)"
        decay = "constant step size" if self.schedule == "constant" else f"{self.schedule} decay"
        kind = ("whitened " if self.precondition else "") + {
            "adam": "Adam steps", "lbfgs": "L-BFGS steps", "sgd": "gradient descent steps"
        }[self.optimizer]
        until = (f" until its loss falls by less than {self.tol:g} (relative) in {self.patience} "
                 "steps" if self.tol is not None else "")
        count = f"at most {self.steps}" if self.tol is not None else f"{self.steps}"
        return f"from {where}, {count} {kind} at lr {self.lr:g} ({decay}){until}{more}"

    def resolve(self, generator, encoder=None, *, given_start: bool = False,
                curvature=None) -> tuple["LVRSettings", object]:
        """The settings as they run on ``generator``: the start chosen (``init`` one of
        "given", "encoder", "random"), steps, lr and schedule filled in for it, and
        ``precondition`` True or False; with the encoder that gives the start (or None).
        ``curvature``: an explicit curvature matrix for the whitening (precondition on)."""
        from .encoder import carries_curvature, choose_start

        start, encoder = choose_start(generator, self.init, encoder, given_start)
        prior = self.prior if self.prior is not None else prior_of(generator)
        strategy = self.strategy if self.strategy is not None else PRIOR_STRATEGY[prior]
        optimizer = self.optimizer if self.optimizer is not None else DEFAULT_OPTIMIZER
        if prior == "normal" and strategy != "none":
            replace(self, prior=prior)   # refused: a Gaussian prior has no box
        if strategy == "stochastic" and optimizer in STOCHASTIC_REFUSED:
            raise ValueError(STOCHASTIC_REFUSED[optimizer])
        d = dict(DEFAULTS[("encoder" if start == "encoder" else "random", optimizer)],
                 optimizer=optimizer)
        if start != "random":
            d.update(restarts=1, prune_after=None)
        filled = {k: v if getattr(self, k) is None else getattr(self, k) for k, v in d.items()}
        if filled["restarts"] == 1:
            filled["prune_after"] = None
        if curvature is not None:
            whiten = self.precondition is not False
        elif self.precondition is None:
            whiten = start == "encoder" and carries_curvature(encoder)
        else:
            whiten = bool(self.precondition)
        return replace(self, init=start, precondition=whiten, prior=prior, strategy=strategy,
                       **filled), encoder


def prior_of(generator) -> str:
    """The latent prior a generator declares (``generator.config.prior``), else "uniform"
    (the paper's, and that of every generator lvrlib trains)."""
    prior = getattr(getattr(generator, "config", None), "prior", None)
    if prior is None:
        return "uniform"
    if prior not in PRIORS:
        raise ValueError(f"The generator's config declares prior={prior!r}; expected one of "
                         f"{PRIORS}.")
    return prior


#: The paper's optimiser (Lipton & Tripathi's code): plain gradient descent at step size 1
#: on the per-image mean squared error, from a random start; the step count is the caller's.
PAPER_OPTIMISER = LVRSettings(optimizer="sgd", init="random", lr=1.0, schedule="constant",
                              id="paper")

#: The paper's regime, as its text and reference [7] run LVR: plain gradient descent at
#: step size 1 from a random start, until the image's loss has stopped falling: its
#: lowest loss fell by less than PAPER_TOL (relative) over PAPER_PATIENCE steps (the
#: per-step rate, 1e-6, of recover()'s default rule: 1e-5 over 10 steps), within
#: PAPER_STEPS steps. The box treatment is the caller's (the paper's LVR: stochastic).
#: The window is long because under stochastic clipping a redraw raises the loss and
#: the descent takes a few hundred steps to win it back: with 1e-4 over 100 steps the
#: rule stopped 47 of 48 stochastic recoveries after a median of 900 steps whose lowest
#: loss had still fallen by a median 0.7% over their last fifth (sigma 25).
#: On a 2-core CPU a step costs about 6 ms per image, so PAPER_STEPS is what a recorded
#: run of the book can afford; the reference code runs tens of thousands of steps, and
#: the recorded run (book/data/paper_regime_cpu) says how often the budget bound.
PAPER_TOL = 5e-4
PAPER_PATIENCE = 500
PAPER_STEPS = 3000
PAPER_REGIME = PAPER_OPTIMISER.replace(steps=PAPER_STEPS, tol=PAPER_TOL,
                                       patience=PAPER_PATIENCE, id="paper-regime")
