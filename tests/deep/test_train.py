"""The training plan: atomic epoch commits, KeyboardInterrupt, resume, and torch's lazy imports."""
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.cluster import KMeans  # noqa: E402

from coclust_deep.deep import DEC, IDEC, DeepCluster, DeepCoclustering  # noqa: E402
from coclust_deep.deep._base import DeepEstimatorBase, encode_in_chunks, to_tensors  # noqa: E402
from coclust_deep.deep._data import MatrixData, fingerprint  # noqa: E402
from coclust_deep.deep._module import Losses  # noqa: E402
from coclust_deep.deep._nn import mlp  # noqa: E402
from coclust_deep.deep._train import Epoch, EpochRecord, Phase, TrainingPlan  # noqa: E402

SMALL = dict(latent_dim=8, hidden=(32,), batch_size=64, n_init=3, verbose=False)
MODELS = {
    "DEC": lambda **kw: DEC(3, pretrain_epochs=3, epochs=4, tol=0.0, random_state=0, **SMALL, **kw),
    "IDEC": lambda **kw: IDEC(3, pretrain_epochs=3, epochs=4, tol=0.0, random_state=0, **SMALL, **kw),
    "DeepCluster": lambda **kw: DeepCluster(3, epochs=4, tol=0.0, pca_components=4, passes_per_epoch=1,
                                            random_state=0, **SMALL, **kw),
    "DeepCoclustering": lambda **kw: DeepCoclustering(3, 2, pretrain_epochs=3, epochs=4, tol=0.0,
                                                      alignment_weight=0.5, random_state=0, **SMALL, **kw),
}


def _fit(model, X):
    views = {"row_views": {"v": X[:, :4] + 1.0}} if isinstance(model, DeepCoclustering) else {}
    return model.fit(X, **views), views


def _assert_same_fit(a, b):
    np.testing.assert_equal(a.history_, b.history_)  # NaN where a phase lacks a term
    assert a.n_epochs_ == b.n_epochs_
    for key, value in a.module_.state_dict().items():
        assert torch.equal(b.module_.state_dict()[key], value), key
    for name in ("labels_", "row_labels_", "column_labels_", "embedding_", "row_embedding_"):
        if hasattr(a, name):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def _interrupting(function, n):
    """``function``, except that its n-th call raises KeyboardInterrupt (as a Ctrl-C would)."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return function(*args, **kwargs)

    return wrapper


def _interrupt_on_update(monkeypatch, n):
    """Raise KeyboardInterrupt at the n-th gradient step, i.e. inside an epoch, after n - 1 updates."""
    monkeypatch.setattr(Epoch, "update", _interrupting(Epoch.update, n))


def _assert_plan_resumes_exactly(make_plan, phase, n, epochs_done):
    """Interrupt ``phase``'s n-th step, resume, and compare with an uninterrupted plan."""
    reference = make_plan()
    reference.run()
    plan = make_plan()
    step = plan.phases[phase].step
    plan.phases[phase].step = _interrupting(step, n)
    assert plan.run() is True and plan.epochs_done == epochs_done
    plan.phases[phase].step = step
    assert plan.run(resume_from=plan.checkpoint) is False
    assert plan.history() == reference.history()
    for key, value in reference.module.state_dict().items():
        assert torch.equal(plan.module.state_dict()[key], value)


# -- the plan on a toy module -----------------------------------------------------------------------
def _toy_plan(n_epochs=(2, 3), seed=0):
    torch.manual_seed(seed)
    X = torch.as_tensor(np.random.default_rng(seed).normal(size=(40, 4)), dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Linear(2, 4))
    snapshots = []

    def step(epoch):
        for idx in epoch.batches(len(X), 16):
            x = X[idx]
            epoch.update(Losses(reconstruction={"mse": ((epoch.module(x) - x) ** 2).mean()}), len(idx))
        snapshots.append({k: v.clone() for k, v in net.state_dict().items()})
        return epoch.mean()

    phases = [Phase("pretrain", n_epochs[0], step), Phase("train", n_epochs[1], step)]
    return TrainingPlan(net, phases, lr=0.01, rng=np.random.default_rng(seed)), snapshots


