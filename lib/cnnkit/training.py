"""The torch training loop of the kit: device-agnostic, mixed precision, time budget, checkpoints,
history, progress bar and live curves.

Notebook 03's students write their own loop; `fit` and `default_step` are its reference and sit in
notebook 03's exercise region, so the library of notebooks 01 to 03 (not 03b) stubs them (03b,
stage 04, instructors and `cnnkit demo` get the full library). `History`, `LivePlot`, `evaluate`
and the checkpoint helpers are for everybody.

The same call trains on a laptop CPU, Apple MPS and a CUDA GPU: the device comes from
`cnnkit.get_device()` (never a hard-coded 'cuda'), the model and every batch follow it. On CUDA, fit
turns on what makes a GPU fast by default: mixed precision and the channels_last memory layout.

Mixed precision (amp): autocast to bfloat16 where the GPU supports it (Ampere and newer: A100, H100,
RTX 30xx+) — same exponent range as float32, so no loss scaling is needed; else float16 (T4, V100,
Colab's free GPU) with a GradScaler so small gradients do not underflow. Weights stay float32.
AMP is only used on CUDA; on CPU/MPS fit runs in float32.

Optimizer: AdamW (lr 1e-3, the `lr` default) unless you pass one. AdamW forgives a badly chosen learning
rate far more than SGD, which is what a first training run needs; pass `optimizer="sgd"` for
SGD with Nesterov momentum 0.9 (the classic CNN recipe, use lr ~0.05-0.1), or an optimizer instance.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "History",
    "LivePlot",
    "default_step",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]


@dataclass
class History:
    """What fit records, one entry per epoch (an epoch cut short by time_limit counts).

    Lists: train_loss, train_acc (running means over the epoch's batches), val_loss, val_acc (empty
    without a val_loader), lr (first param group's at the end of the epoch), epoch_time (seconds).
    Also: stopped_early (time_limit hit), best_epoch (0-based index of the restored weights, or None),
    total_time (seconds).
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None
    total_time: float = 0.0

    @property
    def best_val_acc(self):
        """Highest validation accuracy seen, or None without validation."""
        return max(self.val_acc) if self.val_acc else None

    def as_dict(self) -> dict:
        """A JSON-able dict of everything recorded."""
        return asdict(self)

    def plot(self, ax=None):
        """Loss and accuracy curves (cnnkit.vis.plot_history); returns the Figure."""
        from cnnkit.vis import plot_history

        return plot_history(self, ax=ax)


def _move(batch, device, channels_last=False):
    """Move every tensor of a batch (tensor, tuple, list or dict) to device without blocking."""
    if isinstance(batch, torch.Tensor):
        if channels_last and batch.dim() == 4:
            return batch.to(device, non_blocking=True, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_move(b, device, channels_last) for b in batch)
    if isinstance(batch, dict):
        return {k: _move(v, device, channels_last) for k, v in batch.items()}
    return batch


def _model_device(model):
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _amp_dtype():
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _autocast(device, enabled, dtype):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


# default_step is notebook 03's train_step with loss scaling: it is gated with that notebook's
# exercises, so the library of notebooks 01 to 03 stubs it, as it stubs fit (03b on get both).
# BEGIN EXERCISE 03_pytorch_cnn
def default_step(model, batch, optimizer, loss_fn, scaler=None, autocast=None):
    """One optimisation step on one batch: forward, loss, zero_grad, backward, update.

    A custom step_fn for fit has the same first four parameters and the same return value.

    Inputs:
    - model: the nn.Module, in train mode, on the batch's device.
    - batch: (x, y) with x: (N, ...) inputs, y: (N,) integer class labels.
    - optimizer: a torch optimizer over model's parameters.
    - loss_fn: loss on raw scores (logits): loss_fn(scores (N, C), y (N,)) -> scalar mean loss.
    - scaler: optional torch.amp.GradScaler (float16 autocast).
    - autocast: optional context manager factory for the forward pass (mixed precision).

    Returns:
    - loss: scalar tensor (detached), the batch's mean loss.
    - n_correct: scalar tensor, how many argmax predictions equal y.
    - n: int, the batch size.
    """
    x, y = batch[0], batch[1]
    with autocast() if autocast is not None else contextlib.nullcontext():
        scores = model(x)
        loss = loss_fn(scores, y)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    n_correct = (scores.detach().argmax(dim=1) == y).sum()
    return loss.detach(), n_correct, int(y.shape[0])


# END EXERCISE


@torch.no_grad()
def evaluate(model, loader, device=None, loss_fn=None, amp=None, channels_last=None):
    """Mean loss and accuracy of a classifier over a loader, in eval mode without gradients.

    The model's train/eval mode is restored afterwards.

    Inputs:
    - model: nn.Module mapping x (N, ...) to scores (N, C).
    - loader: iterable of (x, y) batches, y: (N,) integer labels.
    - device: where to run; default the device of the model's parameters (the model is not moved
      unless a device is given).
    - loss_fn: loss on scores (mean over the batch); default cross-entropy.
    - amp: autocast on CUDA (default: on for CUDA, as in fit).
    - channels_last: move 4-D inputs to channels_last (default: on for CUDA, as in fit).

    Returns:
    - loss: float, mean loss per example.
    - acc: float in [0, 1], accuracy.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    if device is None:
        device = _model_device(model)
    else:
        device = torch.device(device)
        model.to(device)
    use_amp = device.type == "cuda" and (amp is None or amp)
    channels_last = device.type == "cuda" if channels_last is None else channels_last
    was_training = model.training
    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    total_correct = torch.zeros((), dtype=torch.int64, device=device)
    total = 0
    try:
        for batch in loader:
            x, y = _move(batch, device, channels_last)[:2]
            with _autocast(device, use_amp, _amp_dtype() if use_amp else None):
                scores = model(x)
                loss = loss_fn(scores, y)
            n = int(y.shape[0])
            total_loss += loss.double() * n
            total_correct += (scores.argmax(dim=1) == y).sum()
            total += n
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("evaluate: the loader yielded no examples")
    return float(total_loss) / total, int(total_correct) / total


def _make_optimizer(optimizer, model, lr, weight_decay):
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer is None or optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
        )
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if callable(optimizer):
        return optimizer(params)
    raise ValueError(
        f"optimizer must be None, 'adamw', 'sgd', a torch optimizer or a callable, not {optimizer!r}"
    )


def _make_schedule(schedule, optimizer, epochs, steps_per_epoch):
    if schedule is None:
        return None, None
    if schedule == "onecycle":
        if not steps_per_epoch:
            raise ValueError("schedule='onecycle' needs a train_loader with a len()")
        cycle_momentum = all(
            "betas" in g or g.get("momentum", 0) > 0 for g in optimizer.param_groups
        )
        sched = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=epochs * steps_per_epoch,
            cycle_momentum=cycle_momentum,
        )
        return sched, "batch"
    if schedule == "step":
        # lr x0.1 twice over the run, the classic ResNet recipe scaled to `epochs`
        sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
        return sched, "epoch"
    raise ValueError(f"schedule must be 'onecycle', 'step' or None, not {schedule!r}")


def _in_jupyter() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    # a kernel (Jupyter, VS Code, Colab) rather than the terminal IPython, which cannot redraw in place
    return "IPKernelApp" in getattr(shell, "config", {}) or "google.colab" in type(shell).__module__


class LivePlot:
    """Redraws a History's curves in place in a Jupyter output cell; does nothing elsewhere.

    Usage in a training loop: `live = LivePlot(enabled)` before the first epoch, then
    `live.update(history)` after each epoch.
    """

    def __init__(self, enabled=True):
        self.enabled = enabled and _in_jupyter()
        self.handle = None

    def update(self, history):
        if not self.enabled:
            return
        import io

        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        fig = history.plot()
        # a PNG rather than the Figure: shows whatever matplotlib backend the kernel uses
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        plt.close(fig)  # else Jupyter shows it a second time when the cell ends
        image = Image(data=buf.getvalue(), format="png")
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)


# fit is the reference of notebook 03's own training loop (students write `train` there): it is
# gated with that notebook's exercises, so the library of notebooks 01 to 03 (not 03b) stubs it; instructors, the
# demo and stage 04 use the full library.
# BEGIN EXERCISE 03_pytorch_cnn
def fit(
    model,
    train_loader,
    val_loader=None,
    *,
    epochs=1,
    time_limit=None,
    device=None,
    optimizer=None,
    lr=1e-3,
    weight_decay=0.0,
    schedule="onecycle",
    amp=None,
    channels_last=None,
    loss_fn=None,
    step_fn=None,
    checkpoint=None,
    config=None,
    progress=True,
    live_plot=False,
):
    """Train a classifier; keep the weights with the best validation accuracy.

    Notebook 03's students write this loop themselves: in the library of notebooks 01 to 03 (not 03b) fit (and
    default_step) is a stub.

    Inputs:
    - model: nn.Module mapping x (N, ...) to scores (N, C); moved to `device` in place.
    - train_loader: iterable of (x, y) batches (a DataLoader; len() needed for 'onecycle').
    - val_loader: optional iterable of (x, y) batches, evaluated after every epoch.
    - epochs: passes over train_loader.
    - time_limit: optional seconds; training stops between two batches once this much time has passed
      since the first epoch started (validation included; the cut epoch is still validated and
      recorded; history.stopped_early is set). A 'onecycle' schedule is planned over all epochs, so
      a run cut early ends at a high lr: the restored best-val weights soften that.
    - device: torch device or string; default cnnkit.get_device() (cuda -> mps -> cpu).
    - optimizer: None/'adamw' (AdamW), 'sgd' (SGD, Nesterov momentum 0.9), a torch optimizer over the
      model's parameters, or a callable params -> optimizer.
    - lr, weight_decay: for the optimizers fit builds (the peak lr for 'onecycle').
    - schedule: 'onecycle' (OneCycleLR over all batches of all epochs, stepped every batch), 'step'
      (StepLR x0.1 every epochs//3 epochs) or None.
    - amp: mixed precision; default on for CUDA only (bfloat16, else float16 with a GradScaler).
    - channels_last: NHWC memory layout for model and 4-D inputs; default on for CUDA only.
    - loss_fn: loss on raw scores, loss_fn(scores, y) -> mean loss; default nn.CrossEntropyLoss().
    - step_fn: optional step_fn(model, batch, optimizer, loss_fn) -> (loss, n_correct, n) replacing
      default_step; the batch arrives on the device; fit runs it under autocast when amp is on (with
      float16 there is no loss scaling in a custom step: pass amp=False if gradients underflow).
    - checkpoint: optional path; the best model so far (by val accuracy; the last one without a
      val_loader) is saved there with save_checkpoint.
    - config: optional JSON-able dict stored in the checkpoint to rebuild the model
      (default: model.config when it is a dict).
    - progress: show a tqdm progress bar with running loss and accuracy.
    - live_plot: redraw the loss/accuracy curves after every epoch in Jupyter (no-op elsewhere).

    Returns:
    - history: a History.
    """
    from tqdm.auto import tqdm

    from cnnkit.runtime import get_device

    t_start = time.perf_counter()
    device = get_device() if device is None else torch.device(device)
    on_cuda = device.type == "cuda"
    use_amp = on_cuda if amp is None else (bool(amp) and on_cuda)
    if amp and not on_cuda:
        print(f"cnnkit.fit: mixed precision is only used on CUDA; training in float32 on {device}")
    channels_last = on_cuda if channels_last is None else bool(channels_last)
    amp_dtype = _amp_dtype() if use_amp else None
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    if config is None and isinstance(getattr(model, "config", None), dict):
        config = model.config

    was_training = model.training
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = _make_optimizer(optimizer, model, lr, weight_decay)
    try:
        steps_per_epoch = len(train_loader)
    except TypeError:
        steps_per_epoch = None
    sched, sched_every = _make_schedule(schedule, opt, epochs, steps_per_epoch)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    autocast = lambda: _autocast(device, use_amp, amp_dtype)
    if step_fn is None:
        step = lambda m, b, o, lf: default_step(m, b, o, lf, scaler=scaler, autocast=autocast)
    else:

        def step(m, b, o, lf):
            with autocast():
                return step_fn(m, b, o, lf)

    history = History()
    live = LivePlot(live_plot)
    # the budget counts training and validation, not the one-off setup above (first optimizer
    # construction imports torch._dynamo: seconds on a busy machine)
    t_budget = time.perf_counter()
    best_acc, best_state = -1.0, None
    try:
        for epoch in range(epochs):
            t_epoch = time.perf_counter()
            model.train()
            # running sums stay on the device: a .item() per batch would stall the GPU queue
            run_loss = torch.zeros((), dtype=torch.float64, device=device)
            run_correct = torch.zeros((), dtype=torch.float64, device=device)
            seen = 0
            bar = tqdm(
                train_loader,
                total=steps_per_epoch,
                desc=f"epoch {epoch + 1}/{epochs}",
                disable=not progress,
                leave=True,
                dynamic_ncols=True,
            )
            for i, batch in enumerate(bar):
                if time_limit is not None and time.perf_counter() - t_budget >= time_limit:
                    history.stopped_early = True
                    break
                batch = _move(batch, device, channels_last)
                loss, n_correct, n = step(model, batch, opt, loss_fn)
                run_loss += torch.as_tensor(loss, dtype=torch.float64, device=device) * n
                run_correct += torch.as_tensor(n_correct, dtype=torch.float64, device=device)
                seen += int(n)
                if sched_every == "batch" and sched.last_epoch + 1 < sched.total_steps:
                    sched.step()
                if progress and (i % 10 == 0 or i + 1 == steps_per_epoch):
                    bar.set_postfix(
                        loss=f"{float(run_loss) / seen:.4f}", acc=f"{float(run_correct) / seen:.3f}"
                    )
            bar.close()
            if seen == 0:  # the time limit hit before this epoch's first batch
                break
            if sched_every == "epoch":
                sched.step()
            history.train_loss.append(float(run_loss) / seen)
            history.train_acc.append(float(run_correct) / seen)
            history.lr.append(float(opt.param_groups[0]["lr"]))
            improved = True
            if val_loader is not None:
                val_loss, val_acc = evaluate(
                    model,
                    val_loader,
                    device=device,
                    loss_fn=loss_fn,
                    amp=use_amp,
                    channels_last=channels_last,
                )
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                improved = val_acc > best_acc
                if improved:
                    best_acc = val_acc
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    history.best_epoch = epoch
            if improved and checkpoint is not None:
                save_checkpoint(
                    checkpoint,
                    model,
                    config=config,
                    epoch=epoch,
                    val_acc=history.val_acc[-1] if history.val_acc else None,
                )
            history.epoch_time.append(time.perf_counter() - t_epoch)
            if progress:
                msg = (
                    f"epoch {epoch + 1}/{epochs}: train loss {history.train_loss[-1]:.4f} "
                    f"acc {history.train_acc[-1]:.3f}"
                )
                if history.val_acc:
                    msg += f" | val loss {history.val_loss[-1]:.4f} acc {history.val_acc[-1]:.3f}"
                tqdm.write(msg)
            live.update(history)
            if history.stopped_early:
                break
        if history.stopped_early and progress:
            tqdm.write(f"cnnkit.fit: time limit of {time_limit:g} s reached, stopped early")
        if best_state is not None:
            model.load_state_dict(best_state)
    finally:
        model.train(was_training)
        history.total_time = time.perf_counter() - t_start
    return history


# END EXERCISE


def _check_json(name, value):
    try:
        json.dumps(value)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"save_checkpoint: {name} must be JSON-able (numbers, strings, lists, dicts): {e}"
        ) from None


def save_checkpoint(path, model, config=None, **extra):
    """Save a model so a grader can rebuild it and load it with torch.load(weights_only=True).

    The file holds a dict {"state_dict": tensors on the CPU, "config": config, "meta": {...}}: plain
    tensors and JSON-able values only, no pickled classes.

    Inputs:
    - path: file to write (parent folders are created; written atomically).
    - model: the nn.Module.
    - config: JSON-able dict of the builder's keyword arguments, e.g. build_cnn(**config).
    - **extra: JSON-able values stored in meta (epoch, val_acc, notes).

    Returns:
    - path: the Path written.
    """
    import cnnkit

    _check_json("config", config)
    _check_json("extra", extra)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config,
        "meta": {
            "model_class": type(model).__name__,
            "cnnkit_version": cnnkit.__version__,
            "torch_version": str(torch.__version__),
            **extra,
        },
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path, model=None, builder=None, map_location="cpu"):
    """Load a checkpoint written by save_checkpoint (safely: weights_only=True).

    Inputs:
    - path: the file.
    - model: an nn.Module of the right architecture to load the weights into; or
    - builder: a callable; the model is built as builder(**config) from the stored config.
    - map_location: where tensors are loaded (default the CPU).

    Returns:
    - model: the model with the loaded weights, in eval mode.
    - meta: dict, the stored meta plus "config".
    """
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path}: not a cnnkit checkpoint (no 'state_dict' key)")
    config = ckpt.get("config")
    if model is None:
        if builder is None:
            raise ValueError("load_checkpoint: pass model= or builder=")
        model = builder(**(config or {}))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    meta = dict(ckpt.get("meta") or {})
    meta["config"] = config
    return model, meta
