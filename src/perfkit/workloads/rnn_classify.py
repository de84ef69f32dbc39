"""rnn_classify: a short fit of a recurrent text classifier (an embedding, a one-layer GRU
or LSTM, its states max-pooled over time into a linear classifier) on a seeded synthetic
corpus tokenised by perfkit (``perfkit.datasets.corpus``), ``STEPS`` steps of SGD with
momentum (learning rate ``LEARNING_RATE``) from PyTorch's initial parameters for the case's
seed.

Each document hides 3 keywords of its class among Zipf-distributed filler words, wherever
they fall; the cell must carry each far enough for the pooling to see it. The fit is
checked: the loss falls and the held-out accuracy is at least ``BAND`` (four classes: a
model that learned nothing scores about 0.25). A call is the whole fit; ``throughput``
gives steps/s and samples (documents)/s."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.datasets.classification import stratified_split
from perfkit.datasets.corpus import Tokenizer, generate_corpus
from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.registry import register_workload
from perfkit.model.workload import CheckResult, Work, workload
from perfkit.workloads._torch_fit import add_classifier_ports, batches, trained_accuracy
from perfkit.workloads._training import check_fit

STEPS = 200
LEARNING_RATE = 0.1
BAND = 0.90
CLASSES = 4
DOCUMENTS = 8_192
EMBEDDING = 32
CELLS = ("gru", "lstm")


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    length = int(params["length"])
    texts, labels = generate_corpus(DOCUMENTS, CLASSES, length, rng)
    rows = np.arange(len(texts))
    order = stratified_split(rows, labels, rng)
    train_texts = [texts[i] for i in order.x_train]
    tokenizer = Tokenizer.fit(train_texts)
    x_train = tokenizer.encode(train_texts, length + 3)  # the keywords lengthen a text by 3
    x_test = tokenizer.encode([texts[i] for i in order.x_test], length + 3)
    x_batches, y_batches = batches(x_train, order.y_train, int(params["batch"]))
    return {
        "vocabulary": tokenizer.size,
        "x_test": x_test,
        "y_test": order.y_test,
        "x_batches": x_batches,
        "y_batches": y_batches,
        "seed": int(rng.integers(0, 2**31 - 1)),
    }


class _Classifier:
    """Built lazily so that importing the workload does not import torch."""

    @staticmethod
    def make(vocabulary: int, cell: str, hidden: int) -> Any:
        from torch import nn

        class RecurrentClassifier(nn.Module):  # type: ignore[misc, unused-ignore]
            def __init__(self) -> None:
                super().__init__()
                self.embed = nn.Embedding(vocabulary, EMBEDDING, padding_idx=0)
                kind = nn.GRU if cell == "gru" else nn.LSTM
                self.cell = kind(EMBEDDING, hidden, batch_first=True)
                self.out = nn.Linear(hidden, CLASSES)

            def forward(self, tokens: Any) -> Any:
                states, _ = self.cell(self.embed(tokens))
                return self.out(states.amax(dim=1))

        return RecurrentClassifier()


def build(inputs: dict[str, Any], params: Params) -> Any:
    return _Classifier.make(int(inputs["vocabulary"]), str(params["cell"]), int(params["hidden"]))


def _truth(inputs: dict[str, Any], params: Params) -> dict[str, Any]:
    return {"vocabulary": inputs["vocabulary"], "x": inputs["x_test"], "y": inputs["y_test"]}


def _check(output: Any, truth: dict[str, Any], params: Params) -> CheckResult:
    losses, state = output
    model = build({"vocabulary": truth["vocabulary"]}, params)
    found = trained_accuracy(model, state, truth["x"], truth["y"])
    return check_fit(losses, found, minimum=BAND)


def _work(params: Params) -> Work:
    return Work(items=int(params["batch"]) * STEPS, steps=STEPS, dtype="float32")


RNN_CLASSIFY = workload(
    name="rnn_classify",
    doc=f"{STEPS} SGD-momentum steps of a GRU/LSTM text classifier; held-out accuracy band",
    space=ParamSpace(
        (
            Axis("cell", CELLS, choices=CELLS, doc="the recurrent cell: gru or lstm"),
            Axis("batch", (64, 256), quick=(64,), doc="documents per step"),
            Axis("length", (32, 128), quick=(32,), doc="most filler words in a document"),
            Axis("hidden", (64, 256), quick=(64,), doc="the cell's hidden units"),
        )
    ),
    make_inputs=_inputs,
    expected=_truth,
    check=_check,
    work=_work,
    suite="nn",
)
add_classifier_ports(RNN_CLASSIFY, build, steps=STEPS, lr=LEARNING_RATE)
register_workload(RNN_CLASSIFY)