def _line_tracer(target, code_objects):
    """A sys.settrace hook raising KeyboardInterrupt at the ``target``-th line run in ``code_objects``."""
    count = {"n": 0}

    def local(frame, event, arg):
        if event == "line":
            count["n"] += 1
            if count["n"] == target:
                raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code in code_objects else None

    return tracer, count


def test_epoch_commit_is_atomic_wherever_the_interrupt_lands():
    """Ctrl-C at every line of the epoch loop and of the commit: history, epoch counts and weights agree."""
    reference, snapshots = _toy_plan()
    assert reference.run() is False
    code = {TrainingPlan._run_phase.__code__, TrainingPlan._commit.__code__}
    target, previous_trace = 1, sys.gettrace()
    while True:
        plan, _ = _toy_plan()
        tracer, count = _line_tracer(target, code)
        sys.settrace(tracer)
        try:
            interrupted = plan.run()
        except KeyboardInterrupt:  # before the first completed epoch: nothing to keep
            interrupted = None
        finally:
            sys.settrace(previous_trace)
        if count["n"] < target:  # the run finished before reaching this line: every line was tried
            break
        if interrupted:
            done = sum(plan.epochs_done.values())
            assert len(plan.history()["loss"]) == done >= 1
            for key, value in plan.module.state_dict().items():
                assert torch.equal(value, snapshots[done - 1][key]), (target, key)
        target += 1
    assert target > 50  # the loop and the commit were walked line by line


def test_interrupt_before_any_epoch_propagates():
    plan, _ = _toy_plan()

    def interrupted(epoch):
        raise KeyboardInterrupt

    plan.phases[0].step = interrupted
    with pytest.raises(KeyboardInterrupt):
        plan.run()


def test_plan_resume_equals_uninterrupted_run():
    _assert_plan_resumes_exactly(lambda: _toy_plan()[0], 1, 2, {"pretrain": 2, "train": 1})


def test_step_can_stop_early_and_log_monitors():
    plan, _ = _toy_plan()
    plan.phases[1].step = lambda epoch: EpochRecord(Losses(clustering={"kl": 1.0}), metrics={"change": 0.0},
                                                    stop=epoch.index == 1)
    plan.phases[1].weights = {"clustering": 0.5}
    plan.run()
    history = plan.history()
    assert plan.epochs_done == {"pretrain": 2, "train": 2}
    assert history["loss"][2:] == [0.5, 0.5] and history["change"][2:] == [0.0, 0.0]
    assert np.isnan(history["kl"][0]) and np.isnan(history["change"][0])


def test_missing_weight_for_a_kind_is_an_error():
    plan, _ = _toy_plan()
    plan.phases[0].weights = {"clustering": 1.0}
    with pytest.raises(KeyError, match="no weight for loss kind 'reconstruction'"):
        plan.run()


def _two_optimizer_plan():
    """Alternating updates with two optimisers and a schedule, as an adversarial model (DM2C) would do."""
    torch.manual_seed(0)
    X = torch.as_tensor(np.random.default_rng(1).normal(size=(40, 4)), dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Linear(2, 4))

    def step(epoch):
        for idx in epoch.batches(len(X), 8):
            x = X[idx]
            for name in ("encoder", "decoder"):
                noisy = net[0].weight + 0.01 * torch.randn_like(net[0].weight)  # draws from torch's generator
                losses = Losses(reconstruction={"mse": ((epoch.module(x) - x) ** 2).mean()},
                                auxiliary={"weight_l1": noisy.abs().mean()})
                optimizer = epoch.optimizer[name]
                optimizer.zero_grad()
                losses.total(epoch.weights).backward()
                optimizer.step()
            epoch.record(losses, len(idx))
        return epoch.mean()

    def optimizers(module):
        return {"encoder": torch.optim.Adam(module[0].parameters(), lr=0.01),
                "decoder": torch.optim.SGD(module[1].parameters(), lr=0.05, momentum=0.9)}

    phase = Phase("train", 4, step, weights={"reconstruction": 1.0, "auxiliary": 0.1}, optimizer=optimizers,
                  scheduler=lambda opts: torch.optim.lr_scheduler.StepLR(opts["decoder"], 1, gamma=0.5))
    return TrainingPlan(net, [phase], rng=np.random.default_rng(0))


