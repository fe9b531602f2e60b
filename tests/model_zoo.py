"""The models students of this course write (the labs' BatchNorm, Dropout, Xavier, CNN, ...), as notebook cells.

Each entry: the code that defines ``model`` (and, for a hand-written model, ``params``), and what
the grader must read from it. Widths stay small so one epoch on the embedded subset takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIT = """\
def fit(model, params=None, epochs=2):
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(params if params is not None else model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        for X, Y in data_loader:
            optimizer.zero_grad()
            cost = criterion(model(X.view(-1, 28 * 28)), Y)
            cost.backward()
            optimizer.step()"""


@dataclass(frozen=True)
class Zoo:
    """One model: its code, the expected hidden layers, activations and decorations."""

    name: str
    code: str
    hidden: int
    acts: list[str | None]
    decorations: list[str] = field(default_factory=list)
    summary: str = ""
    params: str = "sum(p.numel() for p in model.parameters())"
    verified: bool = True
    unsupported: str = ""
    proof: str = "verified"

    def cell(self) -> str:
        fit = "fit(model, params)" if "params =" in self.code else "fit(model)"
        return f"# zoo: {self.name}\n{self.code}\n{fit}"


#: a hand-written 784→32→32→10 model's tensors (no nn.Module), for the models written as ``x @ W + b``
HAND_PARAMS = """\
W1 = (torch.randn(784, 32) * 0.05).requires_grad_()
b1 = torch.zeros(32, requires_grad=True)
W2 = (torch.randn(32, 32) * 0.1).requires_grad_()
b2 = torch.zeros(32, requires_grad=True)
W3 = (torch.randn(32, 10) * 0.1).requires_grad_()
b3 = torch.zeros(10, requires_grad=True)
params = [W1, b1, W2, b2, W3, b3]
"""


def _blocks(n: int, block: str, width: int = 32) -> str:
    return "".join(f"    torch.nn.Linear({784 if i == 0 else width}, {width}), {block},\n" for i in range(n))


ZOO = [
    Zoo("bn_leaky_dropout6", "model = torch.nn.Sequential(\n" + _blocks(
        6, "torch.nn.BatchNorm1d(32), torch.nn.LeakyReLU(0.1), torch.nn.Dropout(0.2)") +
        "    torch.nn.Linear(32, 10))", 6, ["leaky_relu"] * 6, ["BatchNorm", "Dropout 0.2"],
        "784→32×6→10 (LeakyReLU ×6 · BatchNorm · Dropout 0.2)"),
    Zoo("bn_dropout5", "model = torch.nn.Sequential(\n" + _blocks(
        5, "torch.nn.BatchNorm1d(32), torch.nn.ReLU(), torch.nn.Dropout(0.1)") +
        "    torch.nn.Linear(32, 10))", 5, ["relu"] * 5, ["BatchNorm", "Dropout 0.1"]),
    Zoo("xavier_dropout_modulelist", """\
import torch.nn.functional as F
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        sizes = [784] + [32] * 6 + [10]
        self.fcs = torch.nn.ModuleList([torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        for fc in self.fcs:
            torch.nn.init.xavier_uniform_(fc.weight)
    def forward(self, x):
        for fc in self.fcs[:-1]:
            x = F.dropout(F.relu(fc(x)), p=0.3, training=self.training)
        return self.fcs[-1](x)
model = Net()""", 6, ["relu"] * 6, ["Dropout 0.3"]),
    Zoo("layernorm_tanh", """\
class Block(torch.nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.fc, self.norm = torch.nn.Linear(a, b), torch.nn.LayerNorm(b, eps=1e-6)
    def forward(self, x):
        return torch.tanh(self.norm(self.fc(x)))
model = torch.nn.Sequential(Block(784, 32), Block(32, 32), Block(32, 32), torch.nn.Linear(32, 10))""",
        3, ["tanh"] * 3, ["LayerNorm"]),
    Zoo("residual_shared_act", """\
class ResMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = torch.nn.Linear(784, 32)
        self.hs = torch.nn.ModuleList([torch.nn.Linear(32, 32) for _ in range(3)])
        self.out = torch.nn.Linear(32, 10)
        self.act = torch.nn.ReLU()  # one activation module, shared by every layer
    def forward(self, x):
        x = self.act(self.inp(x))
        for h in self.hs:
            x = x + self.act(h(x))
        return self.out(x)
model = ResMLP()""", 4, ["relu"] * 4, ["residual"]),
    Zoo("sigmoid_bn6", "model = torch.nn.Sequential(\n" + _blocks(6, "torch.nn.BatchNorm1d(32), torch.nn.Sigmoid()")
        + "    torch.nn.Linear(32, 10))", 6, ["sigmoid"] * 6, ["BatchNorm"]),
    Zoo("activation_modules", "model = torch.nn.Sequential(\n" + "".join(
        f"    torch.nn.Linear({784 if i == 0 else 16}, 16), torch.nn.{a},\n" for i, a in enumerate(
            ["ELU()", "SELU()", "GELU()", "SiLU()", "Softplus()", "Hardtanh()", "ReLU6()", "PReLU()"]))
        + "    torch.nn.Linear(16, 10))", 8, ["elu", "selu", "gelu", "silu", "softplus", "hardtanh", "relu6", "prelu"]),
    Zoo("functional_calls", """\
import torch.nn.functional as F
class Fn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c, self.d = (torch.nn.Linear(784, 32), torch.nn.Linear(32, 32),
                                          torch.nn.Linear(32, 32), torch.nn.Linear(32, 32))
        self.o = torch.nn.Linear(32, 10)
    def forward(self, x):
        x = F.leaky_relu(self.a(x), 0.2)
        x = torch.tanh(self.b(x))
        x = self.c(x).relu()
        x = F.elu(self.d(x))
        return self.o(x)
model = Fn()""", 4, ["leaky_relu", "tanh", "relu", "elu"]),
    Zoo("handwritten_matmul", HAND_PARAMS + """\
def model(x):
    h = torch.relu(x @ W1 + b1)
    h = torch.sigmoid(h @ W2 + b2)
    return h @ W3 + b3""", 2, ["relu", "sigmoid"], params="sum(p.numel() for p in params)"),
    Zoo("cnn", """\
class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1, groups=2), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
            torch.nn.Conv2d(16, 16, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2))
        self.fc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                      torch.nn.Dropout(0.25), torch.nn.Linear(32, 10))
    def forward(self, x):
        return self.fc(self.features(x.view(-1, 1, 28, 28)))
model = CNN()""", 4, ["relu"] * 4, ["BatchNorm", "MaxPool 2", "AvgPool 2", "AdaptiveAvgPool", "Dropout 0.25"],
        "Conv 1→8 3×3 · BatchNorm · MaxPool 2"),
    Zoo("conv1d_rows", """\
class Rows(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(28, 16, 3, padding=1)
        self.pool = torch.nn.MaxPool1d(2)
        self.fc = torch.nn.Linear(16 * 14, 10)
    def forward(self, x):
        x = self.pool(torch.relu(self.conv(x.view(-1, 28, 28))))
        return self.fc(x.reshape(x.shape[0], -1))
model = Rows()""", 1, ["relu"], ["MaxPool 2"]),
    Zoo("maxout", """\
class Maxout(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a1, self.b1 = torch.nn.Linear(784, 32), torch.nn.Linear(784, 32)
        self.l2 = torch.nn.Linear(32, 64)  # k=2 pieces in one Linear, max over a reshape
        self.out = torch.nn.Linear(32, 10)
    def forward(self, x):
        x = torch.max(self.a1(x), self.b1(x))
        x = self.l2(x).view(-1, 32, 2).max(dim=2)[0]
        return self.out(x)
model = Maxout()""", 2, ["maxout", "maxout"], ["Maxout k=2"]),
    Zoo("concat_branches", """\
class Two(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.out = torch.nn.Linear(784, 16), torch.nn.Linear(784, 16), torch.nn.Linear(32, 10)
    def forward(self, x):
        return self.out(torch.cat([torch.relu(self.a(x)), torch.tanh(self.b(x))], dim=1))
model = Two()""", 2, ["relu", "tanh"], ["concat"]),
    Zoo("unknown_op", """\
class Odd(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.out = torch.nn.Linear(784, 32), torch.nn.Linear(32, 32), torch.nn.Linear(32, 10)
    def forward(self, x):
        x = torch.relu(self.a(x))
        x = torch.relu(self.b(torch.cumsum(x, dim=1) / 32))  # an op the grader does not replay
        return self.out(x)
model = Odd()""", 2, ["relu", "relu"], verified=False, unsupported="CumsumBackward0"),
]


#: More of what students write, each once broken in the grader: negative dims, input Dropout, Dropout2d,
#: BatchNorm(momentum=None), ``F.linear`` of a plain ``W.t()``, ``addmm``, scaling inside ``forward``.
ZOO_MORE = [
    Zoo("input_dropout", "model = torch.nn.Sequential(torch.nn.Dropout(0.2),\n" + _blocks(
        2, "torch.nn.ReLU(), torch.nn.Dropout(0.2)") + "    torch.nn.Linear(32, 10))", 2, ["relu"] * 2,
        ["Dropout 0.2"]),
    Zoo("input_batchnorm", "model = torch.nn.Sequential(torch.nn.BatchNorm1d(784),\n" + _blocks(
        2, "torch.nn.LeakyReLU()") + "    torch.nn.Linear(32, 10))", 2, ["leaky_relu"] * 2, ["BatchNorm"],
        "784→32×2→10 (LeakyReLU ×2 · input BatchNorm)"),
    Zoo("scaled_in_forward", """\
class Scaled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    def forward(self, x):
        return self.net((x - 0.5) / 0.5)  # [0, 1] -> [-1, 1] inside the model
model = Scaled()""", 1, ["relu"]),
    Zoo("dropout2d_cnn", """\
class Drop2d(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.drop = torch.nn.Dropout2d(0.2)
        self.fc = torch.nn.Linear(8 * 14 * 14, 10)
    def forward(self, x):
        x = torch.nn.functional.max_pool2d(self.drop(torch.relu(self.conv(x.view(-1, 1, 28, 28)))), 2)
        return self.fc(x.flatten(1))
model = Drop2d()""", 1, ["relu"], ["Dropout2d 0.2", "MaxPool 2"]),
    Zoo("bn_momentum_none", "model = torch.nn.Sequential(\n" + _blocks(
        2, "torch.nn.BatchNorm1d(32, momentum=None), torch.nn.ReLU()") + "    torch.nn.Linear(32, 10))", 2,
        ["relu"] * 2, ["BatchNorm"], proof="not_replay_verified"),
    Zoo("maxout_negative_dims", """\
class MaxoutNeg(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(784, 96)  # k=3 pieces in one Linear, max over the last dim
        self.pieces = torch.nn.ModuleList([torch.nn.Linear(32, 16) for _ in range(3)])
        self.out = torch.nn.Linear(16, 10)
    def forward(self, x):
        x = self.l1(x).view(-1, 32, 3).max(-1)[0]
        x = torch.stack([p(x) for p in self.pieces], dim=-1).max(dim=-1).values
        return self.out(x)
model = MaxoutNeg()""", 2, ["maxout", "maxout"], ["Maxout k=3"], "784→32→16→10 (Maxout ×2 · Maxout k=3)"),
    Zoo("gap_concat_log_softmax", """\
class GapCat(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.gap, self.pool = torch.nn.AdaptiveAvgPool2d(1), torch.nn.MaxPool2d(4)
        self.out = torch.nn.Linear(8 + 8 * 7 * 7, 10)
    def forward(self, x):
        h = torch.relu(self.conv(x.view(-1, 1, 28, 28)))
        z = torch.cat([torch.flatten(self.gap(h), 1), self.pool(h).flatten(1)], dim=-1)
        return torch.log_softmax(self.out(z), dim=-1)
model = GapCat()""", 1, ["relu"], ["GlobalAvgPool", "concat"]),
    Zoo("functional_linear_of_transposed_tensors", HAND_PARAMS + """\
import torch.nn.functional as F
def model(x):
    h = torch.relu(F.linear(x, W1.t(), b1))
    h = h.matmul(W2).add(b2).tanh()
    return F.linear(h, W3.t(), b3)""", 2, ["relu", "tanh"], params="sum(p.numel() for p in params)"),
    Zoo("log_of_softmax", """\
class LogSoftmaxByHand(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10),
                                       torch.nn.Softmax(dim=1))
    def forward(self, x):
        return torch.log(self.net(x))  # log-probabilities, the slide's NLL way
model = LogSoftmaxByHand()""", 1, ["relu"], summary="784→32→10 (ReLU ×1, then Softmax+log)"),
    Zoo("alpha_dropout_selu", "model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.SELU(), "
        "torch.nn.AlphaDropout(0.1),\n    torch.nn.Linear(32, 10))", 1, ["selu"], verified=False,
        unsupported="AlphaDropout (its training noise is not in the graph)"),
    Zoo("addmm_module", """\
class Addmm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.W1 = torch.nn.Parameter(torch.randn(784, 32) * 0.05)
        self.b1 = torch.nn.Parameter(torch.zeros(32))
        self.out = torch.nn.Linear(32, 10)
    def forward(self, x):
        return self.out(torch.relu(torch.addmm(self.b1, x, self.W1)))
model = Addmm()""", 1, ["relu"]),
]
