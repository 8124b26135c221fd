"""Shared machinery of the deep estimators: devices, seeding, epochs, interrupts, save/load."""
from __future__ import annotations

import contextlib
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

with warnings.catch_warnings():  # tqdm.auto warns in notebooks without ipywidgets, then falls back
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

from .._validation import check_choice, check_nonneg_float, check_positive_int
from ._data import LIKELIHOODS


def resolve_device(device):
    """``"auto"`` -> CUDA when present else CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` as asked."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    head, _, index = device.partition(":")
    if head not in ("cpu", "cuda", "mps") or (index and not index.isdigit()):
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.")
    if head == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA GPU; use device='cpu' or 'auto'.")
    if head == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError("device='mps' but MPS is not available; use device='cpu' or 'auto'.")
    return torch.device(device)


@contextlib.contextmanager
def seeded(seed, device):
    """Seed torch inside the block and restore the caller's global RNG state afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def to_tensors(batch, device):
    """Dict of numpy arrays (nested dicts allowed) -> dict of float32 tensors on ``device``."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, dict):
            out[key] = to_tensors(value, device)
        else:
            out[key] = torch.as_tensor(value, dtype=torch.float32, device=device)
    return out


def _plain(value):
    """numpy -> torch / python types, so saved files load with ``torch.load(weights_only=True)``."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def _unplain(value):
    if isinstance(value, torch.Tensor):
        return value.numpy()
    if isinstance(value, dict):
        return {k: _unplain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value


class DeepEstimatorBase(BaseEstimator):
    """Epoch loop with a progress bar, early stopping hooks, interrupt safety and save/load.

    Subclasses define ``_build_module(config)``, and set ``_module_config``,
    ``module_`` and the fitted attributes listed in ``_fitted_attributes``.
    """

    _fitted_attributes: tuple = ()

    def _check_common(self):
        check_positive_int(self.latent_dim, "latent_dim")
        hidden = self.hidden
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)) or not all(
                isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(f"hidden must be a tuple of positive ints (layer widths), got {self.hidden!r}.")
        check_positive_int(self.pretrain_epochs, "pretrain_epochs", minimum=0)
        check_positive_int(self.epochs, "epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        if not (isinstance(self.lr, numbers.Real) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        check_choice(self.likelihood, "likelihood", LIKELIHOODS)
        check_nonneg_float(self.tol, "tol")
        check_positive_int(self.n_init, "n_init")
        if not (isinstance(self.alpha, numbers.Real) and self.alpha > 0):
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}.")
        device = resolve_device(self.device)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return tuple(int(h) for h in hidden), device, seed

    # -- training loop ---------------------------------------------------------------------------
    def _start_history(self):
        self.history_ = {"phase": [], "epoch": [], "loss": []}
        self._snapshot = None
        self._epochs_done = {"pretrain": 0, "train": 0}

    def _record(self, phase, epoch, terms):
        h = self.history_
        row = len(h["phase"])
        h["phase"].append(phase)
        h["epoch"].append(int(epoch))
        h["loss"].append(float(terms.pop("loss")))
        for key, value in terms.items():
            column = h.setdefault(key, [float("nan")] * row)
            column.append(float(value))
        for column in h.values():  # terms absent this epoch (e.g. clustering in pretraining)
            if len(column) == row:
                column.append(float("nan"))

    def _run_phase(self, phase, n_epochs, run_epoch):
        """Call ``run_epoch(epoch) -> (terms, stop)`` up to ``n_epochs`` times.

        After every completed epoch the module's weights are snapshotted, so a
        KeyboardInterrupt in the next one can fall back to them.
        """
        bar = tqdm(range(n_epochs), desc=f"{type(self).__name__} {phase}", disable=not self.verbose,
                   leave=False)
        for epoch in bar:
            terms, stop = run_epoch(epoch)
            if terms is None:  # converged before this epoch's updates
                break
            self._record(phase, epoch, dict(terms))
            self._snapshot = {k: v.detach().clone() for k, v in self.module_.state_dict().items()}
            self._epochs_done[phase] = epoch + 1
            bar.set_postfix(loss=f"{terms['loss']:.4g}")
            if stop:
                break
        bar.close()

    def _fit_guarded(self, train, finalize):
        """Run ``train()``; on KeyboardInterrupt restore the last completed epoch and finalize anyway."""
        self.interrupted_ = False
        try:
            train()
        except KeyboardInterrupt:
            if self._snapshot is None:
                raise
            self.module_.load_state_dict(self._snapshot)
            self.interrupted_ = True
            warnings.warn(
                f"{type(self).__name__}.fit interrupted; the model keeps the weights after pretraining "
                f"epoch {self._epochs_done['pretrain']} and training epoch {self._epochs_done['train']}.",
                RuntimeWarning, stacklevel=3)
        finalize()
        self._snapshot = None
        self.n_epochs_ = dict(self._epochs_done)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path):
        """Write parameters, network weights and fitted attributes to ``path`` (``torch.save``)."""
        if not hasattr(self, "module_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit before save.")
        params = self.get_params()
        if not (params.get("random_state") is None or isinstance(params["random_state"], numbers.Integral)):
            params["random_state"] = None  # a RandomState cannot be stored as plain data
        state = {
            "class": type(self).__name__,
            "params": _plain(params),
            "module_config": _plain(self._module_config),
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
            "fitted": {name: _plain(getattr(self, name)) for name in self._fitted_attributes},
        }
        torch.save(state, path)

    @classmethod
    def load(cls, path, *, device="cpu"):
        """Rebuild a fitted model written by :meth:`save` (weights moved to ``device``)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("class") != cls.__name__:
            raise ValueError(f"{path} holds a {state.get('class')!r} model, not {cls.__name__}; "
                             f"load it with that class.")
        params = _unplain(state["params"])
        if isinstance(params.get("hidden"), list):
            params["hidden"] = tuple(params["hidden"])
        model = cls(**params)
        model._module_config = _unplain(state["module_config"])
        model.module_ = model._build_module(model._module_config)
        model.module_.load_state_dict(state["state_dict"])
        model.device_ = resolve_device(device)
        model.module_.to(model.device_).eval()
        for name, value in state["fitted"].items():
            setattr(model, name, _unplain(value))
        return model


INFERENCE_CHUNK = 2048


@torch.inference_mode()
def encode_rows(encode, data, device):
    """``encode`` applied to all rows of ``data`` in chunks; numpy out."""
    parts = []
    for start in range(0, data.n_rows, INFERENCE_CHUNK):
        idx = np.arange(start, min(start + INFERENCE_CHUNK, data.n_rows))
        x = torch.as_tensor(data.rows(idx)["input"], device=device)
        parts.append(encode(x).cpu().numpy())
    return np.vstack(parts)