def test_dict_of_optimizers_and_scheduler_resume_exactly():
    _assert_plan_resumes_exactly(_two_optimizer_plan, 0, 3, {"train": 2})


# -- a new model plugs in --------------------------------------------------------------------------
class _AutoencoderModule(torch.nn.Module):
    def __init__(self, n_input, latent_dim):
        super().__init__()
        self.encoder = mlp(n_input, (16,), latent_dim)
        self.decoder = mlp(latent_dim, (16,), n_input)

    def loss(self, x):
        z = self.encoder(x)
        return Losses(reconstruction={"mse": ((self.decoder(z) - x) ** 2).mean()},
                      auxiliary={"latent_l2": z.pow(2).mean()})


class _AutoencoderKMeans(DeepEstimatorBase):
    """The smallest estimator on the plan: an autoencoder, then k-means on its embedding."""

    _fitted_attributes = ("labels_", "history_", "n_epochs_", "interrupted_", "preprocessing_")

    def __init__(self, n_clusters=2, *, latent_dim=2, hidden=(16,), epochs=5, batch_size=32, lr=1e-2,
                 likelihood="gaussian", tol=0.0, n_init=1, device="cpu", random_state=0, verbose=False):
        for name, value in locals().items():
            if name != "self":
                setattr(self, name, value)

    def _build_module(self, config):
        return _AutoencoderModule(**config)

    def fit(self, X, y=None, *, resume=False):
        _, device = self._check_common()
        seed = self._fit_seed(resume)
        data = MatrixData(X, self.likelihood)
        self._record_features(X)
        self.preprocessing_ = data.stats

        def step(epoch):
            for idx in epoch.batches(data.n_rows, self.batch_size):
                x = to_tensors(data.inputs(idx), epoch.device)["input"]
                epoch.update(epoch.module.loss(x), len(idx))
            return epoch.mean()

        def finalize(plan):
            z = encode_in_chunks(data.n_rows, data.inputs, lambda b: self.module_.encoder(b["input"]), device)
            self.labels_ = KMeans(self.n_clusters, n_init=self.n_init, random_state=seed).fit_predict(z)

        phases = [Phase("train", self.epochs, step, weights={"reconstruction": 1.0, "auxiliary": 0.01})]
        self._run_plan(dict(n_input=data.n_cols, latent_dim=self.latent_dim), phases, seed=seed, device=device,
                       rng=np.random.default_rng(seed), fingerprint=fingerprint(data.X), resume=resume,
                       finalize=finalize)
        return self


def test_a_new_estimator_gets_history_interrupt_resume_and_save(planted, monkeypatch, tmp_path):
    X, rows, _ = planted
    reference = _AutoencoderKMeans(3).fit(X)
    assert list(reference.history_) == ["phase", "epoch", "loss", "mse", "latent_l2"]
    model = _AutoencoderKMeans(3)
    _interrupt_on_update(monkeypatch, 8 + 5)  # 240 rows in batches of 32: 8 per epoch; inside the 2nd epoch
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model.fit(X)
    assert model.n_epochs_ == {"train": 1}
    monkeypatch.undo()
    _assert_same_fit(reference, model.fit(X, resume=True))
    model.save(tmp_path / "toy.pt")
    np.testing.assert_array_equal(_AutoencoderKMeans.load(tmp_path / "toy.pt").labels_, model.labels_)


