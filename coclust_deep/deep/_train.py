"""The training plan every deep estimator runs: phases of epochs, history, checkpoints, interrupt, resume.

A model describes its training as a list of :class:`Phase` objects, each a
name, a number of epochs and a *step* function that runs one epoch and
returns the epoch's mean :class:`~coclust_deep.deep._module.Losses` (or an
:class:`EpochRecord` with monitors and a stop flag). :class:`TrainingPlan`
does the rest, the same way for every model:

* creates each phase's optimiser (Adam over all parameters unless the phase
  says otherwise) and learning-rate scheduler, stepped after every epoch;
* records one history row per epoch: phase, epoch, the weighted total
  ``loss``, every loss term and every monitor;
* after every completed epoch, commits a :class:`Checkpoint` holding the
  weights, optimiser and scheduler state, the numpy and torch random states,
  the step functions' persistent ``state`` and the history, in one
  assignment: the weights, the history and the epoch counts can never
  disagree, whenever a KeyboardInterrupt lands;
* on KeyboardInterrupt restores the weights of the last checkpoint and
  returns ``interrupted=True`` (it re-raises when no epoch has completed);
* resumes from a checkpoint: phases already finished are skipped, the phase
  in progress continues at its next epoch with its optimiser state, random
  states and history restored, so on CPU a resumed fit equals an
  uninterrupted one.

Early stopping is the step's call: return ``None`` (converged before this
epoch's updates: nothing is recorded) or an :class:`EpochRecord` with
``stop=True`` (converged after them). Either ends the phase.

Rules for a step, so that interrupt and resume stay exact:

* draw every random number from ``epoch.rng`` or torch's global generator
  (both are checkpointed), or from a seed derived from ``epoch.index``;
* keep what must survive from one epoch to the next (previous labels,
  running targets) in ``epoch.state``, never in a closure variable;
* one optimiser: ``epoch.update(losses, n)`` does the weighted total,
  ``zero_grad``/``backward``/``step`` and the running mean. Several (e.g. a
  generator and a discriminator): return a dict from ``Phase.optimizer``,
  step them from ``epoch.optimizer[name]`` and call ``epoch.record(losses,
  n)`` for the history;
* work done once between phases (k-means on the embeddings to place the
  centres) goes in the next phase's ``setup``.

An estimator built on :class:`coclust_deep.deep._base.DeepEstimatorBase`
passes its phases to ``_run_plan``, which builds the module, runs the plan,
stores the checkpoint for ``fit(..., resume=True)`` and sets ``history_``,
``n_epochs_`` and ``interrupted_``.

Examples
--------
A complete training of an autoencoder in two phases::

    >>> import numpy as np, torch
    >>> from coclust_deep.deep._module import Losses
    >>> from coclust_deep.deep._train import EpochRecord, Phase, TrainingPlan
    >>> X = torch.as_tensor(np.random.default_rng(0).normal(size=(64, 5)), dtype=torch.float32)
    >>> net = torch.nn.Sequential(torch.nn.Linear(5, 2), torch.nn.Linear(2, 5))
    >>> def step(epoch):
    ...     for idx in epoch.batches(len(X), batch_size=16):
    ...         x = X[idx]
    ...         epoch.update(Losses(reconstruction={"mse": ((epoch.module(x) - x) ** 2).mean()}), len(idx))
    ...     return epoch.mean()
    >>> def fine_tune(epoch):
    ...     losses = step(epoch)
    ...     return EpochRecord(losses, metrics={"lr": epoch.optimizer.param_groups[0]["lr"]})
    >>> plan = TrainingPlan(net, [
    ...     Phase("pretrain", 3, step),
    ...     Phase("train", 2, fine_tune, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
    ...           scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)),
    ... ], lr=1e-2, rng=np.random.default_rng(0))
    >>> plan.run()
    False
    >>> plan.epochs_done, plan.history()["lr"][3:]
    ({'pretrain': 3, 'train': 2}, [0.1, 0.05])
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch

with warnings.catch_warnings():  # tqdm.auto warns in notebooks without ipywidgets, then falls back
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

from ._module import Losses


def _import_lazily_imported_torch_modules():
    """One optimiser step on a scalar, so torch imports now what its first optimiser imports.

    The first ``torch.optim`` optimiser imports ``torch._dynamo`` (and the
    first step ``torch.profiler._cupti_monitor``). A KeyboardInterrupt inside
    that import leaves torch half-imported and breaks every later fit in the
    process, so it happens at ``import coclust_deep.deep``, not in a fit.
    """
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([weight])
    (2.0 * weight).sum().backward()
    optimizer.step()


_import_lazily_imported_torch_modules()


@dataclass
class EpochRecord:
    """What a step returns for a completed epoch.

    ``losses``: the epoch's mean loss terms (floats). ``metrics``: monitors
    recorded beside them in the history (label change, NMI, ...). ``stop``:
    the phase has converged; no further epoch of it runs.
    """

    losses: Losses
    metrics: dict = field(default_factory=dict)
    stop: bool = False


@dataclass
class Phase:
    """One phase of training.

    Parameters
    ----------
    name : str
        Phase name in the history and in ``n_epochs_`` (``"pretrain"``, ``"train"``, ...).
    n_epochs : int
        Maximum number of epochs.
    step : callable ``(Epoch) -> Losses | EpochRecord | None``
        Runs one epoch. ``None`` means converged before updating (nothing is
        recorded and the phase ends).
    weights : mapping of loss kind to float, optional
        Weight of each loss kind in the total (``Epoch.update`` and the
        history's ``loss``). Every kind the step returns must be listed;
        ``None`` weighs every kind 1.
    optimizer : callable ``(module) -> Optimizer | dict of Optimizer``, optional
        Built when the phase starts. Default: Adam over every parameter at
        the plan's learning rate. A dict (e.g. generator and discriminator)
        is passed to the step as is.
    scheduler : callable ``(optimizer) -> LRScheduler``, optional
        Learning-rate schedule, stepped after every epoch.
    setup : callable ``() -> None``, optional
        Runs once before the phase's first epoch (e.g. k-means on the
        embeddings to place cluster centres), also when the phase has 0
        epochs. Its result is committed before the first epoch, and a resume
        that starts inside the phase does not run it again.
    """

    name: str
    n_epochs: int
    step: Callable[["Epoch"], Any]
    weights: Mapping[str, float] | None = None
    optimizer: Callable[[torch.nn.Module], Any] | None = None
    scheduler: Callable[[Any], Any] | None = None
    setup: Callable[[], None] | None = None


class Epoch:
    """One epoch of one phase, as its step function sees it.

    Attributes
    ----------
    phase : str
    index : int
        Epoch number inside the phase, from 0.
    module : torch.nn.Module
    optimizer : Optimizer or dict
        What the phase's ``optimizer`` factory built.
    rng : numpy.random.Generator
        Draw every random choice (mini-batch order, subsamples) from it:
        its state is checkpointed, so a resumed fit draws the same numbers.
        torch's global generator is checkpointed too.
    state : dict
        Survives across epochs and phases and is checkpointed with the
        weights (previous labels for a convergence test, ...). Keep it small.
    weights : mapping or None
        The phase's loss-kind weights.
    device : torch.device
    """

    def __init__(self, plan, phase, index, optimizer):
        self.phase = phase.name
        self.index = index
        self.module = plan.module
        self.optimizer = optimizer
        self.rng = plan.rng
        self.state = plan.state
        self.weights = phase.weights
        self.device = plan.device
        self._sums = {}

    def batches(self, n, batch_size):
        """A random permutation of ``range(n)`` split into ``ceil(n / batch_size)`` mini-batches."""
        return np.array_split(self.rng.permutation(n), max(1, math.ceil(n / batch_size)))

    def update(self, losses, n=1, *, record=True):
        """One gradient step on ``losses.total(weights)`` with the phase's optimiser, then :meth:`record`.

        Returns the weighted total as a float.
        """
        loss = losses.total(self.weights)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if record:
            self.record(losses, n)
        return loss.item()

    def record(self, losses, n=1):
        """Add ``losses`` (of a batch of ``n`` rows) to the epoch's running means."""
        for kind, name, value in losses.terms():
            value = value.item() if isinstance(value, torch.Tensor) else float(value)
            total, count = self._sums.get((kind, name), (0.0, 0))
            self._sums[(kind, name)] = (total + value * n, count + n)

    def mean(self):
        """The recorded terms' means over the epoch (each term over the batches that had it)."""
        out = Losses()
        for (kind, name), (total, count) in self._sums.items():
            out.add(kind, name, total / count)
        return out


