"""Shared machinery of the deep estimators: devices, seeding, checks, the training plan, save/load."""
from __future__ import annotations

import contextlib
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import validate_data

from .._validation import check_choice, check_nonneg_float, check_positive_int, check_rank, check_seed
from ._data import LIKELIHOODS
from ._train import Checkpoint, TrainingPlan

# Version of the file layout written by ``save``; bump it when the layout or a
# module's parameter names change, so that old files fail with a clear message.
FORMAT_VERSION = 2


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


@dataclass(frozen=True)
class TrainingState:
    """What ``fit(..., resume=True)`` continues from: the last checkpoint and how the fit was set up."""

    checkpoint: Checkpoint
    seed: int
    params: dict
    fingerprint: str
    module_config: dict


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def check_widths(value, name):
    """Layer widths: an int or a tuple/list of positive ints, returned as a tuple of ints."""
    widths = (value,) if isinstance(value, numbers.Integral) else value
    if not isinstance(widths, (tuple, list)) or not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0 for h in widths):
        raise ValueError(f"{name} must be a tuple of positive ints (layer widths), got {value!r}.")
    return tuple(int(h) for h in widths)


class DeepEstimatorBase(BaseEstimator):
    """Checks, the training plan, interrupt and resume, feature names, save/load.

    A subclass validates its parameters (``_check_common`` plus its own),
    gets the seed from ``_fit_seed(resume)``, builds its data, calls
    ``_record_features(X)``, builds the list of :class:`~coclust_deep.deep._train.Phase`, and calls
    ``_run_plan(config, phases, ...)``, which builds the module from
    ``_build_module(config)`` (or keeps it when resuming), trains it and sets
    ``history_``, ``n_epochs_`` and ``interrupted_``. ``_fitted_attributes``
    lists what :meth:`save` stores besides the weights.
    """

    _fitted_attributes: tuple = ()
    _likelihoods: tuple = LIKELIHOODS  # values the likelihood parameter accepts
    # may differ between a fit and the fit(..., resume=True) that continues it
    _resumable_params = ("epochs", "pretrain_epochs", "tol", "verbose")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR stays sparse; only mini-batches are densified
        return tags

    def _check_common(self):
        """Validate the parameters every deep estimator has; return ``(hidden, device)``."""
        check_positive_int(self.latent_dim, "latent_dim")
        hidden = check_widths(self.hidden, "hidden")
        check_positive_int(self.epochs, "epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        if not (isinstance(self.lr, numbers.Real) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        check_choice(self.likelihood, "likelihood", self._likelihoods)
        check_nonneg_float(self.tol, "tol")
        check_positive_int(self.n_init, "n_init")
        return hidden, resolve_device(self.device)

    def _check_pretraining(self):
        """``pretrain_epochs`` and the Student-t ``alpha`` of the models with an autoencoder and DEC heads."""
        check_positive_int(self.pretrain_epochs, "pretrain_epochs", minimum=0)
        if not (isinstance(self.alpha, numbers.Real) and self.alpha > 0):
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}.")

    # -- fit scaffolding -------------------------------------------------------------------------
    def _record_features(self, X, feature_names=None):
        """Set ``n_features_in_`` and ``feature_names_in_`` (from a DataFrame's columns or ``feature_names``)."""
        validate_data(self, X, reset=True, skip_check_array=True)
        if feature_names is None:
            return
        names = np.asarray(feature_names, dtype=object)
        if names.shape != (self.n_features_in_,) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"feature_names must be {self.n_features_in_} strings, one per column of X.")
        if hasattr(self, "feature_names_in_") and not np.array_equal(self.feature_names_in_, names):
            raise ValueError("feature_names disagree with the column names of the X DataFrame; pass one.")
        self.feature_names_in_ = names

    def _fit_seed(self, resume):
        """The seed of this fit: a fresh one, or the interrupted fit's when ``resume`` (checked)."""
        if not isinstance(resume, (bool, np.bool_)):
            raise TypeError(f"resume must be True or False, got {resume!r}.")
        if not resume:
            self._training_state = None
            return int(check_seed(self.random_state, type(self).__name__).randint(np.iinfo(np.int32).max))
        state = getattr(self, "_training_state", None)
        if state is None:
            raise ValueError(f"resume=True but this {type(self).__name__} holds no training to continue; "
                             "call fit without resume first (a loaded model cannot resume).")
        params = self.get_params()
        changed = sorted(p for p, v in params.items()
                         if p not in self._resumable_params and not _same(v, state.params.get(p)))
        if changed:
            free = [p for p in self._resumable_params if p in params]
            raise ValueError(f"resume=True continues the previous fit, but {changed} changed since; only "
                             f"{free} may change. Fit again without resume.")
        return state.seed

    def _run_plan(self, config, phases, *, seed, device, rng, fingerprint, resume, finalize):
        """Build the module (or keep it, resuming), run ``phases``, then ``finalize(plan)`` in the seeded block."""
        if resume:
            state = self._training_state
            if fingerprint != state.fingerprint or config != state.module_config:
                raise ValueError("resume=True needs the same X (and views) as the interrupted fit; "
                                 "fit again without resume for new data.")
        self.device_ = device
        with seeded(seed, device):
            if not resume:
                self._module_config = config
                self.module_ = self._build_module(config).to(device)
            plan = TrainingPlan(self.module_, phases, lr=self.lr, rng=rng, device=device,
                                verbose=self.verbose, label=type(self).__name__)
            self.interrupted_ = plan.run(self._training_state.checkpoint if resume else None)
            self._training_state = TrainingState(plan.checkpoint, seed, self.get_params(), fingerprint, config)
            self.history_ = plan.history()
            self.n_epochs_ = plan.epochs_done
            if self.interrupted_:
                done = ", ".join(f"{n} {phase} epoch(s)" for phase, n in self.n_epochs_.items())
                warnings.warn(f"{type(self).__name__}.fit interrupted; the model keeps the weights after "
                              f"{done}. fit(X, ..., resume=True) continues from there.",
                              RuntimeWarning, stacklevel=3)
            finalize(plan)

    def _check_features(self, X):
        """Same number (and names, when fit had them) of features as in fit; clear error otherwise."""
        try:
            rank = len(X.shape) if hasattr(X, "shape") else np.asarray(X).ndim
        except ValueError:  # ragged rows: check_matrix words that case
            rank = 2
        check_rank(rank)  # before sklearn, which says "X does not contain any features" for one row
        validate_data(self, X, reset=False, skip_check_array=True)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path):
        """Write parameters, network weights and fitted attributes to ``path`` (``torch.save``).

        The file records its format version and the feature names seen by
        fit; :meth:`load` refuses files of another version. It holds the
        fitted model, not the training state: a loaded model cannot resume.
        """
        if not hasattr(self, "module_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit before save.")
        params = self.get_params()
        if not (params.get("random_state") is None or isinstance(params["random_state"], numbers.Integral)):
            params["random_state"] = None  # a RandomState cannot be stored as plain data
        names = getattr(self, "feature_names_in_", None)
        state = {
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": _plain(params),
            "module_config": _plain(self._module_config),
            "state_dict": {k: v.detach().cpu() for k, v in self.module_.state_dict().items()},
            "fitted": {name: _plain(getattr(self, name)) for name in self._fitted_attributes},
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None if names is None else [str(n) for n in names],
        }
        torch.save(state, path)

    @classmethod
    def load(cls, path, *, device="cpu"):
        """Rebuild a fitted model written by :meth:`save` (weights moved to ``device``)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        version = state.get("format_version", 1) if isinstance(state, dict) else None
        if version != FORMAT_VERSION:
            raise ValueError(f"{path} holds a deep model in file format {version}, but this coclust_deep "
                             f"reads format {FORMAT_VERSION}; refit the model and save it again.")
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
        model.n_features_in_ = state["n_features_in"]
        if state["feature_names_in"] is not None:
            model.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        return model


INFERENCE_CHUNK = 2048


@torch.inference_mode()
def encode_in_chunks(n, make_batch, encode, device):
    """``encode(to_tensors(make_batch(idx)))`` over ``range(n)`` in chunks; numpy out."""
    parts = []
    for start in range(0, n, INFERENCE_CHUNK):
        idx = np.arange(start, min(start + INFERENCE_CHUNK, n))
        parts.append(encode(to_tensors(make_batch(idx), device)).cpu().numpy())
    return np.vstack(parts)