# -- the estimators ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_resume_after_interrupt_equals_uninterrupted_fit(name, planted, monkeypatch):
    """On CPU with a seed, interrupting mid-epoch and resuming gives bit-identical weights and history."""
    X, _, _ = planted
    reference, _ = _fit(MODELS[name](), X)
    n_epochs = sum(reference.n_epochs_.values())
    model = MODELS[name]()
    _interrupt_on_update(monkeypatch, 4 * (n_epochs - 2) + 2)  # 4 batches per epoch: inside the last but one
    with pytest.warns(RuntimeWarning, match="resume=True"):
        _, views = _fit(model, X)
    assert model.interrupted_ and sum(model.n_epochs_.values()) == n_epochs - 2
    assert len(model.history_["loss"]) == n_epochs - 2
    monkeypatch.undo()
    model.fit(X, resume=True, **views)
    assert not model.interrupted_
    _assert_same_fit(reference, model)


def test_resume_after_interrupt_in_setup(planted, monkeypatch):
    """Interrupted while k-means places the centres: the model is usable, and resume redoes the setup."""
    X, _, _ = planted
    reference = MODELS["IDEC"]().fit(X)
    model = MODELS["IDEC"]()
    monkeypatch.setattr(IDEC, "_init_centres", _interrupting(IDEC._init_centres, 1))
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model.fit(X)
    assert model.n_epochs_ == {"pretrain": 3, "train": 0}
    assert np.unique(model.labels_).size > 1  # finalize placed the centres itself
    model.fit(X, resume=True)
    _assert_same_fit(reference, model)


def test_resume_a_finished_fit_with_more_epochs(planted):
    X, _, _ = planted
    reference = MODELS["DEC"]().fit(X)
    model = MODELS["DEC"]().set_params(epochs=2).fit(X)
    model.set_params(epochs=4).fit(X, resume=True)
    _assert_same_fit(reference, model)
    model.fit(X, resume=True)  # nothing left to do
    _assert_same_fit(reference, model)


def test_resume_checks_what_it_continues(planted):
    X, _, _ = planted
    with pytest.raises(ValueError, match="holds no training to continue"):
        MODELS["DEC"]().fit(X, resume=True)
    model = MODELS["DEC"]().fit(X)
    with pytest.raises(ValueError, match=r"\['lr'\] changed"):
        model.set_params(lr=0.1).fit(X, resume=True)
    model.set_params(lr=1e-3)
    with pytest.raises(ValueError, match="same X"):
        model.fit(X + 1.0, resume=True)
    with pytest.raises(TypeError, match="resume must be True or False"):
        model.fit(X, resume="yes")


def test_deep_import_leaves_no_lazy_torch_import_for_fit():
    """A Ctrl-C inside torch's lazy import of torch._dynamo broke later fits: it must happen at import."""
    code = """
import sys, numpy as np, torch
torch.set_num_threads(1)
import coclust_deep.deep as deep
before = set(sys.modules)
X = np.random.default_rng(0).normal(size=(40, 6))
kw = dict(latent_dim=2, hidden=(8,), batch_size=16, n_init=1, verbose=False, random_state=0)
deep.DEC(2, pretrain_epochs=1, epochs=1, **kw).fit(X)
deep.DeepCluster(2, epochs=1, passes_per_epoch=1, pca_components=2, **kw).fit(X)
deep.DeepCoclustering(2, 2, pretrain_epochs=1, epochs=1, alignment_weight=1.0, **kw).fit(X, row_views={"v": X[:, :2]})
late = sorted(m for m in set(sys.modules) - before if m.split(".")[0] == "torch")
assert "torch._dynamo" in before and not late, late
"""
    subprocess.run([sys.executable, "-c", code], check=True)