@dataclass(frozen=True)
class Checkpoint:
    """Everything needed to restore or resume training after a completed epoch.

    ``phase`` is the index of the phase in progress, ``epoch`` its completed
    epochs, ``started`` whether its setup has run, ``stopped`` whether it
    converged. ``history`` holds one dict per recorded epoch.
    """

    phase: int
    epoch: int
    started: bool
    stopped: bool
    epochs: dict
    history: tuple
    module: dict
    optimizer: Any
    scheduler: Any
    numpy_rng: dict
    torch_rng: tuple
    state: dict


def _torch_rng(device):
    cpu = torch.get_rng_state()
    if device.type == "cuda":
        return cpu, torch.cuda.get_rng_state(device)
    return (cpu,)


def _set_torch_rng(states, device):
    torch.set_rng_state(states[0])
    if device.type == "cuda" and len(states) > 1:
        torch.cuda.set_rng_state(states[1], device)


def _state_dicts(obj):
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return {name: copy.deepcopy(o.state_dict()) for name, o in obj.items()}
    return copy.deepcopy(obj.state_dict())


def _load_state_dicts(obj, state):
    if obj is None or state is None:
        return
    if isinstance(obj, Mapping):
        for name, o in obj.items():
            o.load_state_dict(state[name])
    else:
        obj.load_state_dict(state)


