"""Notebook 03's training and evaluation loops, as its students write them (question 4).

`train_step`, `predict`, `evaluate`, `save_model`, `load_model` and `train` are the reference of
that question: notebook 03 shows them as its exercise (`# EXERCISE cnnkit.loops...`), stubbed in the
library of stages 01-03, and notebook 03b, released after 03 is due, imports them from here for its
experiment and its challenge (its library holds the code). `cnnkit.training.fit` is the library's
general loop (mixed precision, schedules, step functions) for instructors, the demo and stage 04.
"""

from __future__ import annotations

import copy
import time

import torch
from torch import nn

import cnnkit
from cnnkit import training

# BEGIN EXERCISE 03_pytorch_cnn


def train_step(model, batch, optimizer, loss_fn, scaler=None):
    """One optimisation step on one batch (the batch is already on the model's device).

    Inputs:
    - model: nn.Module in train mode mapping x (N, C, H, W) to scores (N, num_classes).
    - batch: (x, y) with x: (N, C, H, W) float tensor, y: (N,) int64 labels.
    - optimizer: a torch optimizer over the model's parameters.
    - loss_fn: loss on raw scores, loss_fn(scores (N, K), y (N,)) -> scalar mean loss.
    - scaler: None, or a torch.amp.GradScaler (CUDA only): then forward and loss run under
      torch.autocast("cuda", dtype=torch.float16) and the loss is scaled for backward.

    Returns:
    - loss: scalar tensor, the batch's mean loss, detached from the graph.
    - n_correct: scalar tensor, how many argmax predictions equal y.
    - n: int, the batch size N.
    """
    # BEGIN SOLUTION
    x, y = batch[0], batch[1]
    optimizer.zero_grad()
    with torch.autocast("cuda", dtype=torch.float16, enabled=scaler is not None):
        scores = model(x)
        loss = loss_fn(scores, y)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    n_correct = (scores.detach().argmax(dim=1) == y).sum()
    return loss.detach(), n_correct, int(y.shape[0])
    # END SOLUTION


def predict(model, x):
    """Predicted labels for a batch, in eval mode, on the model's device, without gradients.

    Inputs:
    - model: nn.Module mapping x (N, C, H, W) to scores (N, num_classes).
    - x: (N, C, H, W) float tensor on any device.

    Returns:
    - labels: (N,) int64 tensor on the model's device, the argmax of the scores.
    """
    # BEGIN SOLUTION
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        scores = model(x.to(device))
    return scores.argmax(dim=1)
    # END SOLUTION


def evaluate(model, loader, loss_fn=None):
    """Mean loss and accuracy over a loader, in eval mode, without gradients, on the model's device.

    Inputs:
    - model: nn.Module mapping x (N, C, H, W) to scores (N, num_classes).
    - loader: iterable of (x (B, C, H, W), y (B,)) batches on any device.
    - loss_fn: mean loss on raw scores; None means nn.CrossEntropyLoss().

    Returns:
    - loss: float, the mean loss per example over the whole loader.
    - acc: float in [0, 1], the share of correct argmax predictions.
    """
    # BEGIN SOLUTION
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = next(model.parameters()).device
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            scores = model(x)
            total_loss += loss_fn(scores, y).item() * len(y)
            correct += int((scores.argmax(dim=1) == y).sum())
            seen += len(y)
    return total_loss / seen, correct / seen
    # END SOLUTION


def save_model(path, model, example):
    """Export a model in eval mode, on the CPU, to a program file that loads without its class.

    Inputs:
    - path: file to write, ending in ".pt2", e.g. "cnn_model.pt2".
    - model: the trained nn.Module, any architecture, on any device; left as it was (mode, device).
    - example: a tensor shaped like an input batch (B, C, H, W); only its shape[1:] is used.

    Returns:
    - path: the path written (torch.export.save's format: the graph and the weights).
    """
    # BEGIN SOLUTION
    frozen = copy.deepcopy(model).cpu().eval()
    x = torch.zeros(2, *example.shape[1:])
    program = torch.export.export(frozen, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)
    return path
    # END SOLUTION


def load_model(path):
    """Load a program written by save_model (on the CPU).

    Inputs:
    - path: the .pt2 file.

    Returns:
    - model: an nn.Module that runs the saved graph on batches (N, C, H, W) of any size N; its mode
      is the one it was exported in (.eval() and .train() are refused).
    """
    # BEGIN SOLUTION
    return torch.export.load(path).module()
    # END SOLUTION


def train(
    model,
    loaders,
    epochs=1,
    lr=3e-3,
    weight_decay=5e-4,
    time_limit=None,
    device=None,
    checkpoint=None,
    live_plot=False,
):
    """Train a classifier with AdamW and a OneCycle schedule; keep the best validation weights.

    Inputs:
    - model: nn.Module mapping x (N, C, H, W) to scores (N, num_classes).
    - loaders: dict with 'train' and 'val' iterables of (x (B, C, H, W), y (B,)) batches; the
      'train' one has a len() (its number of batches).
    - epochs: passes over loaders['train'].
    - lr: the peak learning rate of OneCycleLR (AdamW).
    - weight_decay: AdamW's weight decay.
    - time_limit: None, or seconds after which training stops before the next batch.
    - device: torch device or string; None means cnnkit.get_device().
    - checkpoint: None, or a .pt2 path where save_model writes the best model so far.
    - live_plot: redraw the curves after every epoch (training.LivePlot).

    Returns:
    - history: cnnkit.training.History with one entry per epoch in train_loss, train_acc, lr,
      val_loss, val_acc, epoch_time; best_epoch; stopped_early; total_time. The model ends on
      the device with the weights of history.best_epoch.
    """
    # BEGIN SOLUTION
    t_start = time.perf_counter()
    device = cnnkit.get_device(verbose=False) if device is None else torch.device(device)
    model.to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(loaders["train"])
    )
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" else None
    history, live = training.History(), training.LivePlot(live_plot)
    best_acc, best_state = -1.0, None
    for epoch in range(epochs):
        t_epoch = time.perf_counter()
        model.train()
        run_loss, run_correct, seen = 0.0, 0, 0
        for x, y in loaders["train"]:
            if time_limit is not None and time.perf_counter() - t_start >= time_limit:
                history.stopped_early = True
                break
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            last_lr = optimizer.param_groups[0]["lr"]
            loss, n_correct, n = train_step(model, (x, y), optimizer, loss_fn, scaler)
            scheduler.step()
            run_loss += loss.item() * n
            run_correct += int(n_correct)
            seen += n
        if seen == 0:
            break
        history.train_loss.append(run_loss / seen)
        history.train_acc.append(run_correct / seen)
        history.lr.append(last_lr)
        val_loss, val_acc = evaluate(model, loaders["val"], loss_fn)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        if val_acc > best_acc:
            best_acc, history.best_epoch = val_acc, epoch
            best_state = copy.deepcopy(model.state_dict())
            if checkpoint is not None:
                save_model(checkpoint, model, x)
        history.epoch_time.append(time.perf_counter() - t_epoch)
        print(
            f"epoch {epoch + 1}/{epochs}: train loss {history.train_loss[-1]:.4f} "
            f"acc {history.train_acc[-1]:.3f} | val acc {val_acc:.3f} | {history.epoch_time[-1]:.1f} s"
        )
        live.update(history)
        if history.stopped_early:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    history.total_time = time.perf_counter() - t_start
    return history
    # END SOLUTION


# END EXERCISE