class TrainingPlan:
    """Runs ``phases`` on ``module``; see the module docstring.

    Parameters
    ----------
    module : torch.nn.Module
    phases : list of Phase
        Run in order; names must be unique.
    lr : float, default=1e-3
        Learning rate of the default optimiser.
    rng : numpy.random.Generator
        The generator steps draw from (``Epoch.rng``).
    device : torch.device, default=cpu
    verbose : bool, default=False
        A tqdm bar per phase.
    label : str, default=""
        Prefix of the progress bars.

    Attributes
    ----------
    checkpoint : Checkpoint or None
        The last commit; store it to resume later.
    state : dict
        The steps' persistent state (``Epoch.state``).
    """

    _RESERVED = ("phase", "epoch", "loss")

    def __init__(self, module, phases, *, lr=1e-3, rng, device=torch.device("cpu"), verbose=False, label=""):
        names = [p.name for p in phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique, got {names}.")
        self.module = module
        self.phases = list(phases)
        self.lr = lr
        self.rng = rng
        self.device = device
        self.verbose = verbose
        self.label = label
        self.state = {}
        self.checkpoint = None

    # -- queries ----------------------------------------------------------------------------------
    @property
    def epochs_done(self):
        """``{phase name: completed epochs}`` at the last checkpoint."""
        done = {p.name: 0 for p in self.phases}
        if self.checkpoint is not None:
            done.update(self.checkpoint.epochs)
        return done

    def started(self, name):
        """Whether phase ``name``'s setup has run (so the checkpoint holds its result)."""
        index = [p.name for p in self.phases].index(name)
        ck = self.checkpoint
        return ck is not None and (index < ck.phase or (index == ck.phase and ck.started))

    def history(self):
        """The history as ``{column: list}``, NaN where an epoch lacks a term (``pd.DataFrame``-ready)."""
        rows = () if self.checkpoint is None else self.checkpoint.history
        columns = {}
        for row in rows:
            for key in row:
                columns.setdefault(key, None)
        return {key: [row.get(key, float("nan")) for row in rows] for key in columns}

    # -- running ----------------------------------------------------------------------------------
    def run(self, resume_from=None):
        """Run the phases (from ``resume_from``, a :class:`Checkpoint`, when given).

        Returns True when a KeyboardInterrupt stopped training (the module
        then holds the weights of the last completed epoch), else False.
        """
        if resume_from is not None:
            self._restore(resume_from, everything=True)
        self.checkpoint = resume_from
        try:
            for index, phase in enumerate(self.phases):
                self._run_phase(index, phase)
        except KeyboardInterrupt:
            ck = self.checkpoint
            if ck is None or not ck.history:
                raise
            self._restore(ck, everything=False)
            return True
        return False

    def _run_phase(self, index, phase):
        ck = self.checkpoint
        if ck is not None and (index < ck.phase or (index == ck.phase and ck.stopped)):
            return  # finished before this run
        optimizer = (phase.optimizer or self._default_optimizer)(self.module)
        scheduler = phase.scheduler(optimizer) if phase.scheduler is not None else None
        if ck is not None and index == ck.phase and ck.started:
            _load_state_dicts(optimizer, ck.optimizer)
            _load_state_dicts(scheduler, ck.scheduler)
            first = ck.epoch
        else:
            if phase.setup is not None:
                phase.setup()
            self._commit(index, 0, started=True, stopped=False, optimizer=optimizer, scheduler=scheduler)
            first = 0
        bar = tqdm(total=phase.n_epochs, initial=min(first, phase.n_epochs), leave=False,
                   desc=f"{self.label} {phase.name}".strip(), disable=not self.verbose)
        try:
            for epoch in range(first, phase.n_epochs):
                record = phase.step(Epoch(self, phase, epoch, optimizer))
                if record is None:
                    self._commit(index, epoch, started=True, stopped=True, optimizer=optimizer,
                                 scheduler=scheduler)
                    break
                if isinstance(record, Losses):
                    record = EpochRecord(record)
                if scheduler is not None:
                    scheduler.step()
                row = self._row(phase, epoch, record)
                self._commit(index, epoch + 1, started=True, stopped=record.stop, optimizer=optimizer,
                             scheduler=scheduler, row=row)
                bar.update()
                bar.set_postfix(loss=f"{row['loss']:.4g}")
                if record.stop:
                    break
        finally:
            bar.close()

    def _default_optimizer(self, module):
        return torch.optim.Adam(module.parameters(), lr=self.lr)

    def _row(self, phase, epoch, record):
        terms = record.losses.as_dict()
        row = {"phase": phase.name, "epoch": int(epoch), "loss": float(record.losses.total(phase.weights))}
        for name, value in {**terms, **record.metrics}.items():
            if name in self._RESERVED:
                raise ValueError(f"{name!r} is a reserved history column; rename that loss term or metric.")
            row[name] = float(value)
        if len(row) != 3 + len(terms) + len(record.metrics):
            raise ValueError(f"metric names {sorted(record.metrics)} repeat loss term names {sorted(terms)}.")
        return row

    def _commit(self, index, epoch, *, started, stopped, optimizer, scheduler, row=None):
        """Snapshot everything, then publish it with one assignment (atomic under KeyboardInterrupt)."""
        previous = self.checkpoint
        epochs = dict(previous.epochs) if previous is not None else {}
        epochs[self.phases[index].name] = epoch
        history = previous.history if previous is not None else ()
        checkpoint = Checkpoint(
            phase=index, epoch=epoch, started=started, stopped=stopped, epochs=epochs,
            history=history + (row,) if row is not None else history,
            module={k: v.detach().clone() for k, v in self.module.state_dict().items()},
            optimizer=_state_dicts(optimizer), scheduler=_state_dicts(scheduler),
            numpy_rng=copy.deepcopy(self.rng.bit_generator.state), torch_rng=_torch_rng(self.device),
            state=copy.deepcopy(self.state),
        )
        self.checkpoint = checkpoint

    def _restore(self, checkpoint, *, everything):
        self.module.load_state_dict(checkpoint.module)
        if everything:
            self.rng.bit_generator.state = copy.deepcopy(checkpoint.numpy_rng)
            _set_torch_rng(checkpoint.torch_rng, self.device)
            self.state = copy.deepcopy(checkpoint.state)
